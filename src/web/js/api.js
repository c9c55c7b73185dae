// api: every call to the server goes through here. It adds the token, turns failures into
// ApiError with a message a child or parent can understand, sends a 401 back to sign-in, and
// opens the live event streams (server-sent events with a one-time ticket).

const TOKEN_KEY = 'nova.token';
const USER_KEY = 'nova.user';

export const auth = {
  get token() {
    return localStorage.getItem(TOKEN_KEY) || '';
  },
  get user() {
    try {
      return JSON.parse(localStorage.getItem(USER_KEY) || 'null');
    } catch {
      return null;
    }
  },
  set(user) {
    localStorage.setItem(TOKEN_KEY, user.token);
    const copy = { ...user };
    delete copy.token;
    localStorage.setItem(USER_KEY, JSON.stringify(copy));
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  },
  isStaff() {
    const u = this.user;
    return !!(u && (u.is_staff || u.is_superuser || u.role === 'Admin' || u.role === 'Staff'));
  },
};

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function firstMessage(v) {
  if (!v) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return firstMessage(v[0]);
  if (typeof v === 'object') {
    for (const k of Object.keys(v)) {
      const m = firstMessage(v[k]);
      if (m) return m;
    }
  }
  return '';
}

// A sentence for people, from whatever shape the server used ({error}, {detail}, field lists).
export function friendlyMessage(status, body) {
  if (body && typeof body === 'object') {
    if (body.details) {
      const m = firstMessage(body.details);
      if (m) return m;
    }
    // Our server sends {"error": "<code>", "detail": "<sentence>"}; the reference sends
    // {"error": "<sentence>"} or {"detail": "<sentence>"}. A code (no spaces) is not for people.
    const sentence = (v) => typeof v === 'string' && /\s/.test(v.trim());
    if (status !== 404 && status < 500) {
      if (sentence(body.error)) return body.error;
      if (sentence(body.detail)) return body.detail;
    }
    if (status === 400) {
      const m = firstMessage(body);
      if (m) return m;
    }
  }
  if (status === 0) return "We can't reach the story server. Check the connection and try again.";
  if (status === 401) return 'Please sign in again.';
  if (status === 403) return "You're not allowed to do that.";
  if (status === 404) return "We couldn't find that here. It may not be ready yet.";
  if (status === 409) return 'Someone changed this at the same time. Please reload and try again.';
  if (status === 413) return 'That file is too big.';
  if (status === 429) return 'Lots of stories are being made right now. Please wait a moment.';
  if (status === 503) return 'The story machine is busy or resting. Please try again soon.';
  if (status >= 500) return 'Oops, the story machine hiccuped. Please try again in a moment.';
  return 'Something went wrong. Please try again.';
}

