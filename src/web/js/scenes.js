// scenes: the picture gallery of a story. Each scene card shows its own state (drawing, ready,
// failed with a retry button, or waiting for a picture), and can be redrawn, replaced by an
// uploaded picture, or deleted. Live updates arrive from the story page's event stream.

import { api } from './api.js';
import { announce, confirmDialog, h, icon, toast } from './ui.js';

export function createGallery(storyId, hooks = {}) {
  const cards = new Map(); // scene_number -> {el, scene, state}
  const grid = h('div', { class: 'scene-grid', 'aria-live': 'off' });
  const empty = h('p', { class: 'muted', id: 'scenes-empty' }, 'No pictures yet. Tap “Make pictures” and Nova will paint one for every part of the story.');
  const addNum = h('input', { type: 'number', class: 'input input-small', min: '1', max: '50', value: '1', id: 'add-scene-num' });
  const addFile = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp', class: 'sr-only', id: 'add-scene-file', tabindex: '-1', 'aria-hidden': 'true' });
  const addBtn = h('button', { type: 'button', class: 'btn btn-ghost' }, icon('upload'), 'Upload my own picture');
  const addRow = h('div', { class: 'row wrap gap-s add-scene' },
    h('label', { for: 'add-scene-num' }, 'Scene number'), addNum, addBtn, addFile);
  addBtn.addEventListener('click', () => addFile.click());
  addFile.addEventListener('change', async () => {
    const f = addFile.files && addFile.files[0];
    addFile.value = '';
    const n = parseInt(addNum.value, 10);
    if (!f || !(n >= 1)) return;
    await upload(n, f);
  });
  const el = h('div', { class: 'gallery' }, empty, grid, addRow);

  function sortGrid() {
    const list = [...cards.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c.el);
    grid.replaceChildren(...list);
    empty.hidden = cards.size > 0;
  }

  function card(n) {
    let c = cards.get(n);
    if (c) return c;
    const el = h('article', { class: 'scene-card card', dataset: { scene: String(n) }, 'aria-labelledby': 'scene-title-' + n });
    c = { el, scene: { scene_number: n }, state: 'empty', error: '' };
    cards.set(n, c);
    sortGrid();
    return c;
  }

  function paint(c) {
    const n = c.scene.scene_number;
    const s = c.scene;
    c.el.dataset.state = c.state;
    const media = h('div', { class: 'scene-media' });
    if (c.state === 'drawing' || c.state === 'waiting') {
      const drawing = c.state === 'drawing';
      media.append(h('div', { class: 'scene-drawing' },
        h('span', { class: 'spinner', 'aria-hidden': 'true' }), drawing ? `Painting scene ${n}…` : `Scene ${n} is waiting for its turn…`,
        h('div', { class: 'progress-track indeterminate', role: 'progressbar', 'aria-label': `Scene ${n} progress`, 'aria-valuetext': drawing ? 'Painting' : 'Waiting' }, h('div', { class: 'progress-fill' }))));
    } else if (c.state === 'failed') {
      media.append(h('div', { class: 'scene-failed', role: 'alert' }, icon('x', 'icon-lg'),
        h('p', {}, `Scene ${n} could not be painted.`), c.error ? h('p', { class: 'small' }, c.error) : null));
    } else if (s.image_url) {
      media.append(h('img', { src: s.image_url, alt: `Picture for scene ${n}` + (s.scene_text ? ': ' + s.scene_text.slice(0, 100) : ''), loading: 'lazy', class: 'scene-img' }));
    } else {
      media.append(h('div', { class: 'scene-placeholder' }, icon('image', 'icon-xl'), h('p', {}, 'No picture yet')));
    }
    const busy = c.state === 'drawing' || c.state === 'waiting';
    const retry = h('button', { type: 'button', class: 'btn btn-small ' + (c.state === 'failed' ? 'btn-primary' : 'btn-ghost'), disabled: busy },
      icon('refresh'), c.state === 'failed' ? 'Try again' : 'Paint again');
    retry.addEventListener('click', () => redraw(n));
    const file = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp', class: 'sr-only', tabindex: '-1', 'aria-hidden': 'true' });
    const up = h('button', { type: 'button', class: 'btn btn-ghost btn-small', disabled: busy, 'aria-label': `Upload a picture for scene ${n}` }, icon('upload'), 'Upload');
    up.addEventListener('click', () => file.click());
    file.addEventListener('change', () => {
      const f = file.files && file.files[0];
      if (f) upload(n, f);
    });
    const del = h('button', { type: 'button', class: 'btn btn-ghost btn-small btn-danger-text', disabled: !s.id || busy, 'aria-label': `Delete scene ${n}` }, icon('trash'), 'Delete');
    del.addEventListener('click', () => remove(n));
    c.el.replaceChildren(media,
      h('div', { class: 'scene-body' }, h('h3', { id: 'scene-title-' + n }, `Scene ${n}`),
        s.scene_text ? h('p', { class: 'scene-text' }, s.scene_text.length > 180 ? s.scene_text.slice(0, 177) + '…' : s.scene_text) : null,
        h('div', { class: 'row wrap gap-s' }, retry, up, del, file)));
  }

  // The server's scenes. While a painting job runs (keepBusy), cards that wait or are being
  // painted keep that state until their own event arrives; otherwise the server's state wins.
  function setScenes(scenes, { keepBusy = false } = {}) {
    const seen = new Set();
    for (const s of scenes || []) {
      const n = Number(s.scene_number);
      if (!isFinite(n)) continue;
      seen.add(n);
      const c = card(n);
      c.scene = { ...c.scene, ...s };
      const st = s.status || s.state;
      const busy = keepBusy && (c.state === 'drawing' || c.state === 'waiting');
      if (busy) {
        /* its scene.* event will say */
      } else if (st === 'failed') c.state = 'failed';
      else if (st === 'running' || st === 'generating' || st === 'drawing') c.state = 'drawing';
      else if (st === 'queued' || st === 'pending' || st === 'waiting') c.state = 'waiting';
      else c.state = s.image_url ? 'ready' : 'empty';
      if (s.error) c.error = s.error;
      paint(c);
    }
    for (const [n, c] of [...cards.entries()]) {
      if (!seen.has(n) && !(keepBusy && (c.state === 'drawing' || c.state === 'waiting'))) {
        c.el.remove();
        cards.delete(n);
      }
    }
    sortGrid();
  }

  // The scenes job split the story into count parts: one card per part, each waiting its turn.
  function queued(count) {
    for (let n = 1; n <= Number(count || 0); n++) {
      const c = card(n);
      c.state = 'waiting';
      c.error = '';
      paint(c);
    }
  }

  function started(n) {
    const c = card(Number(n));
    c.state = 'drawing';
    c.error = '';
    paint(c);
  }
  function ready(n, url) {
    const c = card(Number(n));
    c.state = 'ready';
    if (url) c.scene.image_url = url;
    paint(c);
    announce(`Scene ${n} is painted`);
  }
  function failed(n, error) {
    const c = card(Number(n));
    c.state = 'failed';
    c.error = error || '';
    paint(c);
    announce(`Scene ${n} could not be painted`);
  }

  // only: scene numbers to paint again (the others stay as they are); none = every scene.
  async function generateAll(only) {
    for (const c of cards.values()) {
      if (only ? only.includes(c.scene.scene_number) : c.state !== 'ready') {
        c.state = 'waiting';
        paint(c);
      }
    }
    try {
      // respond-async: the answer comes when the job is queued; every scene then reports its own
      // progress through the story's event stream.
      const res = await api('/stories/' + encodeURIComponent(storyId) + '/generate_scenes/', {
        method: 'POST', body: only ? { scene_numbers: only } : {}, timeoutMs: 180000,
        headers: { Prefer: 'respond-async' },
      });
      if (res && Array.isArray(res.scenes) && !res.job) setScenes(res.scenes);
      if (hooks.onJob) hooks.onJob(res && res.job, 'scenes');
      if (res && !res.job && hooks.onChanged) hooks.onChanged();
      return res;
    } catch (e) {
      for (const c of cards.values()) if (c.state === 'drawing' || c.state === 'waiting') {
        c.state = c.scene.image_url ? 'ready' : 'failed';
        c.error = e.message;
        paint(c);
      }
      toast(e.message, 'error');
      return null;
    }
  }

  // One scene painted again (scene_numbers): the other pictures stay as they are.
  async function redraw(n) {
    await generateAll([n]);
  }

  async function upload(n, f) {
    if (!f.type.startsWith('image/')) {
      toast('That file is not a picture.', 'error');
      return;
    }
    const c = card(n);
    c.state = 'drawing';
    paint(c);
    const fd = new FormData();
    fd.append('scene_number', String(n));
    fd.append('image', f);
    try {
      const res = await api('/stories/' + encodeURIComponent(storyId) + '/upload_scene_image/', { method: 'POST', form: fd, timeoutMs: 120000 });
      const sc = (res && res.scene) || {};
      c.scene = { ...c.scene, ...sc };
      c.state = c.scene.image_url ? 'ready' : 'empty';
      paint(c);
      toast(`Picture added to scene ${n}.`, 'success');
      if (hooks.onChanged) hooks.onChanged();
    } catch (e) {
      c.state = c.scene.image_url ? 'ready' : 'empty';
      paint(c);
      toast(e.message, 'error');
    }
  }

  async function remove(n) {
    const c = cards.get(n);
    if (!c || !c.scene.id) return;
    if (!(await confirmDialog(`Delete scene ${n} and its picture?`, { ok: 'Delete', danger: true }))) return;
    try {
      await api('/stories/' + encodeURIComponent(storyId) + '/delete_scene/', { method: 'POST', body: { scene_id: c.scene.id } });
      c.el.remove();
      cards.delete(n);
      sortGrid();
      toast(`Scene ${n} deleted.`, 'success');
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  return { el, setScenes, queued, started, ready, failed, generateAll, count: () => cards.size };
}
