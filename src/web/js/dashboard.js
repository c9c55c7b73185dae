// dashboard: a friendly home page with the numbers from /api/dashboard-stats/, charts of the
// last days and months, the newest stories, and which story engines are switched on.

import { api, auth } from './api.js';
import { barChart, donutChart, PALETTE } from './charts.js';
import { errorBox, fmtDate, h, icon, loading, statusBadge } from './ui.js';

function statCard(label, value, iconName, cls) {
  return h('div', { class: 'stat card ' + (cls || '') },
    icon(iconName, 'icon-lg'),
    h('div', {}, h('p', { class: 'stat-value' }, String(value ?? 0)), h('p', { class: 'stat-label' }, label)));
}

function providersLine(data) {
  // Accepts {providers:[{name,kind,active}]}, [{...}], or {text:{name,..},speech:..}.
  let list = [];
  if (Array.isArray(data)) list = data;
  else if (data && Array.isArray(data.providers)) list = data.providers;
  else if (data && typeof data === 'object') {
    list = Object.entries(data).filter(([, v]) => v && typeof v === 'object')
      .map(([kind, v]) => ({ kind, ...v }));
  }
  const active = list.filter((p) => p.active !== false && p.enabled !== false);
  if (!active.length) return null;
  return h('p', { class: 'muted small providers' }, icon('wand', 'icon-sm'), 'Story engines: ',
    active.map((p) => [p.kind || p.role || p.type, p.name || p.provider || p.id].filter(Boolean).join(': ')).join(' · '));
}

export async function render(ctx) {
  const u = auth.user || {};
  const head = h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Hello' + (u.firstName ? ', ' + u.firstName : '') + '!'),
      h('p', { class: 'lead' }, 'What story shall we make today?')),
    h('a', { class: 'btn btn-primary btn-big', href: '#/stories/new' }, icon('plus'), 'New story'));
  const body = h('div', { class: 'page' }, loading('Counting your stories…'));
  const page = h('section', { class: 'page' }, head, body);
  ctx.main.append(page);

  const load = async () => {
    body.replaceChildren(loading('Counting your stories…'));
    let d;
    try {
      d = await api('/dashboard-stats/');
    } catch (e) {
      body.replaceChildren(errorBox(e, load));
      return;
    }
    if (!ctx.isCurrent()) return;
    const st = d.stats || {};
    const charts = d.charts || {};
    const cards = h('div', { class: 'stats' },
      statCard('Stories', st.total_stories, 'book', 'c1'),
      statCard('Listening sessions', st.total_sessions, 'play', 'c2'),
      statCard('Playlists', st.total_playlists, 'list', 'c3'),
      statCard('Time listening', st.total_listening_time_formatted || '0h 0m', 'clock', 'c4'),
      d.is_admin ? statCard('Active users', st.total_users, 'users', 'c5') : null);
    const chartGrid = h('div', { class: 'charts' },
      barChart('Stories made (last 7 days)', charts.story_creation, PALETTE[0]),
      barChart('Listening (last 7 days)', charts.session_activity, PALETTE[1]),
      donutChart('Stories by kind', charts.stories_by_template),
      barChart('Stories by month', charts.stories_by_month, PALETTE[2]));
    const recent = (d.recent_stories || []).slice(0, 8);
    const recentCard = h('div', { class: 'card' }, h('h2', {}, 'Newest stories'),
      recent.length
        ? h('ul', { class: 'plain-list' }, recent.map((s) => h('li', { class: 'recent-row' },
          h('a', { href: '#/stories/' + encodeURIComponent(s.id) }, s.title || 'Untitled story'),
          h('span', { class: 'muted small' }, fmtDate(s.created_at), s.user__username ? ' · ' + s.user__username : ''),
          s.status ? statusBadge(s.status) : h('span', { class: 'badge ' + (s.is_published ? 'status-ready' : 'status-draft') },
            s.is_published ? 'Published' : 'Draft'))))
        : h('p', { class: 'muted' }, 'No stories yet. Tap “New story” to make the first one!'));
    body.replaceChildren(cards, chartGrid, recentCard);
    try {
      const p = await api('/providers/');
      const line = providersLine(p);
      if (line && ctx.isCurrent()) body.append(line);
    } catch {
      /* optional */
    }
  };
  await load();
}
