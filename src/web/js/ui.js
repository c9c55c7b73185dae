// ui: small DOM helpers shared by the pages: an element builder, icons, announcements for
// screen readers, toasts, a confirm dialog, progress bars, and formatting of dates and times.

// h('button', {class: 'btn', onclick: fn, 'aria-label': 'Play'}, 'Play') -> HTMLElement.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'html') el.innerHTML = v; // only ever given static markup (icons)
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden')
        el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Icons: our own simple line drawings on a 24x24 grid, decorative (aria-hidden).
const ICONS = {
  book: '<path d="M4 5.5C4 4.7 4.7 4 5.5 4H11v15H5.5C4.7 19 4 18.3 4 17.5z"/><path d="M20 5.5c0-.8-.7-1.5-1.5-1.5H13v15h5.5c.8 0 1.5-.7 1.5-1.5z"/>',
  compass: '<circle cx="12" cy="12" r="8.5"/><path d="M15.5 8.5l-2 5-5 2 2-5z"/>',
  castle: '<path d="M4 20V9h3v2h2V9h6v2h2V9h3v11z"/><path d="M10 20v-4a2 2 0 014 0v4"/><path d="M12 9V4l3 1.5-3 1.5"/>',
  rocket: '<path d="M12 3c3 2 4.5 5.5 4 10l-2 3h-4l-2-3c-.5-4.5 1-8 4-10z"/><circle cx="12" cy="9.5" r="1.6"/><path d="M8 13l-3 3v2l4-1M16 13l3 3v2l-4-1M10.5 19.5L12 22l1.5-2.5"/>',
  search: '<circle cx="10.5" cy="10.5" r="6"/><path d="M15 15l5 5"/>',
  school: '<path d="M2.5 9L12 4.5 21.5 9 12 13.5z"/><path d="M6.5 11v5c2.5 2 8.5 2 11 0v-5"/><path d="M21.5 9v5"/>',
  mic: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5.5 11a6.5 6.5 0 0013 0M12 17.5V21M8.5 21h7"/>',
  play: '<path d="M8 5.5v13l11-6.5z" fill="currentColor"/>',
  pause: '<rect x="6.5" y="5" width="4" height="14" rx="1" fill="currentColor"/><rect x="13.5" y="5" width="4" height="14" rx="1" fill="currentColor"/>',
  back: '<path d="M11 7L6 12l5 5"/><path d="M6 12h9a4 4 0 010 8h-2"/>',
  forward: '<path d="M13 7l5 5-5 5"/><path d="M18 12H9a4 4 0 000 8h2"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  trash: '<path d="M4.5 7h15M9.5 7V4.5h5V7M6.5 7l1 13h9l1-13"/>',
  up: '<path d="M6 14l6-6 6 6"/>',
  down: '<path d="M6 10l6 6 6-6"/>',
  grip: '<circle cx="9" cy="6" r="1.3"/><circle cx="15" cy="6" r="1.3"/><circle cx="9" cy="12" r="1.3"/><circle cx="15" cy="12" r="1.3"/><circle cx="9" cy="18" r="1.3"/><circle cx="15" cy="18" r="1.3"/>',
  image: '<rect x="3.5" y="4.5" width="17" height="15" rx="2.5"/><circle cx="9" cy="10" r="2"/><path d="M4 18l5-5 4 4 3-3 4 4"/>',
  refresh: '<path d="M19.5 12a7.5 7.5 0 11-2.2-5.3"/><path d="M19.5 4v4.5H15"/>',
  upload: '<path d="M12 16V4M7 9l5-5 5 5"/><path d="M4.5 15v4.5h15V15"/>',
  star: '<path d="M12 3.5l2.6 5.4 5.9.8-4.3 4.1 1 5.8L12 16.8l-5.2 2.8 1-5.8-4.3-4.1 5.9-.8z"/>',
  list: '<path d="M9 6h11M9 12h11M9 18h11"/><circle cx="4.5" cy="6" r="1"/><circle cx="4.5" cy="12" r="1"/><circle cx="4.5" cy="18" r="1"/>',
  home: '<path d="M3.5 11L12 4l8.5 7"/><path d="M6 9.5V20h12V9.5"/>',
  gear: '<circle cx="12" cy="12" r="3"/><path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"/>',
  users: '<circle cx="9" cy="8.5" r="3.2"/><path d="M3 19.5c.5-3.5 3-5.5 6-5.5s5.5 2 6 5.5"/><circle cx="17" cy="9.5" r="2.5"/><path d="M16.5 14.2c2.3.3 4 2 4.5 5.3"/>',
  pencil: '<path d="M4.5 19.5l1-4.5L16 4.5l3.5 3.5L9 18.5z"/><path d="M14 6.5l3.5 3.5"/>',
  clock: '<circle cx="12" cy="12" r="8.5"/><path d="M12 7.5V12l3 2"/>',
  check: '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
  x: '<path d="M6 6l12 12M18 6L6 18"/>',
  wand: '<path d="M4 20L15 9"/><path d="M17 3v3M15.5 4.5h3M20 8v2M19 9h2M12 3.5v1.5M11.25 4.25h1.5"/>',
};

