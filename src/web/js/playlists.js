// playlists: lists of stories to hear one after another. Create, reorder (up/down buttons or
// drag and drop), add and remove stories (the order is saved as the story_ids array), play all
// in sequence, and resume where the listener stopped (from the listening sessions).

import { allRows, api, rows } from './api.js';
import { createPlayer, recentSessions, SessionRecorder, sessionPositionMs } from './player.js';
import { announce, confirmDialog, emptyState, errorBox, field, fmtClock, fmtDate, h, icon, loading, setBusy, templateBadge, toast } from './ui.js';

export async function renderList(ctx) {
  const list = h('div', { class: 'playlist-grid' });
  const name = h('input', { class: 'input', name: 'name', required: true, maxlength: '200', placeholder: 'Bedtime stories' });
  const nameF = field('Playlist name', name);
  const desc = h('textarea', { class: 'input', name: 'description', rows: '2', placeholder: 'Calm stories for the evening' });
  const pub = h('input', { type: 'checkbox', id: 'pl-public' });
  const storyBox = h('fieldset', { class: 'story-checks' }, h('legend', {}, 'Stories to add'), loading('Loading your stories…'));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus'), 'Create playlist');
  const status = h('div', { class: 'form-status', role: 'alert' });
  const form = h('form', { class: 'form', novalidate: true }, nameF, field('Description (optional)', desc),
    h('div', { class: 'field check' }, h('label', { for: 'pl-public', class: 'check-label' }, pub, ' Share with everyone who uses this Nova')),
    storyBox, status, submit);
  const newCard = h('details', { class: 'card tool', id: 'new-playlist' }, h('summary', {}, icon('plus'), 'New playlist'), form);
  ctx.main.append(h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Playlists'), h('p', { class: 'lead' }, 'Line up stories to hear one after another.')),
    newCard, list));

  let storiesLoaded = false;
  newCard.addEventListener('toggle', async () => {
    if (!newCard.open || storiesLoaded) return;
    storiesLoaded = true;
    try {
      const stories = await allRows('/stories/', {}, 3);
      storyBox.replaceChildren(h('legend', {}, 'Stories to add'),
        stories.length
          ? h('div', { class: 'check-grid' }, stories.map((s) => h('label', { class: 'check-label' },
            h('input', { type: 'checkbox', name: 'story_ids', value: s.id }), ' ', s.title || 'Untitled story')))
          : h('p', { class: 'muted' }, 'No stories yet. You can add them later.'));
    } catch (e) {
      storiesLoaded = false;
      storyBox.replaceChildren(h('legend', {}, 'Stories to add'), errorBox(e));
    }
  });
  if (ctx.query.get('new')) newCard.open = true;

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = name.value.trim();
    nameF.setError(n ? '' : 'Give the playlist a name.');
    if (!n) {
      name.focus();
      return;
    }
    const ids = [...form.querySelectorAll('input[name=story_ids]:checked')].map((c) => c.value);
    setBusy(submit, true);
    try {
      const pl = await api('/playlists/', { method: 'POST', body: { name: n, description: desc.value.trim(), is_public: pub.checked, story_ids: ids } });
      toast('Playlist created!', 'success');
      ctx.navigate('/playlists/' + encodeURIComponent(pl.id));
    } catch (err) {
      status.textContent = err.message;
    } finally {
      setBusy(submit, false);
    }
  });

  async function load() {
    list.replaceChildren(loading('Finding playlists…'));
    let data;
    try {
      data = await api('/playlists/', { query: { page: 1, page_size: 50 } });
    } catch (e) {
      list.replaceChildren(errorBox(e, load));
      return;
    }
    const items = rows(data);
    if (!items.length) {
      list.replaceChildren(emptyState('list', 'No playlists yet. Make one for bedtime!'));
      return;
    }
    list.replaceChildren(...items.map((p) => {
      const del = h('button', { type: 'button', class: 'btn btn-ghost btn-small btn-danger-text', 'aria-label': 'Delete playlist ' + p.name }, icon('trash'), 'Delete');
      del.addEventListener('click', async () => {
        if (!(await confirmDialog(`Delete the playlist “${p.name}”? The stories stay.`, { ok: 'Delete', danger: true }))) return;
        try {
          await api('/playlists/' + encodeURIComponent(p.id) + '/', { method: 'DELETE' });
          toast('Playlist deleted.', 'success');
          load();
        } catch (err) {
          toast(err.message, 'error');
        }
      });
      const count = p.story_count ?? (p.stories ? p.stories.length : 0);
      return h('article', { class: 'card playlist-card' },
        h('h2', {}, h('a', { href: '#/playlists/' + encodeURIComponent(p.id) }, p.name || 'Playlist')),
        p.description ? h('p', {}, p.description) : null,
        h('p', { class: 'row wrap gap-s' }, h('span', { class: 'badge' }, `${count} ${count === 1 ? 'story' : 'stories'}`),
          h('span', { class: 'badge ' + (p.is_public ? 'status-ready' : 'badge-muted') }, p.is_public ? 'Shared' : 'Private'),
          p.user_name ? h('span', { class: 'muted small' }, 'by ' + p.user_name) : null),
        h('div', { class: 'row gap-s' }, h('a', { class: 'btn btn-secondary btn-small', href: '#/playlists/' + encodeURIComponent(p.id) }, icon('play'), 'Open'), del));
    }));
  }
  await load();
}

