// The API client: JSON in and out, the CSRF header on changes, problem+json → ApiError.
// Reads: get() fails offline; load() falls back to the last copy kept in IndexedDB.
// Changes that a person makes go through the outbox (outbox-client.js), not through here.
import './outbox-store.js';

const box = self.FieldProofOutbox;
const BASE = '/api/v1/';
let csrfToken = null;
let userId = null;

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || `HTTP_${status}`;
    this.detail = problem.detail || '';
    this.errors = problem.errors || null;
    this.missing = Array.isArray(problem.missing) ? problem.missing : null; // CLOSE_REQUIREMENTS_UNMET
  }
}
export class NetworkError extends Error {
  constructor() { super('network'); this.network = true; this.code = 'NETWORK'; }
}

export function setSession(session) {
  csrfToken = session ? session.csrf_token : null;
  userId = session ? session.user.id : null;
  // Offline with a remembered user there is no token: keep the stored one for the worker.
  if (csrfToken || !session) box.setMeta('csrf', csrfToken).catch(() => {});
  box.setMeta('user_id', userId).catch(() => {});
}
export function csrf() { return csrfToken; }

function url(path, query) {
  let u = path.startsWith('/') ? path : BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) u += (u.includes('?') ? '&' : '?') + s;
  }
  return u;
}

export async function request(method, path, { json, query, headers = {}, signal } = {}) {
  const h = { Accept: 'application/json', ...headers };
  const init = { method, headers: h, credentials: 'same-origin', cache: 'no-store', signal };
  if (json !== undefined) { h['Content-Type'] = 'application/json'; init.body = JSON.stringify(json); }
  if (method !== 'GET' && csrfToken) h['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new NetworkError();
  }
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!response.ok) {
    const error = new ApiError(response.status, body || {});
    if (response.status === 401) window.dispatchEvent(new CustomEvent('fieldproof:signed-out'));
    throw error;
  }
  return body;
}

export const get = (path, query, opts) => request('GET', path, { query, ...opts });
export const post = (path, json, opts) => request('POST', path, { json, ...opts });

// A read that survives going offline: {data, stale, at}. The copy is per user and is
// cleared on sign-out; the service worker never caches /api/ answers.
export async function load(path, query) {
  const key = url(path, query);
  try {
    const data = await get(path, query);
    box.cachePut({ url: key, user_id: userId, data, at: Date.now() }).catch(() => {});
    return { data, stale: false, at: Date.now() };
  } catch (e) {
    if (!e.network) throw e;
    const row = await box.cacheGet(key).catch(() => null);
    if (row && row.user_id === userId) return { data: row.data, stale: true, at: row.at };
    throw e;
  }
}

// Every page of a list (up to `max` items).
export async function loadAll(path, query = {}, max = 600) {
  const items = [];
  let stale = false;
  for (let page = 1; items.length < max; page += 1) {
    const r = await load(path, { ...query, page, per_page: 200 });
    stale = stale || r.stale;
    items.push(...r.data.items);
    if (r.data.items.length < 200 || items.length >= r.data.total) break;
  }
  return { data: items, stale };
}

export async function clearCache() { await box.cacheClear().catch(() => {}); }
