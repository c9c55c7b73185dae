// player: the narration player (play/pause, seek slider, skip, speed), read-along highlighting
// of the word being spoken (from marks.json), and listening sessions saved with the position
// every ~10 s, on pause and at the end, so listeners can resume later.

import { api, rows } from './api.js';
import { cleanSlice, fmtClock, h, icon, textBlocks } from './ui.js';

// ---- read-along -------------------------------------------------------------------------

// Maps UTF-8 byte offsets to UTF-16 string indexes (marks count bytes, JavaScript counts
// UTF-16 units). Returns an array indexed by byte offset; mid-character bytes are undefined.
function byteToIndex(text) {
  const map = [];
  let b = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i);
    map[b] = i;
    b += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  map[b] = text.length;
  return map;
}

// Places each word mark on the text: by its byte offsets when they fit, else by character
// offsets, else by finding its word a little further on (narration text may differ slightly,
// e.g. when headings were not read aloud). Returns [{time, s, e}] in time order.
export function alignMarks(text, marks) {
  const words = (marks || []).filter((m) => m && (m.type === 'word' || !m.type) && typeof m.time === 'number');
  words.sort((a, b) => a.time - b.time);
  const map = byteToIndex(text);
  const out = [];
  let cursor = 0;
  for (const m of words) {
    const value = String(m.value || '');
    let s = map[m.start];
    let e = map[m.end];
    let ok = s !== undefined && e !== undefined && e > s && (!value || text.slice(s, e) === value);
    if (!ok && Number.isInteger(m.start) && Number.isInteger(m.end) && m.end > m.start && text.slice(m.start, m.end) === value) {
      s = m.start;
      e = m.end;
      ok = true;
    }
    if (!ok && value) {
      const at = text.indexOf(value, cursor);
      if (at >= 0 && at - cursor < 400) {
        s = at;
        e = at + value.length;
        ok = true;
      }
    }
    if (!ok || s < cursor - 200) continue;
    out.push({ time: m.time, s, e });
    cursor = Math.max(cursor, e);
  }
  return out;
}

// Renders text into container as paragraphs and headings; with marks, each spoken word is a
// <span class="word">. Returns {highlight(ms), words, clear()}.
export function renderReadAlong(container, text, marks, onWordClick) {
  container.replaceChildren();
  const placed = alignMarks(text || '', marks);
  const byStart = placed.slice().sort((a, b) => a.s - b.s);
  let k = 0;
  const spans = [];
  for (const b of textBlocks(text || '')) {
    const el = document.createElement(b.kind === 'h' ? 'h3' : 'p');
    let pos = b.start;
    let first = true;
    while (k < byStart.length && byStart[k].s < b.start) k++;
    while (k < byStart.length && byStart[k].e <= b.end) {
      const w = byStart[k++];
      if (w.s < pos) continue;
      if (w.s > pos) el.append(cleanSlice(text.slice(pos, w.s), first));
      first = false;
      const span = document.createElement('span');
      span.className = 'word';
      span.textContent = text.slice(w.s, w.e);
      span.dataset.time = String(w.time);
      w.el = span;
      spans.push(w);
      el.append(span);
      pos = w.e;
    }
    if (pos < b.end) el.append(cleanSlice(text.slice(pos, b.end), first));
    container.append(el);
  }
  const timeline = spans.slice().sort((a, b) => a.time - b.time);
  let current = null;
  if (onWordClick) {
    container.onclick = (e) => {
      const t = e.target.closest && e.target.closest('.word');
      if (t) onWordClick(Number(t.dataset.time) / 1000);
    };
  }
  return {
    words: timeline.length,
    highlight(ms) {
      // The last word that started at or before ms.
      let lo = 0;
      let hi = timeline.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (timeline[mid].time <= ms) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      const next = found >= 0 ? timeline[found].el : null;
      if (next === current) return;
      if (current) current.classList.remove('is-current');
      current = next;
      if (current) {
        current.classList.add('is-current');
        const r = current.getBoundingClientRect();
        if (r.top < 80 || r.bottom > window.innerHeight - 40) current.scrollIntoView({ block: 'center', behavior: 'smooth' });
      }
    },
    clear() {
      if (current) current.classList.remove('is-current');
      current = null;
    },
  };
}

