// create: a new story. Template cards, the idea (typed, or spoken through the browser's speech
// recognition where it exists), an optional drawing with a preview, and the narrator's voice.
// While the request runs, the page listens to the account's event stream and shows the story
// being written; then it moves to the story page, which carries on with the job.

import { api, fieldErrors, openEvents, rememberJob, voices } from './api.js';
import { announce, field, h, icon, progressBar, setBusy, TEMPLATES, toast } from './ui.js';

const MAX_IMAGE = 10 * 1024 * 1024;

function speechRecognitionCtor() {
  return window.SpeechRecognition || window.webkitSpeechRecognition || null;
}

function micButton(textarea) {
  const Ctor = speechRecognitionCtor();
  const btn = h('button', { type: 'button', class: 'btn btn-secondary mic', 'aria-pressed': 'false', hidden: !Ctor },
    icon('mic'), 'Say it');
  if (!Ctor) return btn;
  let rec = null;
  let base = '';
  const stop = () => {
    if (rec) rec.stop();
  };
  btn.addEventListener('click', () => {
    if (rec) {
      stop();
      return;
    }
    try {
      rec = new Ctor();
    } catch {
      btn.hidden = true;
      return;
    }
    rec.lang = document.documentElement.lang || 'en-US';
    rec.interimResults = true;
    rec.continuous = true;
    base = textarea.value ? textarea.value.replace(/\s*$/, ' ') : '';
    rec.onresult = (ev) => {
      let text = '';
      for (let i = 0; i < ev.results.length; i++) text += ev.results[i][0].transcript;
      textarea.value = base + text;
      textarea.dispatchEvent(new Event('input'));
    };
    rec.onerror = (ev) => {
      if (ev.error === 'not-allowed' || ev.error === 'service-not-allowed') toast('The microphone is not allowed in this browser.', 'error');
    };
    rec.onend = () => {
      rec = null;
      btn.setAttribute('aria-pressed', 'false');
      btn.classList.remove('listening');
      btn.lastChild.textContent = 'Say it';
      announce('Stopped listening');
    };
    rec.start();
    btn.setAttribute('aria-pressed', 'true');
    btn.classList.add('listening');
    btn.lastChild.textContent = 'Stop listening';
    announce('Listening. Tell me your story idea.');
  });
  btn.stop = stop;
  return btn;
}

