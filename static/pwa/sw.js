// The service worker: keeps the app shell for offline use and sends the outbox by
// Background Sync. The server writes the version (a digest of the app's files) and the
// list of files into this script, so any change installs a new worker and a new cache.
// API answers are never cached here: the page keeps its own per-user copy in IndexedDB,
// cleared at sign-out, so one person's data is never served to another.
/* global FieldProofOutbox */
importScripts('/pwa/js/outbox-store.js');

const VERSION = '__SHELL_VERSION__';
const SHELL = "__SHELL_FILES__";
const CACHE = `fieldproof-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('fieldproof-shell-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (request.mode === 'navigate') {
    // Every page of the app is the one shell (/, /f/<token>); the hash picks the screen.
    event.respondWith(caches.match('/', { cacheName: CACHE, ignoreVary: true }).then((hit) => hit || fetch(request)));
    return;
  }
  if (url.pathname.startsWith('/pwa/') || url.pathname === '/manifest.webmanifest') {
    event.respondWith(caches.match(url.pathname, { cacheName: CACHE, ignoreVary: true }).then((hit) => hit || fetch(request)));
  }
});

async function sendOutbox() {
  const outcome = await FieldProofOutbox.flush();
  // Rejecting makes the browser try the sync again later.
  if (outcome.stopped === 'network' || outcome.stopped === 'later') throw new Error(`outbox: ${outcome.stopped}`);
}

self.addEventListener('sync', (event) => {
  if (event.tag === 'outbox') event.waitUntil(sendOutbox());
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'flush') event.waitUntil(sendOutbox().catch(() => {}));
});