// Fetches marks.json (a signed URL: no token needed). Returns [] when missing.
export async function loadMarks(url) {
  if (!url) return [];
  try {
    const res = await fetch(url, { credentials: 'same-origin' });
    if (!res.ok) return [];
    const data = await res.json();
    return Array.isArray(data) ? data : Array.isArray(data.marks) ? data.marks : [];
  } catch {
    return [];
  }
}

// ---- audio controls ---------------------------------------------------------------------

// createPlayer({title, onTime(ms), onPlay, onPause, onEnded}) -> {el, audio, load, play, pause, seek}
export function createPlayer(opts = {}) {
  const audio = h('audio', { preload: 'metadata' });
  const playBtn = h('button', { type: 'button', class: 'btn btn-play', 'aria-label': 'Play' }, icon('play', 'icon-lg'));
  const back = h('button', { type: 'button', class: 'btn btn-ghost btn-round', 'aria-label': 'Back 10 seconds' }, icon('back'));
  const fwd = h('button', { type: 'button', class: 'btn btn-ghost btn-round', 'aria-label': 'Forward 10 seconds' }, icon('forward'));
  const seek = h('input', { type: 'range', class: 'seek', min: '0', max: '0', step: '0.1', value: '0', 'aria-label': 'Position in the story' });
  const time = h('span', { class: 'time', 'aria-hidden': 'true' }, '0:00 / 0:00');
  const speed = h('select', { class: 'input input-small', 'aria-label': 'Reading speed' },
    [['0.75', 'Slow'], ['1', 'Normal'], ['1.25', 'Fast']].map(([v, l]) => h('option', { value: v, selected: v === '1' }, l)));
  const el = h('div', { class: 'player', role: 'group', 'aria-label': opts.title || 'Narration' },
    audio, playBtn, back, h('div', { class: 'seek-wrap' }, seek, time), fwd, speed);
  let dragging = false;
  let raf = 0;
  let knownDuration = 0;

  const duration = () => (isFinite(audio.duration) && audio.duration > 0 ? audio.duration : knownDuration);
  const paint = () => {
    const d = duration();
    if (!dragging) seek.value = String(audio.currentTime);
    seek.max = String(d || 0);
    time.textContent = `${fmtClock(audio.currentTime)} / ${fmtClock(d)}`;
    seek.setAttribute('aria-valuetext', `${fmtClock(audio.currentTime)} of ${fmtClock(d)}`);
    // At the end no word is being spoken (a last animation frame must not light one again).
    if (opts.onTime && !audio.ended) opts.onTime(audio.currentTime * 1000);
  };
  const loop = () => {
    paint();
    raf = audio.paused ? 0 : requestAnimationFrame(loop);
  };
  const setPlaying = (on) => {
    playBtn.replaceChildren(icon(on ? 'pause' : 'play', 'icon-lg'));
    playBtn.setAttribute('aria-label', on ? 'Pause' : 'Play');
    el.classList.toggle('is-playing', on);
  };
  audio.addEventListener('play', () => {
    setPlaying(true);
    if (!raf) raf = requestAnimationFrame(loop);
    if (opts.onPlay) opts.onPlay(audio.currentTime * 1000);
  });
  audio.addEventListener('pause', () => {
    setPlaying(false);
    paint();
    if (!audio.ended && opts.onPause) opts.onPause(audio.currentTime * 1000);
  });
  audio.addEventListener('ended', () => {
    setPlaying(false);
    paint();
    if (opts.onEnded) opts.onEnded(audio.currentTime * 1000);
  });
  audio.addEventListener('timeupdate', paint);
  audio.addEventListener('loadedmetadata', paint);
  audio.addEventListener('durationchange', paint);
  audio.addEventListener('error', () => {
    if (audio.getAttribute('src') && opts.onError) opts.onError();
  });
  playBtn.addEventListener('click', () => (audio.paused ? api_.play() : audio.pause()));
  back.addEventListener('click', () => api_.seek(audio.currentTime - 10));
  fwd.addEventListener('click', () => api_.seek(audio.currentTime + 10));
  seek.addEventListener('input', () => {
    dragging = true;
    time.textContent = `${fmtClock(Number(seek.value))} / ${fmtClock(duration())}`;
  });
  seek.addEventListener('change', () => {
    dragging = false;
    api_.seek(Number(seek.value));
  });
  speed.addEventListener('change', () => (audio.playbackRate = Number(speed.value)));

  const api_ = {
    el,
    audio,
    load(url, durationMs) {
      knownDuration = durationMs ? durationMs / 1000 : 0;
      if (audio.getAttribute('src') !== url) {
        audio.src = url;
        audio.load();
      }
      audio.playbackRate = Number(speed.value);
      paint();
    },
    async play() {
      try {
        await audio.play();
      } catch (e) {
        if (e && e.name !== 'AbortError' && opts.onError) opts.onError(e);
      }
    },
    pause() {
      audio.pause();
    },
    seek(sec) {
      const d = duration();
      audio.currentTime = Math.max(0, d ? Math.min(sec, d - 0.05) : sec);
      paint();
    },
    destroy() {
      cancelAnimationFrame(raf);
      audio.pause();
      audio.removeAttribute('src');
      audio.load();
    },
  };
  return api_;
}

