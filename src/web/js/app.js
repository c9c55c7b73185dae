// app: the single-page shell. Hash routes (#/stories/42) map to page modules loaded on demand;
// each page renders into <main> and registers cleanups (event streams, audio, timers) that run
// when the user leaves it. Pages that need an account send visitors to sign-in first.

import { api, auth, setUnauthorizedHandler } from './api.js';
import { clear, errorBox, h, loading, toast } from './ui.js';

const routes = [
  { re: /^\/sign-in$/, mod: 'auth', fn: 'signIn', pub: true, title: 'Sign in' },
  { re: /^\/sign-up$/, mod: 'auth', fn: 'signUp', pub: true, title: 'Create an account' },
  { re: /^\/dashboard$/, mod: 'dashboard', fn: 'render', nav: 'dashboard', title: 'Home' },
  { re: /^\/stories$/, mod: 'stories', fn: 'render', nav: 'stories', title: 'My stories' },
  { re: /^\/stories\/new$/, mod: 'create', fn: 'render', nav: 'create', title: 'New story' },
  { re: /^\/stories\/([^/]+)$/, mod: 'story', fn: 'render', nav: 'stories', title: 'Story' },
  { re: /^\/playlists$/, mod: 'playlists', fn: 'renderList', nav: 'playlists', title: 'Playlists' },
  { re: /^\/playlists\/([^/]+)$/, mod: 'playlists', fn: 'renderDetail', nav: 'playlists', title: 'Playlist' },
  { re: /^\/settings$/, mod: 'settings', fn: 'render', nav: 'settings', title: 'Story settings' },
  { re: /^\/users$/, mod: 'users', fn: 'render', nav: 'users', staff: true, title: 'Users' },
];

const main = () => document.getElementById('main');
let cleanups = [];
let renderSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { path: path.replace(/\/+$/, '') || '/', query };
}

export function navigate(path) {
  if (location.hash === '#' + path) route();
  else location.hash = path;
}

// Replaces the query part of the current route without a new history entry.
export function setQuery(params) {
  const { path } = parseHash();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  history.replaceState(null, '', '#' + path + (s ? '?' + s : ''));
}

function runCleanups() {
  const list = cleanups;
  cleanups = [];
  for (const fn of list) {
    try {
      fn();
    } catch (e) {
      console.error(e);
    }
  }
}

function updateChrome(active) {
  const signedIn = !!auth.token;
  const nav = document.getElementById('site-nav');
  const toggle = document.getElementById('menu-toggle');
  nav.hidden = !signedIn;
  toggle.hidden = !signedIn;
  document.body.classList.toggle('signed-in', signedIn);
  for (const li of document.querySelectorAll('[data-staff]')) li.hidden = !auth.isStaff();
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const u = auth.user;
  document.getElementById('nav-username').textContent = u ? u.firstName || u.username || '' : '';
  document.body.classList.remove('menu-open');
  toggle.setAttribute('aria-expanded', 'false');
}

async function route() {
  const seq = ++renderSeq;
  const { path, query } = parseHash();
  if (path === '/') {
    navigate(auth.token ? '/dashboard' : '/sign-in');
    return;
  }
  let match = null;
  let r = null;
  for (const cand of routes) {
    match = path.match(cand.re);
    if (match) {
      r = cand;
      break;
    }
  }
  runCleanups();
  const el = main();
  if (!r) {
    updateChrome('');
    clear(el).append(h('section', { class: 'page narrow' }, h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, 'This page wandered off into the woods.'),
      h('a', { class: 'btn btn-primary', href: '#/dashboard' }, 'Go home')));
    return;
  }
  if (!r.pub && !auth.token) {
    navigate('/sign-in?next=' + encodeURIComponent(path));
    return;
  }
  if (r.pub && auth.token) {
    navigate('/dashboard');
    return;
  }
  if (r.staff && !auth.isStaff()) {
    navigate('/dashboard');
    return;
  }
  updateChrome(r.nav || '');
  document.title = r.title + ' · Nova Storyteller';
  clear(el).append(loading());
  const ctx = {
    main: el,
    params: match.slice(1).map(decodeURIComponent),
    query,
    navigate,
    setQuery,
    onCleanup: (fn) => cleanups.push(fn),
    isCurrent: () => seq === renderSeq,
    setTitle: (t) => (document.title = t + ' · Nova Storyteller'),
  };
  try {
    const mod = await import('./' + r.mod + '.js');
    if (seq !== renderSeq) return;
    clear(el);
    await mod[r.fn](ctx);
  } catch (e) {
    if (seq !== renderSeq) return;
    console.error(e);
    clear(el).append(h('section', { class: 'page narrow' }, h('h1', { tabindex: '-1' }, 'Something went wrong'),
      errorBox(e, () => route())));
  }
  if (seq !== renderSeq) return;
  // Move focus to the new page's heading so keyboard and screen-reader users start there.
  const h1 = el.querySelector('h1');
  if (h1 && !el.contains(document.activeElement)) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: true });
  }
}

function init() {
  setUnauthorizedHandler(() => {
    const { path } = parseHash();
    if (!path.startsWith('/sign-')) {
      toast('Please sign in again.', 'info');
      navigate('/sign-in?next=' + encodeURIComponent(path));
    }
  });
  document.getElementById('skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    main().focus();
  });
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const open = !document.body.classList.contains('menu-open');
    document.body.classList.toggle('menu-open', open);
    toggle.setAttribute('aria-expanded', String(open));
  });
  document.getElementById('sign-out').addEventListener('click', async () => {
    try {
      await api('/logout/', { method: 'POST', body: {}, noAuthRedirect: true });
    } catch {
      /* signing out locally is what matters */
    }
    auth.clear();
    toast('Signed out. See you soon!');
    navigate('/sign-in');
  });
  window.addEventListener('hashchange', () => {
    if (location.hash.startsWith('#/') || location.hash === '') route();
  });
  route();
}

init();