export function icon(name, cls = '') {
  const span = document.createElement('span');
  span.className = 'icon ' + cls;
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML =
    '<svg viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" focusable="false">' +
    (ICONS[name] || '') +
    '</svg>';
  return span;
}

export const TEMPLATES = [
  { id: 'adventure', label: 'Adventure', icon: 'compass', hint: 'Brave journeys and treasure maps' },
  { id: 'fantasy', label: 'Fantasy', icon: 'castle', hint: 'Dragons, castles and magic' },
  { id: 'sci-fi', label: 'Science Fiction', icon: 'rocket', hint: 'Rockets, robots and stars' },
  { id: 'mystery', label: 'Mystery', icon: 'search', hint: 'Clues and puzzles to solve' },
  { id: 'educational', label: 'Educational', icon: 'school', hint: 'Learn something new' },
];

export function templateInfo(id) {
  return TEMPLATES.find((t) => t.id === id) || { id, label: id || 'Story', icon: 'book' };
}

export function templateBadge(id) {
  const t = templateInfo(id);
  return h('span', { class: 'badge badge-' + (t.id || 'story') }, icon(t.icon, 'icon-sm'), t.label);
}

const STATUS_LABELS = {
  draft: 'Draft',
  generating: 'Being written',
  ready: 'Ready',
  failed: 'Needs help',
};
export function statusBadge(status) {
  if (!status) return null;
  return h('span', { class: 'badge status-' + status }, STATUS_LABELS[status] || status);
}

// Screen-reader announcement through the polite live region.
export function announce(msg) {
  const el = document.getElementById('sr-announcer');
  if (!el) return;
  el.textContent = '';
  setTimeout(() => (el.textContent = msg), 50);
}

export function toast(msg, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: 'toast toast-' + kind, role: kind === 'error' ? 'alert' : 'status' }, msg);
  box.append(t);
  setTimeout(() => t.classList.add('toast-out'), 4500);
  setTimeout(() => t.remove(), 5000);
}

// A modal yes/no question on a native <dialog> (focus is trapped and Escape cancels).
export function confirmDialog(message, { ok = 'Yes', cancel = 'Cancel', danger = false } = {}) {
  return new Promise((resolve) => {
    const okBtn = h('button', { class: 'btn ' + (danger ? 'btn-danger' : 'btn-primary'), value: 'ok' }, ok);
    const cancelBtn = h('button', { class: 'btn btn-ghost', value: 'cancel' }, cancel);
    const dlg = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'dlg-msg' },
      h('form', { method: 'dialog' }, h('p', { id: 'dlg-msg', class: 'dialog-msg' }, message),
        h('div', { class: 'row end' }, cancelBtn, okBtn)),
    );
    document.body.append(dlg);
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
    });
    dlg.showModal();
    cancelBtn.focus();
  });
}

