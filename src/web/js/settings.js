// settings: the story settings of the reference API (age, genre, language level, moral theme,
// switches, word count and number of parts), checked in the browser with the server's limits
// and saved with PATCH /api/story-settings/.

import { api, fieldErrors } from './api.js';
import { errorBox, field, h, icon, setBusy, toast } from './ui.js';

const SELECTS = [
  ['age_range', 'Age of the listener', [['3-5', '3 to 5 years'], ['6-8', '6 to 8 years'], ['9-12', '9 to 12 years']], 'Sets how long and how simple the stories are.'],
  ['genre_preference', 'Favourite kind of story', [['mixed', 'A mix'], ['adventure', 'Adventure'], ['fantasy', 'Fantasy'], ['sci-fi', 'Science fiction'], ['mystery', 'Mystery'], ['educational', 'Educational']]],
  ['language_level', 'Words', [['simple', 'Simple'], ['moderate', 'In between'], ['advanced', 'Rich']]],
  ['moral_theme', 'What the story teaches', [['mixed', 'A mix'], ['friendship', 'Friendship'], ['kindness', 'Kindness'], ['bravery', 'Bravery'], ['curiosity', 'Curiosity'], ['teamwork', 'Teamwork'], ['growth', 'Growing up'], ['empathy', 'Empathy']]],
];
const NUMBERS = [
  ['max_word_count', 'Longest story (words)', 100, 2000, 50, 'Between 100 and 2000 words.'],
  ['story_parts', 'Parts in a story', 3, 8, 1, 'Between 3 and 8 parts. Each part gets its own picture.'],
];
const SWITCHES = [
  ['include_diversity', 'Characters from many backgrounds'],
  ['include_sensory_details', 'Sounds, smells and colours'],
  ['include_interactive_questions', 'Questions to talk about afterwards'],
  ['include_sound_effects', 'Fun sound words (whoosh! splash!)'],
  ['explain_complex_words', 'Explain hard words'],
];

export async function render(ctx) {
  const page = h('section', { class: 'page narrow' }, h('h1', {}, 'Story settings'),
    h('p', { class: 'lead' }, 'Tell Nova about your listener. Every new story follows these settings.'));
  ctx.main.append(page);
  let data;
  try {
    data = await api('/story-settings/');
  } catch (e) {
    page.append(errorBox(e, () => ctx.navigate('/settings')));
    return;
  }
  const fields = {};
  const controls = {};
  const form = h('form', { class: 'form card', novalidate: true });
  const selGroup = h('div', { class: 'grid-2' });
  for (const [name, label, opts, hint] of SELECTS) {
    const sel = h('select', { class: 'input', name, id: 'set-' + name }, opts.map(([v, l]) => h('option', { value: v }, l)));
    sel.value = data[name] ?? opts[0][0];
    controls[name] = sel;
    fields[name] = field(label, sel, hint);
    selGroup.append(fields[name]);
  }
  const numGroup = h('div', { class: 'grid-2' });
  for (const [name, label, min, max, step, hint] of NUMBERS) {
    const inp = h('input', { type: 'number', class: 'input', name, id: 'set-' + name, min: String(min), max: String(max), step: String(step), inputmode: 'numeric' });
    inp.value = data[name] ?? '';
    controls[name] = inp;
    fields[name] = field(label, inp, hint);
    inp.addEventListener('input', () => fields[name].setError(check(name, inp.value, min, max)));
    numGroup.append(fields[name]);
  }
  const swGroup = h('fieldset', { class: 'switches' }, h('legend', {}, 'In every story'));
  for (const [name, label] of SWITCHES) {
    const cb = h('input', { type: 'checkbox', name, id: 'set-' + name, checked: !!data[name] });
    controls[name] = cb;
    swGroup.append(h('div', { class: 'field check' }, h('label', { for: 'set-' + name, class: 'check-label' }, cb, ' ', label)));
  }
  const status = h('p', { class: 'form-status', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-big' }, icon('check'), 'Save settings');
  form.append(selGroup, numGroup, swGroup, status, submit);
  page.append(form);

  function check(name, raw, min, max) {
    const v = Number(raw);
    if (raw === '' || !Number.isInteger(v)) return 'Please type a whole number.';
    if (v < min || v > max) return `Choose a number from ${min} to ${max}.`;
    return '';
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.textContent = '';
    status.classList.remove('ok');
    let bad = null;
    for (const [name, , min, max] of NUMBERS) {
      const msg = check(name, controls[name].value, min, max);
      fields[name].setError(msg);
      if (msg && !bad) bad = controls[name];
    }
    if (bad) {
      bad.focus();
      status.textContent = 'Please fix the highlighted number.';
      return;
    }
    const body = {};
    for (const [name] of SELECTS) body[name] = controls[name].value;
    for (const [name] of NUMBERS) body[name] = Number(controls[name].value);
    for (const [name] of SWITCHES) body[name] = controls[name].checked;
    setBusy(submit, true);
    try {
      await api('/story-settings/', { method: 'PATCH', body });
      for (const f of Object.values(fields)) f.setError('');
      status.textContent = 'Saved! New stories will use these settings.';
      status.classList.add('ok');
      toast('Settings saved.', 'success');
    } catch (err) {
      const fe = fieldErrors(err);
      for (const [name, f] of Object.entries(fields)) f.setError(fe[name] || '');
      status.textContent = Object.keys(fe).length ? 'Please check the highlighted settings.' : err.message;
    } finally {
      setBusy(submit, false);
    }
  });
}
