// story: one story. The text appears live while Nova writes it (story.delta events), every
// running task has its own progress bar (job.progress), the narration plays with the spoken
// word highlighted, and the story can be changed, edited, restored from an earlier version and
// illustrated scene by scene.

import { api, auth, openEvents, pollJob, rows, takeJobs, TERMINAL_STATES, voices } from './api.js';
import { createGallery } from './scenes.js';
import { createPlayer, loadMarks, recentSessions, renderReadAlong, SessionRecorder, sessionPositionMs } from './player.js';
import { deleteStory, publishSwitch } from './stories.js';
import {
  announce, append, clear, confirmDialog, errorBox, field, fmtClock, fmtDateTime, h, icon, loading, progressBar,
  setBusy, statusBadge, TEMPLATES, templateBadge, toast,
} from './ui.js';

const TERMINAL = TERMINAL_STATES;
// Long tasks answer as soon as their job is queued; the page follows the job's events.
const ASYNC = { Prefer: 'respond-async' };

// A job's error for people: the server's sentence, or a kind word when it sent a code.
function friendlyJobError(err) {
  if (typeof err === 'string' && /\s/.test(err.trim())) return err;
  return 'Something went wrong. Please try again.';
}

// Comprehension questions: [{question, answer}] or plain strings; anything else is skipped.
export function questionList(raw) {
  if (!Array.isArray(raw)) return [];
  const out = [];
  for (const q of raw) {
    if (typeof q === 'string' && q.trim()) out.push({ question: q.trim(), answer: '' });
    else if (q && typeof q === 'object' && typeof q.question === 'string' && q.question.trim())
      out.push({ question: q.question.trim(), answer: typeof q.answer === 'string' ? q.answer.trim() : '' });
  }
  return out;
}

// For the story's owner: a gentle word when the safety screen changed their idea. Nothing when
// the screen let it through ("allowed") or the server says nothing about it.
function safetyNote(story) {
  const sf = story && story.safety;
  if (!sf || typeof sf !== 'object') return null;
  const action = String(sf.action || '').toLowerCase();
  if (!action || action === 'allowed' || action === 'allow') return null;
  const me = auth.user;
  if (me && story.user !== undefined && story.user !== null && String(story.user) !== String(me.id)) return null;
  const words = action === 'fallback' || action === 'blocked' || action === 'replaced'
    ? 'We changed this story idea to keep it kind and cosy for children, so Nova told a different gentle story.'
    : 'We gently changed a few words in this idea to keep the story friendly for children.';
  return h('div', { class: 'notice safety-note', role: 'note' }, icon('star'), h('p', {}, words));
}

// Why an earlier version was kept (the server's revision reason).
const REVISION_REASONS = {
  edit: 'The words before an edit',
  regenerate: 'The story before Nova rewrote it',
  restore: 'The words before an earlier version came back',
};

function jobLabel(kind) {
  const k = String(kind || '').toLowerCase();
  if (/audio|narrat|speech|voice|tts/.test(k)) return 'Recording the narration';
  if (/scene|image|illustr|picture/.test(k)) return 'Painting the pictures';
  if (/regen/.test(k)) return 'Rewriting the story';
  if (/create|story|text|write/.test(k)) return 'Writing the story';
  return 'Working on it';
}

// The server's step names, said for children and parents.
const STEP_WORDS = {
  starting: 'Getting ready…',
  'describing the picture': 'Looking at your picture…',
  writing: 'Writing the words…',
  'saving text': 'Saving the words…',
  narrating: 'Recording the narration…',
  'scenes queued': 'Planning the pictures…',
  drawing: 'Painting…',
  'saving the picture': 'Framing the picture…',
  done: 'Done!',
};
function stepWords(step) {
  if (!step) return null;
  return STEP_WORDS[step] || step.charAt(0).toUpperCase() + step.slice(1) + '…';
}

// Kinds of job whose text appears live on the page.
const writesText = (kind) => /create|story|regen|text|write/.test(String(kind || ''));

// A child job of a parent (one scene of "Make pictures"): its card in the gallery shows it.
const isChildJob = (kind, parent) => !!parent || String(kind || '') === 'scene';