// A labelled progress bar for one running task. set(percent|null, step) (null = unknown).
export function progressBar(label) {
  const fill = h('div', { class: 'progress-fill' });
  const track = h('div', {
    class: 'progress-track indeterminate',
    role: 'progressbar',
    'aria-label': label,
    'aria-valuemin': '0',
    'aria-valuemax': '100',
  }, fill);
  const stepEl = h('span', { class: 'progress-step', 'aria-live': 'polite' }, 'Getting ready…');
  const pct = h('span', { class: 'progress-pct' }, '');
  const el = h('div', { class: 'progress' }, h('div', { class: 'progress-head' },
    h('strong', {}, label), pct), track, stepEl);
  let lastStep = '';
  return {
    el,
    set(percent, step) {
      if (typeof percent === 'number' && isFinite(percent)) {
        const p = Math.max(0, Math.min(100, Math.round(percent)));
        track.classList.remove('indeterminate');
        track.setAttribute('aria-valuenow', String(p));
        fill.style.width = p + '%';
        pct.textContent = p + '%';
      }
      if (step && step !== lastStep) {
        lastStep = step;
        stepEl.textContent = step;
      }
    },
    done(msg = 'Done!') {
      this.set(100, msg);
      el.classList.add('progress-done');
    },
    fail(msg) {
      el.classList.add('progress-failed');
      track.classList.remove('indeterminate');
      stepEl.textContent = msg || 'That did not work.';
      stepEl.setAttribute('role', 'alert');
    },
  };
}

export function errorBox(err, retry) {
  const msg = (err && err.message) || String(err);
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('p', {}, msg),
    retry ? h('button', { class: 'btn btn-ghost', onclick: retry }, icon('refresh'), 'Try again') : null);
}

export function emptyState(iconName, text, action) {
  return h('div', { class: 'empty' }, icon(iconName, 'icon-xl'), h('p', {}, text), action || null);
}

export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function fmtDate(s) {
  if (!s) return '';
  const d = new Date(s);
  if (isNaN(d)) return '';
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function fmtDateTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (isNaN(d)) return '';
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

// 83.4 -> "1:23"
export function fmtClock(seconds) {
  if (!isFinite(seconds) || seconds < 0) seconds = 0;
  const s = Math.floor(seconds);
  const m = Math.floor(s / 60);
  const hh = Math.floor(m / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(m % 60).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

// A form field: label + control + hint + error slot, wired with aria-describedby.
let fieldSeq = 0;
export function field(label, control, hint) {
  const id = control.id || 'f' + ++fieldSeq;
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null;
  const errEl = h('p', { class: 'field-error', id: id + '-err', hidden: true });
  control.setAttribute('aria-describedby', [hintEl ? id + '-hint' : '', id + '-err'].join(' ').trim());
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl, errEl);
  wrap.setError = (msg) => {
    errEl.textContent = msg || '';
    errEl.hidden = !msg;
    if (msg) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  };
  return wrap;
}

export function setBusy(btn, busy, busyText) {
  if (!btn) return;
  if (busy) {
    btn.dataset.label = btn.dataset.label || btn.textContent;
    btn.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    if (busyText) btn.lastChild.textContent = busyText;
  } else {
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
    if (busyText && btn.dataset.label) btn.lastChild.textContent = btn.dataset.label.trim();
  }
}

// Story text split into blocks for display: headings ("Part 1", "## Title") and paragraphs,
// each with its character range in the original text, so read-along spans keep their offsets.
export function textBlocks(text) {
  const blocks = [];
  let i = 0;
  let para = null;
  while (i <= text.length) {
    let j = text.indexOf('\n', i);
    if (j < 0) j = text.length;
    const line = text.slice(i, j);
    const trimmed = line.trim();
    const heading = /^(#{1,6}\s+|\*\*(part|chapter|scene)\b|(part|chapter|scene)\s+\d+\b)/i.test(trimmed) && trimmed.length < 90;
    if (!trimmed) {
      para = null;
    } else if (heading) {
      blocks.push({ kind: 'h', start: i, end: j });
      para = null;
    } else if (para) {
      para.end = j;
    } else {
      para = { kind: 'p', start: i, end: j };
      blocks.push(para);
    }
    i = j + 1;
    if (j >= text.length) break;
  }
  return blocks;
}

// Text shown for a slice: markdown emphasis markers and heading hashes are dropped.
export function cleanSlice(s, atBlockStart) {
  let out = s.replace(/\*\*|__/g, '');
  if (atBlockStart) out = out.replace(/^\s*#{1,6}\s+/, '');
  return out;
}
