// The page's side of the offline outbox (outbox-store.js): submit an action, watch what waits.
//
//   const r = await submit({kind: 'checkin', path: 'visits/check-in', json: {...}, job_id: 12});
//   r.status === 'sent'    → r.body is the server's answer
//   r.status === 'queued'  → no network (or a busy server): kept, sent later in order
//   throws ApiError        → refused (4xx); the entry stays, marked refused, until dismissed
//
// Photos: {kind: 'photo', path: `jobs/${id}/photos`, form: {fields: {kind: 'after'}, file: blob, filename}}.
// A later action may use an earlier queued one's answer: `visits/{{KEY.id}}/check-out`.
import './outbox-store.js';
import { ApiError } from './api.js';

const box = self.FieldProofOutbox;
const listeners = new Set();
const progress = new Map(); // key → {loaded, total}
let state = { waiting: 0, refused: 0, sending: null, entries: [] };
let running = null; // the flush under way
let next = null; // one more flush after it, for actions added meanwhile
let timer = null;

export function nowIso() { return new Date().toISOString(); }

function emit() { for (const fn of listeners) { try { fn(state); } catch (e) { console.error(e); } } }

async function refresh() {
  const entries = await box.entries();
  state = {
    ...state,
    entries,
    waiting: entries.filter((e) => e.state !== 'refused').length,
    refused: entries.filter((e) => e.state === 'refused').length,
  };
  emit();
  schedule();
}

function onMessage(message) {
  if (message.type === 'sending') state = { ...state, sending: message.key };
  if (message.type === 'sent' || message.type === 'refused') { progress.delete(message.key); state = { ...state, sending: null }; }
  refresh();
}

// subscribe(fn): fn(state) now and on every change; returns the unsubscribe function.
export function subscribe(fn) {
  listeners.add(fn);
  fn(state);
  return () => listeners.delete(fn);
}
export function current() { return state; }
export function progressOf(key) { return progress.get(key) || null; }

function onProgress(entry, loaded, total) {
  progress.set(entry.key, { loaded, total });
  emit();
}

function flushOnce() {
  running = box.flush({ onProgress }).then(async (outcome) => {
    if (outcome.stopped === 'network' || outcome.stopped === 'later') await registerSync();
    if (outcome.stopped === 'auth') window.dispatchEvent(new CustomEvent('fieldproof:signed-out'));
    return outcome;
  }).catch((e) => { console.error(e); return { sent: 0, stopped: 'error' }; })
    .finally(() => { running = null; refresh(); });
  return running;
}

// Send what waits now, one flush at a time: a call during a flush gets one more flush
// after it (so an action added meanwhile is not left for later). Registers a Background
// Sync when stopped by the network.
export function flush() {
  if (!running) return flushOnce();
  if (!next) next = running.then(() => { next = null; return flushOnce(); });
  return next;
}

// The registration as it is now, not `ready`: `ready` waits for an active worker, which
// never comes when the network went while the worker was installing, and the flush (and
// the action submitted with it) would wait with it.
async function registerSync() {
  try {
    const reg = await navigator.serviceWorker?.getRegistration();
    if (reg && reg.active && reg.sync) await reg.sync.register('outbox');
  } catch (e) { /* Background Sync unavailable: the online event and app start cover it */ }
}

function schedule() {
  clearTimeout(timer);
  if (state.waiting > 0 && navigator.onLine) timer = setTimeout(() => flush(), 30000);
}

export async function submit(action) {
  const entry = await box.add(action);
  await refresh();
  await flush();
  const body = await box.result(entry.key);
  if (body !== undefined) return { status: 'sent', body, key: entry.key };
  const left = (await box.entries()).find((e) => e.key === entry.key);
  if (left && left.state === 'refused') {
    const error = new ApiError(left.error.status, left.error);
    error.entry = left;
    throw error;
  }
  return { status: 'queued', key: entry.key };
}

export async function dismiss(seq) { await box.dismiss(seq); await refresh(); }
export async function retry(seq) { await box.retry(seq); await refresh(); return flush(); }
export function result(key) { return box.result(key); }
export function pending(filter = () => true) { return state.entries.filter(filter); }

export function start() {
  if (typeof BroadcastChannel === 'undefined') box.onlocal = onMessage;
  else new BroadcastChannel(box.CHANNEL).onmessage = (ev) => onMessage(ev.data);
  window.addEventListener('online', () => flush());
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') flush(); });
  return refresh().then(() => flush());
}