export async function render(ctx) {
  const title = h('input', { class: 'input', name: 'title', required: true, maxlength: '200', placeholder: 'The brave little cloud' });
  const titleF = field('Story title', title);
  const prompt = h('textarea', { class: 'input', name: 'prompt', rows: '5', required: true, minlength: '10',
    placeholder: 'A little cloud who is afraid of thunder meets a friendly lighthouse…' });
  const mic = micButton(prompt);
  ctx.onCleanup(() => mic.stop && mic.stop());
  const promptF = field('Your story idea', prompt, 'Who is in the story, and what happens? At least 10 characters.');
  promptF.querySelector('label').after(mic);

  const tplGroup = h('fieldset', { class: 'template-picker' }, h('legend', {}, 'What kind of story?'),
    h('div', { class: 'template-grid' }, TEMPLATES.map((t, i) => h('label', { class: 'template-card tpl-' + t.id },
      h('input', { type: 'radio', name: 'template', value: t.id, checked: i === 0 }),
      icon(t.icon, 'icon-xl'), h('span', { class: 'template-name' }, t.label), h('span', { class: 'template-hint' }, t.hint)))));

  const image = h('input', { type: 'file', name: 'image', accept: 'image/png,image/jpeg,image/gif,image/webp', class: 'input-file' });
  const preview = h('div', { class: 'image-preview', hidden: true });
  const imageF = field('A drawing or photo (optional)', image, 'Nova looks at the picture and puts it in the story. Up to 10 MB.');
  imageF.append(preview);
  let previewUrl = null;
  ctx.onCleanup(() => previewUrl && URL.revokeObjectURL(previewUrl));
  image.addEventListener('change', () => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    const file = image.files && image.files[0];
    imageF.setError('');
    if (!file) {
      preview.hidden = true;
      return;
    }
    if (!file.type.startsWith('image/')) {
      imageF.setError('That file is not a picture.');
      image.value = '';
      preview.hidden = true;
      return;
    }
    if (file.size > MAX_IMAGE) {
      imageF.setError('That picture is too big (more than 10 MB).');
      image.value = '';
      preview.hidden = true;
      return;
    }
    previewUrl = URL.createObjectURL(file);
    const remove = h('button', { type: 'button', class: 'btn btn-ghost btn-small' }, icon('x'), 'Remove picture');
    remove.addEventListener('click', () => {
      image.value = '';
      image.dispatchEvent(new Event('change'));
      image.focus();
    });
    preview.replaceChildren(h('img', { src: previewUrl, alt: 'Preview of ' + file.name }), remove);
    preview.hidden = false;
  });

  const voice = h('select', { class: 'input', name: 'voice_id' }, h('option', { value: '' }, 'Loading voices…'));
  const voiceF = field('Narrator voice', voice);
  voices().then((list) => {
    voice.replaceChildren(...list.map((v) => h('option', { value: v.id }, v.name + (v.gender ? ` (${v.gender.toLowerCase()})` : ''))));
  });

  const status = h('div', { class: 'form-status', role: 'alert' });
  const submit = h('button', { class: 'btn btn-primary btn-big', type: 'submit' }, icon('wand'), 'Make my story');
  const live = h('div', { class: 'card live-panel', hidden: true });
  const form = h('form', { class: 'form card', novalidate: true }, titleF, tplGroup, promptF, imageF, voiceF, status, submit);

  ctx.main.append(h('section', { class: 'page narrow' },
    h('h1', {}, 'Make a new story'),
    h('p', { class: 'lead' }, 'Pick a kind of story, tell Nova your idea, and listen to it come alive.'),
    live, form));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.textContent = '';
    const t = title.value.trim();
    const p = prompt.value.trim();
    titleF.setError(t ? '' : 'Give your story a title.');
    promptF.setError(p.length >= 10 ? '' : 'Tell Nova a little more (at least 10 characters).');
    if (!t || p.length < 10) {
      (t ? prompt : title).focus();
      return;
    }
    const fd = new FormData();
    fd.append('title', t);
    fd.append('prompt', p);
    fd.append('template', form.querySelector('input[name=template]:checked')?.value || 'adventure');
    if (voice.value) fd.append('voice_id', voice.value);
    if (image.files && image.files[0]) fd.append('image', image.files[0]);
    if (mic.stop) mic.stop();

    // Watch the account's events while the request runs, in case the server writes the story
    // before it answers: the first story that starts after this moment is ours.
    const bar = progressBar('Writing your story');
    const text = h('div', { class: 'story-text live', 'aria-live': 'off' });
    live.replaceChildren(h('h2', {}, 'Nova is writing “' + t + '”'), bar.el, text);
    live.hidden = false;
    let storyId = null;
    const stream = openEvents('/api/events/', (type, d) => {
      if (!d || (storyId && d.story_id && d.story_id !== storyId)) return;
      if (!storyId && d.story_id && (type === 'job.queued' || type === 'story.delta' || type === 'job.progress')) storyId = d.story_id;
      if (type === 'job.progress') bar.set(d.percent, d.step);
      if (type === 'story.delta' && d.text) {
        // A delta at offset 0 after others: the model started over, so the text does too.
        if (d.offset === 0) text.textContent = '';
        text.textContent += d.text;
      }
    });
    ctx.onCleanup(() => stream.close());
    setBusy(submit, true);
    try {
      // respond-async: the server answers as soon as the job is queued (202), so the story page
      // can show the text as it is written instead of this request waiting for the whole story.
      const res = await api('/stories/', { method: 'POST', form: fd, timeoutMs: 180000, headers: { Prefer: 'respond-async' } });
      const story = res && (res.story || res);
      if (!story || !story.id) throw new Error('The story was made but the server did not say where it is.');
      rememberJob(story.id, res.job || story.job);
      stream.close();
      toast('Your story is on its way!', 'success');
      ctx.navigate('/stories/' + encodeURIComponent(story.id));
    } catch (err) {
      stream.close();
      live.hidden = true;
      const fe = fieldErrors(err);
      titleF.setError(fe.title || '');
      promptF.setError(fe.prompt || '');
      imageF.setError(fe.image || '');
      status.textContent = err.message;
      setBusy(submit, false);
    }
  });
}
