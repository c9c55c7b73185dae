// users: for staff. A searchable, paged list of accounts with a switch to activate or
// deactivate each one (administrators cannot be deactivated).

import { api, auth, rows } from './api.js';
import { errorBox, fmtDate, h, icon, loading, toast } from './ui.js';

export async function render(ctx) {
  let page = 1;
  let search = '';
  const input = h('input', { type: 'search', class: 'input', id: 'user-search', placeholder: 'Name or email…' });
  const form = h('form', { class: 'search-bar', role: 'search' }, h('label', { for: 'user-search', class: 'sr-only' }, 'Search users'), input,
    h('button', { type: 'submit', class: 'btn btn-secondary' }, icon('search'), 'Search'));
  const body = h('div', {});
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  ctx.main.append(h('section', { class: 'page' }, h('h1', {}, 'Users'), form, body, pager));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    search = input.value.trim();
    page = 1;
    load();
  });

  async function load() {
    body.replaceChildren(loading('Loading users…'));
    pager.replaceChildren();
    let data;
    try {
      data = await api('/users/', { query: { page, page_size: 20, search } });
    } catch (e) {
      body.replaceChildren(errorBox(e, load));
      return;
    }
    const items = rows(data);
    const me = auth.user || {};
    const table = h('table', { class: 'table' },
      h('caption', { class: 'sr-only' }, 'Accounts'),
      h('thead', {}, h('tr', {}, ['Name', 'Email', 'Role', 'Joined', 'Active'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, items.map((u) => {
        const role = u.is_superuser ? 'Admin' : u.is_staff ? 'Staff' : 'User';
        const sw = h('button', {
          type: 'button', class: 'switch', role: 'switch', 'aria-checked': String(!!u.is_active),
          'aria-label': `Account of ${u.username} active`, disabled: u.is_superuser || String(u.id) === String(me.id),
        }, h('span', { class: 'switch-knob', 'aria-hidden': 'true' }), h('span', { class: 'switch-text' }, u.is_active ? 'Active' : 'Off'));
        sw.addEventListener('click', async () => {
          const next = sw.getAttribute('aria-checked') !== 'true';
          sw.disabled = true;
          try {
            await api('/users/' + encodeURIComponent(u.id) + '/', { method: 'PATCH', body: { is_active: next } });
            u.is_active = next;
            sw.setAttribute('aria-checked', String(next));
            sw.querySelector('.switch-text').textContent = next ? 'Active' : 'Off';
            toast(`${u.username} is now ${next ? 'active' : 'deactivated'}.`, 'success');
          } catch (e) {
            toast(e.message, 'error');
          } finally {
            sw.disabled = false;
          }
        });
        return h('tr', {},
          h('td', {}, h('strong', {}, u.full_name || [u.first_name, u.last_name].filter(Boolean).join(' ') || u.username), h('br'), h('span', { class: 'muted small' }, u.username)),
          h('td', {}, u.email || ''), h('td', {}, h('span', { class: 'badge' }, role)), h('td', {}, fmtDate(u.date_joined)), h('td', {}, sw));
      })));
    body.replaceChildren(items.length ? h('div', { class: 'table-wrap' }, table) : h('p', { class: 'muted' }, 'No users match.'));
    if (data.next || data.previous) {
      const prev = h('button', { class: 'btn btn-ghost', disabled: !data.previous }, 'Previous');
      const next = h('button', { class: 'btn btn-ghost', disabled: !data.next }, 'Next');
      prev.addEventListener('click', () => {
        page--;
        load();
      });
      next.addEventListener('click', () => {
        page++;
        load();
      });
      pager.replaceChildren(prev, h('span', { class: 'pager-label' }, `Page ${page}`), next);
    }
  }
  await load();
}
