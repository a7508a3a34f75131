// The offline outbox, shared by the page (imported for its side effect by outbox-client.js
// and api.js) and the service worker (importScripts). A classic script: it defines
// self.FieldProofOutbox.
//
// Every action that changes something is stored here first (IndexedDB), with its
// Idempotency-Key and the client_time of the moment it was made, and sent in order.
// A network failure stops the flush and keeps the action; a 2xx removes it and keeps the
// answer (so that a later action can use, say, the visit id of a check-in that was itself
// queued: "{{KEY.id}}" in a path or body is replaced at send time by field `id` of the
// answer to the action with Idempotency-Key KEY); a refused action (4xx) stays, marked
// with the server's problem, until the user dismisses it.
(function (scope) {
  'use strict';
  const DB_NAME = 'fieldproof';
  const DB_VERSION = 1;
  const CHANNEL = 'fieldproof-outbox';
  const API = '/api/v1/';
  const RESULT_DAYS = 7;
  const SLOWEST_LINK = 16; // bytes per millisecond (16 kB/s) an upload is given time for
  let dbPromise = null;

  function req(r) {
    return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  }
  function open() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const r = indexedDB.open(DB_NAME, DB_VERSION);
        r.onupgradeneeded = () => {
          const db = r.result;
          if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
          if (!db.objectStoreNames.contains('results')) db.createObjectStore('results', { keyPath: 'key' });
          if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', { keyPath: 'name' });
          if (!db.objectStoreNames.contains('cache')) db.createObjectStore('cache', { keyPath: 'url' });
        };
        r.onsuccess = () => {
          const db = r.result;
          db.onversionchange = () => { db.close(); dbPromise = null; };
          resolve(db);
        };
        r.onerror = () => { dbPromise = null; reject(r.error); };
      });
    }
    return dbPromise;
  }
  async function tx(store, mode, fn) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const t = db.transaction(store, mode);
      let out;
      Promise.resolve(fn(t.objectStore(store))).then((v) => { out = v; }, reject);
      t.oncomplete = () => resolve(out);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  }
  const get = (store, key) => tx(store, 'readonly', (s) => req(s.get(key)));
  const put = (store, value) => tx(store, 'readwrite', (s) => req(s.put(value)));
  const del = (store, key) => tx(store, 'readwrite', (s) => req(s.delete(key)));
  const all = (store) => tx(store, 'readonly', (s) => req(s.getAll()));
  const clear = (store) => tx(store, 'readwrite', (s) => req(s.clear()));

  let channel = null;
  function announce(message) {
    try {
      if (!channel) channel = new BroadcastChannel(CHANNEL);
      channel.postMessage(message);
    } catch (e) { /* no BroadcastChannel: the page polls on its own events */ }
    if (typeof BroadcastChannel === 'undefined' && scope.FieldProofOutbox.onlocal) scope.FieldProofOutbox.onlocal(message);
  }

  async function getMeta(name) { const row = await get('meta', name); return row ? row.value : null; }
  async function setMeta(name, value) { return put('meta', { name, value }); }

  function uuid() {
    if (scope.crypto && scope.crypto.randomUUID) return scope.crypto.randomUUID();
    const b = scope.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // entry: {kind, method, path, json?, form?: {fields, file: Blob, filename}, job_id?, label?}
  async function add(entry) {
    const row = Object.assign({
      key: uuid(), method: 'POST', state: 'waiting', attempts: 0,
      created_at: new Date().toISOString(), user_id: await getMeta('user_id'),
    }, entry);
    row.seq = await put('outbox', row);
    announce({ type: 'changed' });
    return row;
  }
  async function entries() {
    const uid = await getMeta('user_id');
    return (await all('outbox')).filter((e) => uid === null || e.user_id === uid).sort((a, b) => a.seq - b.seq);
  }
  async function dismiss(seq) { await del('outbox', seq); announce({ type: 'changed' }); }
  async function retry(seq) {
    const e = await get('outbox', seq);
    if (e) { e.state = 'waiting'; delete e.error; await put('outbox', e); announce({ type: 'changed' }); }
  }
  async function result(key) { const row = await get('results', key); return row ? row.body : undefined; }

  // "{{KEY.field}}" → the field of the stored answer to the action with that key.
  const PLACEHOLDER = /\{\{([A-Za-z0-9-]+)\.(\w+)\}\}/g;
  function keysIn(value, out) {
    if (typeof value === 'string') { for (const m of value.matchAll(PLACEHOLDER)) out.add(m[1]); }
    else if (Array.isArray(value)) value.forEach((v) => keysIn(v, out));
    else if (value && typeof value === 'object' && !(value instanceof Blob)) Object.values(value).forEach((v) => keysIn(v, out));
    return out;
  }
  function fill(value, answers) {
    if (typeof value === 'string') {
      const whole = value.match(/^\{\{([A-Za-z0-9-]+)\.(\w+)\}\}$/);
      if (whole) return answers[whole[1]][whole[2]]; // keeps numbers numbers
      return value.replace(PLACEHOLDER, (m, k, f) => String(answers[k][f]));
    }
    if (Array.isArray(value)) return value.map((v) => fill(v, answers));
    if (value && typeof value === 'object' && !(value instanceof Blob)) {
      const out = {};
      for (const [k, v] of Object.entries(value)) out[k] = fill(v, answers);
      return out;
    }
    return value;
  }

  async function problemOf(status, text) {
    let body = null;
    try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
    return { status, code: (body && body.code) || `HTTP_${status}`, detail: (body && body.detail) || '', errors: (body && body.errors) || null };
  }

  // One request; resolves {status, text} or rejects on a network failure. A request that
  // shows no sign of life for `stallMs` is given up as one: on a weak network a request
  // can hang for minutes, and every action behind it, and the screen that sent it, would
  // wait with it. Sent again later under the same Idempotency-Key, it is done once
  // (replayed if it had arrived). An upload is also given the time its bytes take on the
  // slowest link (SLOWEST_LINK): all of it when sent by fetch, which tells nothing of its
  // progress (the service worker's), and once handed over when sent with its progress
  // (the page's), whose bytes may still be on their way.
  function send(entry, path, json, fields, csrf, onProgress) {
    const headers = { 'Idempotency-Key': entry.key, Accept: 'application/json' };
    if (csrf) headers['X-CSRF-Token'] = csrf;
    let body;
    if (entry.form) {
      body = new FormData();
      for (const [k, v] of Object.entries(fields || {})) body.append(k, v);
      body.append('file', entry.form.file, entry.form.filename || 'photo.jpg');
    } else if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    }
    const url = API + path;
    const patience = box.stallMs + (entry.form ? entry.form.file.size / SLOWEST_LINK : 0);
    if (entry.form && onProgress && typeof XMLHttpRequest !== 'undefined') {
      return new Promise((resolve, reject) => {
        const x = new XMLHttpRequest();
        let stalled = null;
        let wait = box.stallMs;
        const alive = () => { clearTimeout(stalled); stalled = setTimeout(() => x.abort(), wait); };
        x.open(entry.method, url);
        for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
        x.upload.onprogress = (ev) => { alive(); onProgress(entry, ev.loaded, ev.lengthComputable ? ev.total : 0); };
        x.upload.onload = () => { wait = patience; alive(); };
        x.onprogress = alive;
        x.onloadend = () => clearTimeout(stalled);
        x.onload = () => resolve({ status: x.status, text: x.responseText });
        x.onerror = () => reject(new TypeError('network'));
        x.ontimeout = () => reject(new TypeError('network'));
        x.onabort = () => reject(new TypeError('network'));
        x.send(body);
        alive();
      });
    }
    const stall = new AbortController();
    const stalled = setTimeout(() => stall.abort(), patience);
    return fetch(url, { method: entry.method, headers, body, credentials: 'same-origin', cache: 'no-store', signal: stall.signal })
      .then(async (r) => ({ status: r.status, text: await r.text() }))
      .finally(() => clearTimeout(stalled));
  }

  async function refreshCsrf() {
    try {
      const r = await fetch(API + 'auth/me', { credentials: 'same-origin', cache: 'no-store' });
      if (!r.ok) return null;
      const body = await r.json();
      await setMeta('csrf', body.csrf_token);
      return body.csrf_token;
    } catch (e) { return null; }
  }

  // Send what waits, in order. Resolves {sent, stopped}: stopped is null (all done),
  // 'network', 'auth' (signed out) or 'later' (busy server, rate limit, key in progress).
  async function flushNow(options) {
    const onProgress = options && options.onProgress;
    let csrf = await getMeta('csrf');
    let sent = 0;
    const refusedKeys = new Set();
    for (const entry of await entries()) {
      if (entry.state === 'refused') { refusedKeys.add(entry.key); continue; }
      const needs = keysIn([entry.path, entry.json, entry.form && entry.form.fields], new Set());
      const answers = {};
      let blocked = null;
      for (const k of needs) {
        const answer = await result(k);
        if (answer !== undefined) answers[k] = answer;
        else blocked = refusedKeys.has(k) ? 'refused' : 'missing';
      }
      if (blocked) {
        entry.state = 'refused';
        entry.error = { status: 0, code: 'DEPENDENCY_REFUSED', detail: '' };
        await put('outbox', entry);
        refusedKeys.add(entry.key);
        announce({ type: 'refused', key: entry.key });
        continue;
      }
      const path = fill(entry.path, answers);
      const json = entry.json === undefined ? undefined : fill(entry.json, answers);
      const fields = entry.form ? fill(entry.form.fields || {}, answers) : null;
      announce({ type: 'sending', key: entry.key });
      let response;
      try {
        response = await send(entry, path, json, fields, csrf, onProgress);
        if (response.status === 403 && response.text.includes('CSRF_FAILED')) {
          csrf = await refreshCsrf();
          if (csrf) response = await send(entry, path, json, fields, csrf, onProgress);
        }
      } catch (e) {
        announce({ type: 'changed' });
        return { sent, stopped: 'network' };
      }
      const { status, text } = response;
      if (status >= 200 && status < 300) {
        let body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        await put('results', { key: entry.key, body, at: Date.now() });
        await del('outbox', entry.seq);
        sent += 1;
        announce({ type: 'sent', key: entry.key, body });
        continue;
      }
      const problem = await problemOf(status, text);
      if (status === 401 || status === 403 && problem.code === 'CSRF_FAILED') {
        announce({ type: 'changed' });
        return { sent, stopped: 'auth' };
      }
      if (status === 429 || status >= 500 || problem.code === 'IDEMPOTENCY_IN_PROGRESS' || status === 0) {
        entry.attempts += 1;
        entry.last_error = problem;
        await put('outbox', entry);
        announce({ type: 'changed' });
        return { sent, stopped: 'later' };
      }
      entry.state = 'refused';
      entry.error = problem;
      await put('outbox', entry);
      refusedKeys.add(entry.key);
      announce({ type: 'refused', key: entry.key, error: problem });
    }
    await prune();
    return { sent, stopped: null };
  }

  async function prune() {
    const cutoff = Date.now() - RESULT_DAYS * 86400 * 1000;
    const waiting = await all('outbox');
    const needed = new Set();
    waiting.forEach((e) => keysIn([e.path, e.json, e.form && e.form.fields], needed));
    for (const row of await all('results')) {
      if (row.at < cutoff && !needed.has(row.key)) await del('results', row.key);
    }
  }

  // One flush at a time across the page's tabs and the service worker.
  function flush(options) {
    if (scope.navigator && scope.navigator.locks) {
      return scope.navigator.locks.request('fieldproof-outbox', () => flushNow(options));
    }
    return flushNow(options);
  }

  const box = scope.FieldProofOutbox = {
    CHANNEL, open, add, entries, dismiss, retry, result, flush, getMeta, setMeta, uuid,
    cacheGet: (url) => get('cache', url), cachePut: (row) => put('cache', row), cacheClear: () => clear('cache'),
    onlocal: null,
    stallMs: 20000, // see send()
  };
})(self);
