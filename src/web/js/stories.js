// stories: the list of stories with search, pages (DRF {count,next,previous,results}), a
// publish switch and delete. The page and search live in the URL (#/stories?page=2&search=cat).

import { api, rows } from './api.js';
import { announce, confirmDialog, emptyState, errorBox, fmtDate, h, icon, loading, statusBadge, templateBadge, toast } from './ui.js';

const PAGE_SIZE = 10;

export function publishSwitch(story, onChange) {
  const btn = h('button', {
    type: 'button',
    class: 'switch',
    role: 'switch',
    'aria-checked': String(!!story.is_published),
    'aria-label': 'Published: ' + (story.title || 'story'),
  }, h('span', { class: 'switch-knob', 'aria-hidden': 'true' }), h('span', { class: 'switch-text' }, story.is_published ? 'Published' : 'Draft'));
  btn.addEventListener('click', async () => {
    const next = !(btn.getAttribute('aria-checked') === 'true');
    btn.disabled = true;
    try {
      await api('/stories/' + encodeURIComponent(story.id) + '/', { method: 'PATCH', body: { is_published: next } });
      story.is_published = next;
      btn.setAttribute('aria-checked', String(next));
      btn.querySelector('.switch-text').textContent = next ? 'Published' : 'Draft';
      announce(next ? 'Story published' : 'Story set to draft');
      if (onChange) onChange(next);
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      btn.disabled = false;
    }
  });
  return btn;
}

export async function deleteStory(story) {
  const ok = await confirmDialog(`Delete “${story.title || 'this story'}”? This cannot be undone.`, { ok: 'Delete', danger: true });
  if (!ok) return false;
  try {
    await api('/stories/' + encodeURIComponent(story.id) + '/', { method: 'DELETE' });
    toast('Story deleted.', 'success');
    return true;
  } catch (e) {
    toast(e.message, 'error');
    return false;
  }
}

export async function render(ctx) {
  let page = Math.max(1, parseInt(ctx.query.get('page') || '1', 10) || 1);
  let search = ctx.query.get('search') || '';
  const searchInput = h('input', { type: 'search', class: 'input', id: 'story-search', value: search, placeholder: 'Find a story…', autocomplete: 'off' });
  const searchForm = h('form', { class: 'search-bar', role: 'search' },
    h('label', { for: 'story-search', class: 'sr-only' }, 'Search stories'), searchInput,
    h('button', { class: 'btn btn-secondary', type: 'submit' }, icon('search'), 'Search'));
  const list = h('div', { class: 'story-list' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const countLine = h('p', { class: 'muted', 'aria-live': 'polite' });
  ctx.main.append(h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'My stories'),
      h('a', { class: 'btn btn-primary btn-big', href: '#/stories/new' }, icon('plus'), 'New story')),
    searchForm, countLine, list, pager));

  let debounce = null;
  searchInput.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      search = searchInput.value.trim();
      page = 1;
      load();
    }, 350);
  });
  ctx.onCleanup(() => clearTimeout(debounce));
  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(debounce);
    search = searchInput.value.trim();
    page = 1;
    load();
  });

  async function load() {
    ctx.setQuery({ page: page > 1 ? page : '', search });
    list.replaceChildren(loading('Finding stories…'));
    pager.replaceChildren();
    let data;
    try {
      data = await api('/stories/', { query: { page, page_size: PAGE_SIZE, search } });
    } catch (e) {
      if (e.status === 404 && page > 1) {
        page = 1;
        return load();
      }
      list.replaceChildren(errorBox(e, load));
      return;
    }
    if (!ctx.isCurrent()) return;
    const items = rows(data);
    const count = typeof data.count === 'number' ? data.count : items.length;
    const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));
    countLine.textContent = search
      ? `${count} ${count === 1 ? 'story matches' : 'stories match'} “${search}”.`
      : `${count} ${count === 1 ? 'story' : 'stories'}.`;
    if (!items.length) {
      list.replaceChildren(emptyState('book', search ? 'No story matches that search.' : 'No stories yet. Let’s make one!',
        search ? null : h('a', { class: 'btn btn-primary', href: '#/stories/new' }, icon('plus'), 'New story')));
      return;
    }
    list.replaceChildren(...items.map((s) => row(s)));
    if (pages > 1 || data.next || data.previous) {
      const prev = h('button', { class: 'btn btn-ghost', disabled: !data.previous && page <= 1 }, icon('back'), 'Previous');
      const next = h('button', { class: 'btn btn-ghost', disabled: !data.next }, 'Next', icon('forward'));
      prev.addEventListener('click', () => {
        page = Math.max(1, page - 1);
        load();
      });
      next.addEventListener('click', () => {
        page += 1;
        load();
      });
      pager.replaceChildren(prev, h('span', { class: 'pager-label' }, `Page ${page} of ${pages}`), next);
    }
  }

  function row(s) {
    const del = h('button', { class: 'btn btn-ghost btn-small btn-danger-text', type: 'button', 'aria-label': 'Delete ' + (s.title || 'story') }, icon('trash'), 'Delete');
    const el = h('article', { class: 'story-row card' },
      s.image_url ? h('img', { class: 'thumb', src: s.image_url, alt: '', loading: 'lazy' }) : h('div', { class: 'thumb thumb-empty' }, icon('book', 'icon-lg')),
      h('div', { class: 'story-row-main' },
        h('h2', { class: 'story-row-title' }, h('a', { href: '#/stories/' + encodeURIComponent(s.id) }, s.title || 'Untitled story')),
        h('p', { class: 'row wrap gap-s' }, templateBadge(s.template), statusBadge(s.status),
          s.audio_url ? h('span', { class: 'badge badge-audio' }, icon('play', 'icon-sm'), 'Has narration') : null,
          h('span', { class: 'muted small' }, fmtDate(s.created_at)))),
      h('div', { class: 'story-row-actions' }, publishSwitch(s), del));
    del.addEventListener('click', async () => {
      if (await deleteStory(s)) load();
    });
    return el;
  }

  await load();
}