// ---- listening sessions ----------------------------------------------------------------

// One listening session for one story: created on the first play, its position saved every
// ~10 s while playing and on pause, ended (completed) when the narration finishes. Failures
// are quiet: listening must never stop because a log could not be written.
export class SessionRecorder {
  constructor(storyId, getPosMs) {
    this.storyId = storyId;
    this.getPosMs = getPosMs;
    this.id = null;
    this.starting = null;
    this.timer = null;
  }

  async start() {
    if (this.id || this.starting) return this.starting;
    this.starting = api('/story-sessions/', { method: 'POST', body: { story: this.storyId, position_ms: Math.round(this.getPosMs()) } })
      .then((s) => {
        this.id = s && s.id;
      })
      .catch(() => {})
      .finally(() => {
        this.starting = null;
      });
    return this.starting;
  }

  playing() {
    this.start();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.save(), 10000);
  }

  paused() {
    clearInterval(this.timer);
    this.timer = null;
    this.save();
  }

  async save(keepalive = false) {
    if (this.starting) await this.starting;
    if (!this.id) return;
    api('/story-sessions/' + encodeURIComponent(this.id) + '/', {
      method: 'PATCH', body: { position_ms: Math.round(this.getPosMs()) }, keepalive,
    }).catch(() => {});
  }

  async end(completed, keepalive = false) {
    clearInterval(this.timer);
    this.timer = null;
    if (this.starting) await this.starting;
    if (!this.id) return;
    const id = this.id;
    this.id = null;
    await api('/story-sessions/' + encodeURIComponent(id) + '/end_session/', {
      method: 'POST', body: { completed: !!completed, position_ms: Math.round(this.getPosMs()) }, keepalive,
    }).catch(() => {});
  }

  // Leaving the page: keep the position (the request outlives the page with keepalive).
  leave() {
    clearInterval(this.timer);
    if (this.id) this.save(true);
  }
}

// The newest listening session for a story (or for any story when storyId is empty).
export async function recentSessions(storyId, pageSize = 1) {
  try {
    const data = await api('/story-sessions/', { query: { story: storyId || '', page_size: pageSize, ordering: '-started_at' } });
    return rows(data);
  } catch {
    return [];
  }
}

export function sessionPositionMs(s) {
  if (!s) return 0;
  const v = Number(s.position_ms ?? s.last_position_ms ?? 0);
  return isFinite(v) && v > 0 ? v : 0;
}