export async function render(ctx) {
  const id = ctx.params[0];
  const enc = encodeURIComponent(id);
  let story = null;
  let eventsLive = false;
  let eventsDown = false;
  let liveMode = false;
  let liveNode = null;
  let marksUrl = null;
  let marks = [];
  let readAlong = null;
  let statusPoll = null;
  const jobs = new Map();

  ctx.main.append(loading('Opening the story…'));
  try {
    story = await api('/stories/' + enc + '/');
  } catch (e) {
    ctx.main.replaceChildren(h('section', { class: 'page narrow' }, h('h1', {}, 'Story not found'),
      errorBox(e, () => ctx.navigate('/stories/' + id)), h('a', { href: '#/stories', class: 'btn btn-ghost' }, icon('back'), 'All stories')));
    return;
  }
  if (!ctx.isCurrent()) return;
  ctx.main.replaceChildren();

  // ---- layout ---------------------------------------------------------------------------
  const titleEl = h('h1', { class: 'story-title' });
  const badges = h('p', { class: 'row wrap gap-s' });
  const delBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-danger-text' }, icon('trash'), 'Delete');
  const headActions = h('div', { class: 'row wrap gap-s' });
  const jobsEl = h('div', { class: 'jobs', 'aria-label': 'Tasks in progress' });
  const streamNote = h('p', { class: 'muted small collapse-empty', 'aria-live': 'polite' });
  const imageBox = h('div', { class: 'story-image' });
  const textEl = h('div', { class: 'story-text', id: 'story-text' });
  const questionsEl = h('section', { class: 'card questions', hidden: true, 'aria-labelledby': 'q-title' });
  const failNote = h('div', { class: 'collapse-empty' });

  const player = createPlayer({
    title: 'Narration',
    onTime: (ms) => readAlong && readAlong.highlight(ms),
    onPlay: () => recorder.playing(),
    onPause: () => recorder.paused(),
    onEnded: () => {
      recorder.end(true);
      if (readAlong) readAlong.clear();
      showQuestions();
    },
    onError: () => toast('The narration could not be played. Try recording it again.', 'error'),
  });
  player.el.hidden = true; // until the story has narration
  const recorder = new SessionRecorder(id, () => player.audio.currentTime * 1000);
  const resumeBtn = h('button', { type: 'button', class: 'btn btn-secondary', hidden: true }, icon('clock'), 'Continue');
  const voiceSel = h('select', { class: 'input', id: 'voice-select' });
  const audioBtn = h('button', { type: 'button', class: 'btn btn-secondary' }, icon('mic'), 'Record narration');
  const noAudio = h('p', { class: 'muted' }, 'No narration yet.');
  const listenCard = h('section', { class: 'card listen', 'aria-labelledby': 'listen-title' },
    h('h2', { id: 'listen-title' }, 'Listen'), noAudio, player.el, resumeBtn,
    h('div', { class: 'row wrap gap-s voice-row' }, h('label', { for: 'voice-select' }, 'Voice'), voiceSel, audioBtn));

  const gallery = createGallery(id, { onJob: (job, kind) => (job ? trackJob(job, kind) : refresh()), onChanged: () => refresh() });
  const scenesBtn = h('button', { type: 'button', class: 'btn btn-primary' }, icon('image'), 'Make pictures');
  const scenesCard = h('section', { class: 'card', 'aria-labelledby': 'pics-title' },
    h('div', { class: 'page-head' }, h('h2', { id: 'pics-title' }, 'Pictures'), scenesBtn), gallery.el);

  const regenDetails = h('details', { class: 'card tool' });
  const editDetails = h('details', { class: 'card tool' });
  const revDetails = h('details', { class: 'card tool' });

  ctx.main.append(h('section', { class: 'page story-page' },
    h('p', {}, h('a', { href: '#/stories', class: 'link-back' }, icon('back', 'icon-sm'), 'All stories')),
    h('div', { class: 'page-head' }, h('div', {}, titleEl, badges), headActions),
    jobsEl, streamNote, failNote,
    h('div', { class: 'story-layout' },
      h('div', { class: 'story-main' }, listenCard, h('section', { class: 'card', 'aria-labelledby': 'words-title' },
        h('h2', { id: 'words-title' }, 'The story'), textEl), questionsEl),
      h('aside', { class: 'story-side' }, imageBox, regenDetails, editDetails, revDetails)),
    scenesCard));

  ctx.onCleanup(() => {
    recorder.leave();
    player.destroy();
    clearInterval(statusPoll);
    for (const j of jobs.values()) if (j.stopPoll) j.stopPoll();
  });
  const onHide = () => recorder.leave();
  window.addEventListener('pagehide', onHide);
  ctx.onCleanup(() => window.removeEventListener('pagehide', onHide));

  // ---- jobs and progress ---------------------------------------------------------------
  function trackJob(job, kindHint) {
    if (!job || !job.id) return;
    if (isChildJob(job.kind || kindHint, job.parent)) return;
    let j = jobs.get(job.id);
    if (!j) {
      const kind = job.kind || kindHint;
      if (TERMINAL.includes(job.state)) {
        refresh();
        return;
      }
      dropPendingBar();
      const bar = progressBar(jobLabel(kind));
      j = { bar, kind, state: 'available', stopPoll: null };
      jobs.set(job.id, j);
      jobsEl.append(bar.el);
      if (writesText(kind) && !liveMode) startLive();
    }
    applyJob(job.id, job);
    if (!eventsLive && !TERMINAL.includes(j.state) && !j.stopPoll && eventsDown)
      j.stopPoll = pollJob(job.id, (jj) => applyJob(job.id, jj));
  }

  function applyJob(jobId, jj) {
    const j = jobs.get(jobId);
    if (!j || TERMINAL.includes(j.state)) return;
    if (jj.state) j.state = jj.state;
    if (jj.state === 'succeeded' || jj.state === 'partial') {
      j.bar.done(jj.state === 'partial' ? 'Done, but some parts need another try.' : 'Done!');
      announce(jobLabel(j.kind) + ': done');
      setTimeout(() => {
        j.bar.el.remove();
        jobs.delete(jobId);
      }, 4000);
      refresh();
    } else if (jj.state === 'failed' || jj.state === 'cancelled') {
      j.bar.fail(jj.error || jj.message || (jj.state === 'cancelled' ? 'This task was stopped.' : 'Something went wrong. Please try again.'));
      announce(jobLabel(j.kind) + ': failed');
      stopLive();
      refresh();
    } else {
      const pct = typeof jj.percent === 'number' ? jj.percent : jj.progress;
      j.bar.set(typeof pct === 'number' && pct > 0 ? pct : null,
        jj.state === 'available' || jj.state === 'queued' ? 'Waiting for a free storyteller…' : stepWords(jj.step));
    }
  }

  function dropPendingBar() {
    const p = jobs.get('_pending');
    if (!p) return;
    p.bar.el.remove();
    jobs.delete('_pending');
  }

  // ---- live text -----------------------------------------------------------------------
  // The text being written. Deltas carry their UTF-8 byte offset, so a replayed or repeated
  // delta lands where it belongs instead of being appended twice.
  let liveBytes = 0;
  const enc8 = new TextEncoder();
  function startLive(initial = '') {
    liveMode = true;
    readAlong = null;
    textEl.classList.add('live');
    textEl.setAttribute('aria-busy', 'true');
    liveNode = document.createTextNode(initial);
    liveBytes = enc8.encode(initial).length;
    textEl.replaceChildren(liveNode, h('span', { class: 'caret', 'aria-hidden': 'true' }));
  }
  function applyDelta(text, offset) {
    if (!text) return;
    if (typeof offset === 'number' && offset !== liveBytes) {
      if (offset > liveBytes) {
        // A gap (events were dropped): the saved text is the best we have until the next delta.
        refresh();
        return;
      }
      const kept = new TextDecoder().decode(enc8.encode(liveNode.data).slice(0, offset));
      liveNode.data = kept;
      liveBytes = offset;
    }
    liveNode.appendData(text);
    liveBytes += enc8.encode(text).length;
  }
  function stopLive() {
    if (!liveMode) return;
    liveMode = false;
    textEl.classList.remove('live');
    textEl.removeAttribute('aria-busy');
  }

  // ---- events --------------------------------------------------------------------------
  // When the page opens while a job runs, the stream replays the story's stored events (the
  // text written so far). Events older than the first one of a job we know is running belong
  // to finished work and are skipped.
  let replayUntilJob = null;
  function onEvent(type, d) {
    if (d && d.story_id && String(d.story_id) !== String(id)) return;
    if (replayUntilJob) {
      if (!d || !replayUntilJob.has(d.job_id)) return;
      replayUntilJob = null;
    }
    switch (type) {
      case 'job.queued':
        trackJob({ id: d.job_id || d.id, kind: d.kind, state: 'available', parent: d.parent }, d.kind);
        break;
      case 'job.progress':
      case 'job.retry':
        if (!jobs.has(d.job_id)) trackJob({ id: d.job_id, kind: d.kind, state: 'running', parent: d.parent }, d.kind);
        applyJob(d.job_id, { state: 'running', percent: d.percent, step: type === 'job.retry' ? 'Trying again…' : d.step });
        break;
      case 'story.delta':
        if (!liveMode) startLive('');
        applyDelta(d.text || d.delta || '', d.offset);
        break;
      case 'image.described':
        story.image_description = d.description || d.text || story.image_description;
        paintImage();
        break;
      case 'story.ready':
        stopLive();
        announce('The story is written!');
        refresh();
        break;
      case 'audio.ready':
        if (d.audio_url) {
          story.audio_url = d.audio_url;
          story.audio_duration_ms = d.duration_ms || story.audio_duration_ms;
        }
        announce('The narration is ready. Press play to listen.');
        refresh();
        break;
      case 'scene.queued':
        gallery.queued(d.count);
        break;
      case 'scene.started':
        gallery.started(d.scene_number);
        break;
      case 'scene.ready':
        gallery.ready(d.scene_number, d.image_url);
        break;
      case 'scene.failed':
        gallery.failed(d.scene_number, d.error);
        break;
      case 'job.succeeded':
        applyJob(d.job_id || d.id, { state: d.state === 'partial' ? 'partial' : 'succeeded' });
        break;
      case 'job.failed':
        applyJob(d.job_id || d.id, { state: 'failed', error: friendlyJobError(d.error) });
        break;
      case 'job.cancelled':
        applyJob(d.job_id || d.id, { state: 'cancelled' });
        break;
      case 'reconnected':
        refresh();
        break;
    }
  }
  // Jobs already running when the page opens (the create page's job, or any the server lists).
  const running = takeJobs(id).filter((j) => j && j.id && !TERMINAL.includes(j.state));
  try {
    const listed = await api('/stories/' + enc + '/jobs/');
    for (const j of rows(listed)) if (!j.parent && !TERMINAL.includes(j.state) && !running.some((r) => r.id === j.id)) running.push(j);
  } catch {
    /* no job list: the story's status still tells whether it is being written */
  }
  if (!ctx.isCurrent()) return;
  if (running.length) replayUntilJob = new Set(running.map((j) => j.id));
  const stream = openEvents('/api/stories/' + enc + '/events/', onEvent, (state) => {
    eventsLive = state === 'live';
    eventsDown = state === 'unavailable';
    streamNote.textContent = state === 'reconnecting' ? 'Reconnecting to live updates…' : '';
    if (eventsDown) {
      // No live updates: poll every job and the story itself while something is running.
      for (const [jid, j] of jobs) if (!TERMINAL.includes(j.state) && !j.stopPoll) j.stopPoll = pollJob(jid, (jj) => applyJob(jid, jj));
      ensureStatusPoll();
    }
  }, running.length ? { since: 0 } : {});
  ctx.onCleanup(() => stream.close());

  function ensureStatusPoll() {
    if (statusPoll || !eventsDown) return;
    statusPoll = setInterval(() => {
      if (story && story.status === 'generating') refresh();
      else if (![...jobs.values()].some((j) => !TERMINAL.includes(j.state))) {
        clearInterval(statusPoll);
        statusPoll = null;
      }
    }, 3000);
  }

  // ---- painting --------------------------------------------------------------------------
  let refreshTimer = null;
  function refresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      try {
        const s = await api('/stories/' + enc + '/');
        if (!ctx.isCurrent()) return;
        story = s;
        paint();
      } catch (e) {
        if (e.status === 404) toast('This story is gone.', 'error');
      }
    }, 250);
  }
  ctx.onCleanup(() => clearTimeout(refreshTimer));

  function paintImage() {
    imageBox.replaceChildren();
    if (story.image_url) imageBox.append(h('img', { src: story.image_url, alt: 'The picture this story started from', class: 'source-img' }));
    if (story.image_description)
      imageBox.append(h('p', { class: 'muted small' }, h('strong', {}, 'What Nova sees: '), story.image_description));
    imageBox.hidden = !imageBox.firstChild;
  }

  let marksFor = null;
  async function paintText() {
    if (liveMode && story.status === 'generating') return;
    stopLive();
    const text = story.story_text || '';
    if (!text) {
      textEl.replaceChildren(h('p', { class: 'muted' }, story.status === 'generating' ? 'Nova is getting ready to write…' : 'This story has no words yet.'));
      readAlong = null;
      return;
    }
    if (story.marks_url && story.audio_url) {
      if (marksUrl !== story.marks_url || marksFor !== text) {
        marksUrl = story.marks_url;
        marks = await loadMarks(story.marks_url);
      }
    } else {
      marks = [];
      marksUrl = null;
    }
    // New words (rewritten, edited or restored): the questions of the old words go away until
    // the new narration has been heard.
    if (marksFor !== null && marksFor !== text) questionsEl.hidden = true;
    marksFor = text;
    readAlong = renderReadAlong(textEl, text, marks, story.audio_url ? (sec) => {
      player.seek(sec);
      if (player.audio.paused) player.play();
    } : null);
    textEl.classList.toggle('has-marks', readAlong.words > 0);
  }

  function showQuestions() {
    const qs = questionList(story.questions);
    if (!qs.length) return;
    questionsEl.replaceChildren(h('h2', { id: 'q-title' }, icon('star'), 'Let’s think about the story'),
      h('p', { class: 'muted' }, 'Talk about these together. Have a guess before you peek!'),
      h('ol', { class: 'question-list' }, qs.map((q, i) => {
        if (!q.answer) return h('li', {}, h('p', { class: 'question' }, q.question));
        const ansId = `q-answer-${i + 1}`;
        const ans = h('p', { class: 'answer', id: ansId, hidden: true }, q.answer);
        const btn = h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'aria-expanded': 'false', 'aria-controls': ansId }, 'Show answer');
        btn.addEventListener('click', () => {
          const open = ans.hidden;
          ans.hidden = !open;
          btn.setAttribute('aria-expanded', String(open));
          btn.textContent = open ? 'Hide answer' : 'Show answer';
        });
        return h('li', {}, h('p', { class: 'question' }, q.question), btn, ans);
      })));
    questionsEl.hidden = false;
    announce('Story finished. Here are some questions to talk about.');
    questionsEl.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  let resumeChecked = false;
  function paint() {
    titleEl.textContent = story.title || 'Untitled story';
    ctx.setTitle(story.title || 'Story');
    // append() skips empty parts (replaceChildren would print "null").
    append(clear(badges), [templateBadge(story.template), statusBadge(story.status),
      story.provider ? h('span', { class: 'badge badge-muted' }, 'by ' + story.provider) : null,
      story.user_name ? h('span', { class: 'muted small' }, 'Made by ' + story.user_name) : null]);
    headActions.replaceChildren(publishSwitch(story), delBtn);
    failNote.replaceChildren();
    if (story.status === 'failed')
      failNote.append(h('div', { class: 'notice notice-error', role: 'alert' },
        h('p', {}, 'Nova could not finish this story. You can try again with “Change the story”.')));
    const note = safetyNote(story);
    if (note) failNote.append(note);
    paintImage();
    paintText();
    if (story.audio_url) {
      player.load(story.audio_url, story.audio_duration_ms);
      player.el.hidden = false;
      noAudio.hidden = true;
      audioBtn.lastChild.textContent = 'Record again';
      if (!resumeChecked) {
        resumeChecked = true;
        recentSessions(id, 1).then(([s]) => {
          const pos = sessionPositionMs(s);
          if (s && !s.completed && pos > 3000 && ctx.isCurrent()) {
            resumeBtn.lastChild.textContent = 'Continue from ' + fmtClock(pos / 1000);
            resumeBtn.hidden = false;
            resumeBtn.onclick = () => {
              resumeBtn.hidden = true;
              player.seek(pos / 1000);
              player.play();
            };
          }
        });
      }
    } else {
      player.el.hidden = true;
      noAudio.hidden = false;
      noAudio.textContent = story.status === 'generating' ? 'The narration will be ready after the story is written.' : 'No narration yet.';
      audioBtn.lastChild.textContent = 'Record narration';
    }
    if (voiceSel.options.length && story.voice_id) voiceSel.value = story.voice_id;
    const painting = [...jobs.values()].some((j) => /scene/.test(String(j.kind)) && !TERMINAL.includes(j.state));
    gallery.setScenes(story.scenes || [], { keepBusy: painting });
    scenesBtn.disabled = !story.story_text;
    if (story.status === 'generating') ensureStatusPoll();
    else dropPendingBar();
    paintEditor();
  }

  // ---- actions --------------------------------------------------------------------------
  delBtn.addEventListener('click', async () => {
    if (await deleteStory(story)) ctx.navigate('/stories');
  });

  voices().then((list) => {
    voiceSel.replaceChildren(...list.map((v) => h('option', { value: v.id }, v.name)));
    if (story && story.voice_id) voiceSel.value = story.voice_id;
  });
  audioBtn.addEventListener('click', async () => {
    if (!story.story_text) {
      toast('Write the story first.', 'error');
      return;
    }
    setBusy(audioBtn, true);
    try {
      const res = await api('/stories/' + enc + '/generate_audio/', { method: 'POST', body: { voice_id: voiceSel.value }, timeoutMs: 180000, headers: ASYNC });
      if (res && res.job) trackJob(res.job, 'audio');
      else refresh();
      toast('Recording the narration…');
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      setBusy(audioBtn, false);
    }
  });

  scenesBtn.addEventListener('click', async () => {
    setBusy(scenesBtn, true);
    await gallery.generateAll();
    setBusy(scenesBtn, false);
  });

  // Change the story (regenerate with modifications).
  const regenPrompt = h('textarea', { class: 'input', rows: '3' });
  const regenMods = h('textarea', { class: 'input', rows: '3', placeholder: 'Make the dragon friendlier and add a song at the end.' });
  const regenTpl = h('select', { class: 'input' }, TEMPLATES.map((t) => h('option', { value: t.id }, t.label)));
  const regenBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('wand'), 'Write it again');
  const regenForm = h('form', { class: 'form' },
    field('What should change?', regenMods, 'Nova keeps your idea and changes what you ask.'),
    field('Story idea', regenPrompt), field('Kind of story', regenTpl), regenBtn);
  regenDetails.append(h('summary', {}, icon('wand'), 'Change the story'), regenForm);
  regenForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { modifications: regenMods.value.trim(), template: regenTpl.value };
    const p = regenPrompt.value.trim();
    if (p && p !== story.prompt) body.prompt = p;
    setBusy(regenBtn, true);
    try {
      const res = await api('/stories/' + enc + '/regenerate/', { method: 'POST', body, timeoutMs: 180000, headers: ASYNC });
      if (res && res.job) trackJob(res.job, 'regenerate');
      else refresh();
      regenMods.value = '';
      regenDetails.open = false;
      toast('Nova is rewriting your story…');
      if (revDetails.open) loadRevisions();
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      setBusy(regenBtn, false);
    }
  });

  // Edit the words.
  const editArea = h('textarea', { class: 'input transcript', rows: '14' });
  const editBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('check'), 'Save the words');
  const editForm = h('form', { class: 'form' }, field('Story words', editArea, 'After saving, record the narration again so the voice matches.'), editBtn);
  editDetails.append(h('summary', {}, icon('pencil'), 'Edit the words'), editForm);
  let editDirty = false;
  editArea.addEventListener('input', () => (editDirty = true));
  function paintEditor() {
    if (!editDirty) editArea.value = story.story_text || '';
    if (!regenPrompt.value) regenPrompt.value = story.prompt || '';
    if (!regenDetails.dataset.init) {
      regenTpl.value = story.template || 'adventure';
      regenDetails.dataset.init = '1';
    }
  }
  editForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    setBusy(editBtn, true);
    try {
      story = await api('/stories/' + enc + '/', { method: 'PATCH', body: { story_text: editArea.value } });
      editDirty = false;
      toast('Saved! The old words are kept in “Earlier versions”.', 'success');
      paint();
      if (revDetails.open) loadRevisions();
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      setBusy(editBtn, false);
    }
  });

  // Earlier versions (revisions) with restore.
  const revList = h('div', { class: 'rev-list' });
  revDetails.append(h('summary', {}, icon('clock'), 'Earlier versions'), revList);
  revDetails.addEventListener('toggle', () => revDetails.open && loadRevisions());
  async function loadRevisions(page = 1) {
    if (page === 1) revList.replaceChildren(loading('Looking for earlier versions…'));
    let data;
    try {
      data = await api('/stories/' + enc + '/revisions/', { query: { page, page_size: 10 } });
    } catch (e) {
      revList.replaceChildren(e.status === 404 ? h('p', { class: 'muted' }, 'Earlier versions are not available yet.') : errorBox(e, () => loadRevisions()));
      return;
    }
    const items = rows(data);
    if (page === 1) revList.replaceChildren();
    revList.querySelector('.more')?.remove();
    if (!items.length && page === 1) revList.append(h('p', { class: 'muted' }, 'No earlier versions yet. They appear when you edit or rewrite the story.'));
    for (const r of items) {
      const restore = h('button', { type: 'button', class: 'btn btn-ghost btn-small' }, icon('refresh'), 'Restore');
      restore.addEventListener('click', () => restoreRevision(r));
      const text = r.story_text || '';
      const why = REVISION_REASONS[r.reason];
      revList.append(h('div', { class: 'rev' },
        h('p', {}, h('strong', {}, fmtDateTime(r.created_at)), r.created_by_name ? ' · ' + r.created_by_name : ''),
        why ? h('p', { class: 'muted small' }, why) : null,
        h('details', {}, h('summary', {}, text.slice(0, 80) + (text.length > 80 ? '…' : '')), h('p', { class: 'rev-text' }, text)),
        restore));
    }
    if (data && data.next) {
      const more = h('button', { type: 'button', class: 'btn btn-ghost btn-small more' }, 'Show more');
      more.addEventListener('click', () => loadRevisions(page + 1));
      revList.append(more);
    }
  }
  async function restoreRevision(r) {
    if (!(await confirmDialog('Bring back this earlier version? The current words are kept as a version too.', { ok: 'Restore' }))) return;
    try {
      try {
        const res = await api(`/stories/${enc}/revisions/${encodeURIComponent(r.id)}/restore/`, { method: 'POST', body: {} });
        if (res && res.job) trackJob(res.job, 'story');
      } catch (e) {
        if (e.status !== 404 && e.status !== 405) throw e;
        await api('/stories/' + enc + '/', { method: 'PATCH', body: { story_text: r.story_text } });
      }
      editDirty = false;
      toast('The earlier version is back.', 'success');
      refresh();
      loadRevisions();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  // ---- start ------------------------------------------------------------------------------
  paint();
  for (const job of running) trackJob(job, job.kind);
  if (story.job) trackJob(story.job, story.job.kind);
  if (story.status === 'generating' && !jobs.size) {
    const bar = progressBar('Writing the story');
    jobs.set('_pending', { bar, kind: 'story', state: 'running' });
    jobsEl.append(bar.el);
  }
}