export async function renderDetail(ctx) {
  const id = ctx.params[0];
  const enc = encodeURIComponent(id);
  let pl;
  try {
    pl = await api('/playlists/' + enc + '/');
  } catch (e) {
    ctx.main.append(h('section', { class: 'page narrow' }, h('h1', {}, 'Playlist not found'), errorBox(e), h('a', { href: '#/playlists', class: 'btn btn-ghost' }, icon('back'), 'All playlists')));
    return;
  }
  if (!ctx.isCurrent()) return;
  let order = (pl.stories || []).slice();
  const olEl = h('ol', { class: 'pl-items', 'aria-label': 'Stories in this playlist' });
  const addSel = h('select', { class: 'input', id: 'pl-add' });
  const addBtn = h('button', { type: 'button', class: 'btn btn-secondary' }, icon('plus'), 'Add');
  const playAll = h('button', { type: 'button', class: 'btn btn-primary btn-big' }, icon('play'), 'Play all');
  const resume = h('button', { type: 'button', class: 'btn btn-secondary', hidden: true }, icon('clock'), 'Continue');
  const nowTitle = h('p', { class: 'now-playing', 'aria-live': 'polite' });
  const del = h('button', { type: 'button', class: 'btn btn-ghost btn-danger-text' }, icon('trash'), 'Delete playlist');

  let current = -1;
  let recorder = null;
  const player = createPlayer({
    title: 'Playlist player',
    onPlay: () => recorder && recorder.playing(),
    onPause: () => recorder && recorder.paused(),
    onEnded: async () => {
      if (recorder) await recorder.end(true);
      playIndex(current + 1, 0);
    },
    onError: () => {
      toast('This story has no narration yet. Skipping it.', 'error');
      playIndex(current + 1, 0);
    },
  });
  player.el.hidden = true;
  ctx.onCleanup(() => {
    if (recorder) recorder.leave();
    player.destroy();
  });

  ctx.main.append(h('section', { class: 'page' },
    h('p', {}, h('a', { href: '#/playlists', class: 'link-back' }, icon('back', 'icon-sm'), 'All playlists')),
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, pl.name || 'Playlist'),
      pl.description ? h('p', { class: 'lead' }, pl.description) : null), del),
    h('section', { class: 'card listen', 'aria-label': 'Play the playlist' }, h('div', { class: 'row wrap gap-s' }, playAll, resume), nowTitle, player.el),
    h('section', { class: 'card' }, h('h2', {}, 'Stories'),
      h('p', { class: 'muted small' }, 'Use the arrow buttons or drag a story to change the order.'), olEl,
      h('div', { class: 'row wrap gap-s add-row' }, h('label', { for: 'pl-add' }, 'Add a story'), addSel, addBtn))));

  del.addEventListener('click', async () => {
    if (!(await confirmDialog(`Delete the playlist “${pl.name}”?`, { ok: 'Delete', danger: true }))) return;
    try {
      await api('/playlists/' + enc + '/', { method: 'DELETE' });
      ctx.navigate('/playlists');
    } catch (e) {
      toast(e.message, 'error');
    }
  });

  async function save(newOrder, message) {
    const before = order;
    order = newOrder;
    paintItems();
    try {
      const res = await api('/playlists/' + enc + '/', { method: 'PATCH', body: { story_ids: newOrder.map((s) => s.id) } });
      // Keep the server's order when it sends one with the same stories.
      if (res && Array.isArray(res.stories) && res.stories.length === newOrder.length) order = res.stories;
      paintItems();
      if (message) announce(message);
      return true;
    } catch (e) {
      order = before;
      paintItems();
      toast(e.message, 'error');
      return false;
    }
  }

  function move(i, j, focusDir) {
    if (j < 0 || j >= order.length) return;
    const next = order.slice();
    const [it] = next.splice(i, 1);
    next.splice(j, 0, it);
    save(next, `${it.title || 'Story'} moved to place ${j + 1}`).then(() => {
      const btn = olEl.querySelectorAll('li')[j]?.querySelector(focusDir === 'up' ? '.mv-up' : '.mv-down');
      if (btn && !btn.disabled) btn.focus();
      else olEl.querySelectorAll('li')[j]?.querySelector('button')?.focus();
    });
  }

  let dragFrom = -1;
  function paintItems() {
    if (!order.length) {
      olEl.replaceChildren(h('li', { class: 'muted' }, 'No stories here yet. Add one below.'));
    } else {
      olEl.replaceChildren(...order.map((s, i) => {
        const up = h('button', { type: 'button', class: 'btn btn-ghost btn-round mv-up', disabled: i === 0, 'aria-label': `Move ${s.title} up` }, icon('up'));
        const down = h('button', { type: 'button', class: 'btn btn-ghost btn-round mv-down', disabled: i === order.length - 1, 'aria-label': `Move ${s.title} down` }, icon('down'));
        const rm = h('button', { type: 'button', class: 'btn btn-ghost btn-small btn-danger-text', 'aria-label': `Remove ${s.title} from the playlist` }, icon('x'), 'Remove');
        const play = h('button', { type: 'button', class: 'btn btn-ghost btn-round', 'aria-label': `Play ${s.title}` }, icon('play'));
        up.addEventListener('click', () => move(i, i - 1, 'up'));
        down.addEventListener('click', () => move(i, i + 1, 'down'));
        rm.addEventListener('click', () => save(order.filter((x) => x.id !== s.id), `${s.title} removed`).then(fillAdd));
        play.addEventListener('click', () => playIndex(i, 0));
        const li = h('li', { class: 'pl-item' + (i === current ? ' is-current' : ''), draggable: 'true', dataset: { index: String(i) } },
          h('span', { class: 'grip', 'aria-hidden': 'true' }, icon('grip')),
          h('span', { class: 'pl-num', 'aria-hidden': 'true' }, String(i + 1)),
          h('div', { class: 'pl-main' }, h('a', { href: '#/stories/' + encodeURIComponent(s.id) }, s.title || 'Untitled story'),
            h('span', { class: 'row gap-s' }, templateBadge(s.template), h('span', { class: 'muted small' }, fmtDate(s.created_at)))),
          h('div', { class: 'row gap-s pl-actions' }, play, up, down, rm));
        li.addEventListener('dragstart', (e) => {
          dragFrom = i;
          li.classList.add('dragging');
          e.dataTransfer.effectAllowed = 'move';
          e.dataTransfer.setData('text/plain', String(i));
        });
        li.addEventListener('dragend', () => li.classList.remove('dragging'));
        li.addEventListener('dragover', (e) => {
          e.preventDefault();
          li.classList.add('drop-target');
        });
        li.addEventListener('dragleave', () => li.classList.remove('drop-target'));
        li.addEventListener('drop', (e) => {
          e.preventDefault();
          li.classList.remove('drop-target');
          const from = dragFrom >= 0 ? dragFrom : parseInt(e.dataTransfer.getData('text/plain'), 10);
          dragFrom = -1;
          if (from >= 0 && from !== i) move(from, i);
        });
        return li;
      }));
    }
  }

  let allStories = [];
  async function fillAdd() {
    const inList = new Set(order.map((s) => String(s.id)));
    const avail = allStories.filter((s) => !inList.has(String(s.id)));
    addSel.replaceChildren(...(avail.length ? avail.map((s) => h('option', { value: s.id }, s.title || 'Untitled story'))
      : [h('option', { value: '' }, 'Every story is already here')]));
    addBtn.disabled = !avail.length;
  }
  addBtn.addEventListener('click', () => {
    const s = allStories.find((x) => String(x.id) === addSel.value);
    if (s) save([...order, s], `${s.title} added`).then(fillAdd);
  });
  allRows('/stories/', {}, 3).then((list) => {
    allStories = list;
    fillAdd();
  }).catch(() => fillAdd());

  // ---- playing in sequence -------------------------------------------------------------
  async function playIndex(i, posMs) {
    if (recorder) {
      recorder.leave();
      recorder = null;
    }
    if (i >= order.length || i < 0) {
      current = -1;
      nowTitle.textContent = order.length ? 'That was the whole playlist. The end!' : '';
      player.pause();
      paintItems();
      return;
    }
    current = i;
    paintItems();
    const s = order[i];
    nowTitle.textContent = `Now playing ${i + 1} of ${order.length}: ${s.title || 'Untitled story'}`;
    let full = s;
    try {
      full = await api('/stories/' + encodeURIComponent(s.id) + '/');
    } catch {
      /* use what the list had */
    }
    if (!ctx.isCurrent() || current !== i) return;
    if (!full.audio_url) {
      toast(`“${s.title}” has no narration yet. Skipping it.`);
      playIndex(i + 1, 0);
      return;
    }
    recorder = new SessionRecorder(s.id, () => player.audio.currentTime * 1000);
    player.el.hidden = false;
    player.load(full.audio_url, full.audio_duration_ms);
    if (posMs) {
      const seekTo = () => player.seek(posMs / 1000);
      if (player.audio.readyState >= 1) seekTo();
      else player.audio.addEventListener('loadedmetadata', seekTo, { once: true });
    }
    player.play();
  }
  playAll.addEventListener('click', () => {
    resume.hidden = true;
    playIndex(0, 0);
  });

  // Resume: the newest session of a story in this playlist.
  recentSessions('', 50).then((sessions) => {
    const ids = order.map((s) => String(s.id));
    const last = sessions.find((s) => ids.includes(String(s.story)));
    if (!last || !ctx.isCurrent()) return;
    let idx = ids.indexOf(String(last.story));
    let pos = sessionPositionMs(last);
    if (last.completed) {
      idx += 1;
      pos = 0;
    }
    if (idx >= order.length) return;
    resume.lastChild.textContent = pos > 1000
      ? `Continue “${order[idx].title}” at ${fmtClock(pos / 1000)}`
      : `Continue with “${order[idx].title}”`;
    resume.hidden = false;
    resume.onclick = () => {
      resume.hidden = true;
      playIndex(idx, pos);
    };
  });

  paintItems();
}