// Per-field messages: {details: {field: [..]}} (sign-up) or a bare DRF dict (settings).
export function fieldErrors(err) {
  const out = {};
  const b = err && err.body;
  if (!b || typeof b !== 'object') return out;
  const src = b.details && typeof b.details === 'object' ? b.details : b;
  for (const [k, v] of Object.entries(src)) {
    if (['error', 'detail', 'message', 'request_id'].includes(k)) continue;
    const m = firstMessage(v);
    if (m) out[k] = m;
  }
  return out;
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function buildQuery(query) {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

// api('/stories/', {method, body (JSON-able), form (FormData), query, headers, timeoutMs}).
export async function api(path, opts = {}) {
  const { method = 'GET', body, form, query, timeoutMs = 60000, signal } = opts;
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  const token = auth.token;
  if (token) headers.Authorization = 'Token ' + token;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  if (signal) signal.addEventListener('abort', () => ctrl.abort(), { once: true });
  let res;
  try {
    res = await fetch('/api' + path + buildQuery(query), {
      method,
      headers,
      body: payload,
      signal: ctrl.signal,
      credentials: 'same-origin',
      keepalive: !!opts.keepalive,
    });
  } catch (e) {
    clearTimeout(timer);
    if (signal && signal.aborted) throw e;
    throw new ApiError(0, null, friendlyMessage(0, null));
  }
  clearTimeout(timer);
  let data = null;
  const text = res.status === 204 ? '' : await res.text().catch(() => '');
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (res.status === 401 && token && !opts.noAuthRedirect) {
    auth.clear();
    onUnauthorized();
  }
  if (!res.ok) throw new ApiError(res.status, data, friendlyMessage(res.status, data));
  if (data && typeof data === 'object') Object.defineProperty(data, '_status', { value: res.status });
  return data;
}

// The rows of a paginated (DRF) or plain list answer.
export function rows(data) {
  if (!data) return [];
  if (Array.isArray(data)) return data;
  if (Array.isArray(data.results)) return data.results;
  return [];
}

// Reads every page of a list endpoint (bounded, for pickers).
export async function allRows(path, query = {}, maxPages = 10) {
  const out = [];
  for (let page = 1; page <= maxPages; page++) {
    const data = await api(path, { query: { ...query, page, page_size: 100 } });
    out.push(...rows(data));
    if (!data || Array.isArray(data) || !data.next) break;
  }
  return out;
}

// Jobs that a page started and the next page should show (create -> story page).
export const pendingJobs = new Map();
export function rememberJob(storyId, job) {
  if (!storyId || !job || !job.id) return;
  const list = pendingJobs.get(storyId) || [];
  list.push(job);
  pendingJobs.set(storyId, list);
}
export function takeJobs(storyId) {
  const list = pendingJobs.get(storyId) || [];
  pendingJobs.delete(storyId);
  return list;
}

let voicesCache = null;
const FALLBACK_VOICES = [
  { id: 'Joanna', name: 'Joanna', gender: 'Female' },
  { id: 'Matthew', name: 'Matthew', gender: 'Male' },
  { id: 'Ivy', name: 'Ivy', gender: 'Female' },
  { id: 'Joey', name: 'Joey', gender: 'Male' },
  { id: 'Justin', name: 'Justin', gender: 'Male' },
  { id: 'Kendra', name: 'Kendra', gender: 'Female' },
  { id: 'Kimberly', name: 'Kimberly', gender: 'Female' },
  { id: 'Salli', name: 'Salli', gender: 'Female' },
];
// The narrator voices; falls back to a fixed list so the picker always works.
export async function voices() {
  if (voicesCache) return voicesCache;
  try {
    const data = await api('/stories/available_voices/', { query: { language_code: 'en-US' } });
    const list = (data && (data.voices || (Array.isArray(data) ? data : null))) || [];
    if (list.length) voicesCache = list.map((v) => (typeof v === 'string' ? { id: v, name: v } : v));
  } catch {
    /* fall through to the fixed list */
  }
  return voicesCache || FALLBACK_VOICES;
}

export const EVENT_TYPES = [
  'job.queued',
  'job.progress',
  'job.retry',
  'job.cancelled',
  'story.delta',
  'image.described',
  'story.ready',
  'audio.ready',
  'scene.queued',
  'scene.started',
  'scene.ready',
  'scene.failed',
  'job.succeeded',
  'job.failed',
];

// Opens a live event stream (path like '/api/events/') and keeps it open: every connection
// needs a fresh one-time ticket, so a dropped EventSource is closed and reopened here rather
// than left to the browser's own retry (which would replay a spent ticket).
// onEvent(type, data, id) gets each event; onState('live'|'reconnecting'|'unavailable') the state.
// Every event carries its stored id: a reconnect asks for what came after the last one seen
// (?last_event_id=), so nothing is lost while the connection was down. opts.since (a number,
// 0 = everything still stored) replays older events on the first connection too.
// After a reconnect onEvent('reconnected', {}) lets the page re-read what it may have missed.
export function openEvents(path, onEvent, onState = () => {}, opts = {}) {
  let es = null;
  let lastId = typeof opts.since === 'number' ? opts.since : -1;
  let closed = false;
  let delay = 1000;
  let timer = null;
  let connectedOnce = false;
  let failures = 0;

  const dispatch = (type, raw, id) => {
    const n = Number(id);
    if (id !== '' && Number.isInteger(n) && n > lastId) lastId = n;
    let data = {};
    try {
      data = raw ? JSON.parse(raw) : {};
    } catch {
      data = { text: raw };
    }
    onEvent(type, data, Number.isInteger(n) ? n : null);
  };

  const schedule = () => {
    if (closed) return;
    onState('reconnecting');
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, 15000);
  };

  async function connect() {
    if (closed) return;
    let ticket;
    try {
      const t = await api('/events/ticket/', { method: 'POST', body: {}, noAuthRedirect: false });
      ticket = t && t.ticket;
    } catch (e) {
      // No events endpoint yet (404/501): the page polls instead.
      if (e.status === 404 || e.status === 405 || e.status === 501) {
        onState('unavailable');
        return;
      }
      failures++;
      if (failures > 8) {
        onState('unavailable');
        return;
      }
      schedule();
      return;
    }
    if (closed || !ticket) {
      if (!ticket) onState('unavailable');
      return;
    }
    const sep = path.includes('?') ? '&' : '?';
    const resume = lastId >= 0 ? '&last_event_id=' + lastId : '';
    es = new EventSource(path + sep + 'ticket=' + encodeURIComponent(ticket) + resume);
    es.onopen = () => {
      delay = 1000;
      failures = 0;
      onState('live');
      if (connectedOnce) onEvent('reconnected', {});
      connectedOnce = true;
    };
    for (const type of EVENT_TYPES) es.addEventListener(type, (e) => dispatch(type, e.data, e.lastEventId));
    // Unnamed events may carry their type inside the data.
    es.onmessage = (e) => {
      try {
        const d = JSON.parse(e.data);
        if (d && typeof d.type === 'string') onEvent(d.type, d.data || d, null);
      } catch {
        /* a comment or keep-alive */
      }
    };
    es.onerror = () => {
      if (es) es.close();
      es = null;
      failures++;
      if (failures > 8) {
        onState('unavailable');
        return;
      }
      schedule();
    };
  }

  connect();
  return {
    lastEventId: () => lastId,
    close() {
      closed = true;
      clearTimeout(timer);
      if (es) es.close();
      es = null;
    },
  };
}

// The states after which a job changes no more ('partial': some scenes failed, the rest are done).
export const TERMINAL_STATES = ['succeeded', 'partial', 'failed', 'cancelled'];

// Polls GET /api/jobs/{id}/ until the job ends (for when no event stream is available).
export function pollJob(jobId, onUpdate, intervalMs = 1500) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    try {
      const job = await api('/jobs/' + encodeURIComponent(jobId) + '/');
      onUpdate(job);
      if (TERMINAL_STATES.includes(job.state)) return;
    } catch (e) {
      if (e.status === 404) return;
    }
    timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, 200);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
