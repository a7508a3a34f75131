// Boot: the session, the sign-in screen, the hash router, the tab bar and the offline banner.
//
// A screen is a module of js/screens/, opened by the hash #/NAME/arg1/arg2 (SCREENS below
// names the module of each NAME):
//   export const roles = ['engineer'];          // optional: who may open it
//   export const title = 'tab.today';           // optional: an i18n key (or a function of ctx)
//   export default async function render(ctx) { ... }   // fills ctx.main
// ctx = {main, params, user, navigate, setTitle, signOut, currentUser, updateUser, onCleanup,
//        isCurrent, rerender}
import { t, register, locale, setLocale, onLocaleChange } from './i18n.js';
import * as api from './api.js';
import * as queue from './outbox-client.js';
import { h, svg, clear, button, field, loading, errorState, toast, clearToasts, languageSwitch } from './ui.js';

// Each screen's module, by the name in the hash. Literal paths, so that a reader (and a
// test) can follow every import.
const SCREENS = {
  alerts: () => import('./screens/alerts.js'),
  dispatch: () => import('./screens/dispatch.js'),
  engineer: () => import('./screens/team-member.js'),
  feedback: () => import('./screens/feedback.js'),
  job: () => import('./screens/job.js'),
  knowledge: () => import('./screens/knowledge.js'),
  kpis: () => import('./screens/kpis.js'),
  me: () => import('./screens/me.js'),
  outbox: () => import('./screens/waiting-actions.js'),
  queue: () => import('./screens/verification.js'),
  report: () => import('./screens/report.js'),
  reviews: () => import('./screens/reviews.js'),
  team: () => import('./screens/team.js'),
  today: () => import('./screens/today.js'),
  visits: () => import('./screens/visits.js'),
};
function loadScreen(name) {
  return Object.hasOwn(SCREENS, name) ? SCREENS[name]() : Promise.reject(new Error(`no screen ${name}`));
}

const TABS = {
  engineer: ['today', 'kpis', 'knowledge', 'me'],
  supervisor: ['queue', 'dispatch', 'team', 'alerts', 'reviews', 'me'],
};
// Tab icons: SVG paths on a 24×24 grid, drawn with the text colour.
const ICONS = {
  today: 'M4 5h16v15H4zM4 9h16M8 3v4M16 3v4M8 13h3v3H8z',
  kpis: 'M4 20V10M10 20V4M16 20v-7M22 20H2',
  knowledge: 'M4 4h6a3 3 0 0 1 2 1 3 3 0 0 1 2-1h6v15h-6a2 2 0 0 0-2 2 2 2 0 0 0-2-2H4zM12 5v16',
  me: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0',
  queue: 'M9 11l2 2 4-4M5 4h14v16H5z',
  team: 'M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM17 11a3 3 0 1 0 0-6M2 20a7 7 0 0 1 14 0M16 14a6 6 0 0 1 6 6',
  alerts: 'M12 3l10 18H2zM12 10v5M12 18v.5',
  reviews: 'M6 3h9l4 4v14H6zM9 11h7M9 15h7M9 7h3',
  dispatch: 'M12 21s-7-6-7-11a7 7 0 0 1 14 0c0 5-7 11-7 11zM12 12a2 2 0 1 0 0-4 2 2 0 0 0 0 4z',
};
function icon(name) {
  return svg('svg', { viewBox: '0 0 24 24', class: 'tab-icon', 'aria-hidden': 'true' }, svg('path', { d: ICONS[name] || ICONS.me }));
}
TABS.admin = TABS.supervisor;
const HOME = { engineer: 'today', supervisor: 'queue', admin: 'queue' };
const SESSION_KEY = 'fieldproof.user';

let user = null;
let cleanups = [];
let routeSeq = 0;
let rendering = null;

export function currentUser() { return user; }
// The signed-in user as the server now has them (after a change of their own, say their
// phone number): kept for the next start offline too.
export function updateUser(changes) {
  if (!user) return;
  user = { ...user, ...changes };
  try { localStorage.setItem(SESSION_KEY, JSON.stringify(user)); } catch { /* ignore */ }
}
export function navigate(hash) { if (location.hash === hash) route(); else location.hash = hash; }

function setTitle(text) {
  document.getElementById('screen-title').textContent = text;
  document.title = `${text} · ${t('app.name')}`;
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', params: parts.slice(1) };
}

function renderTabs(active) {
  const nav = document.getElementById('tabs');
  const tabs = user ? TABS[user.role] || [] : [];
  nav.hidden = tabs.length === 0;
  nav.setAttribute('aria-label', t('nav.main'));
  clear(nav, tabs.map((name) => h('a', {
    class: 'tab', href: `#/${name}`, 'aria-current': name === active ? 'page' : null,
  }, icon(name), h('span', {}, t(`tab.${name}`)))));
}

async function route() {
  const seq = ++routeSeq;
  clearToasts();  // a notice belongs to the screen it was raised on
  for (const fn of cleanups.splice(0)) { try { fn(); } catch (e) { console.error(e); } }
  if (!user) { renderSignIn(); return; }
  const { name, params } = parseHash();
  if (!name) { location.replace(`#/${HOME[user.role] || 'me'}`); return; }
  renderTabs(name);
  // Each visit of a screen draws into a container of its own: a screen that answers late
  // (after the user moved on) fills a detached element, never the screen now shown.
  const main = h('div', { class: 'view' });
  clear(document.getElementById('main'), main);
  clear(main, loading());
  let screen;
  try {
    screen = await loadScreen(name);
  } catch (error) {
    if (seq !== routeSeq) return;
    console.error(error);
    setTitle(t('app.name'));
    clear(main, errorState(navigator.onLine ? { code: 'NOT_FOUND' } : { network: true }, () => route()));
    return;
  }
  if (seq !== routeSeq) return;
  if (screen.roles && !screen.roles.includes(user.role)) {
    location.replace(`#/${HOME[user.role] || 'me'}`);
    return;
  }
  const ctx = {
    main, params, user, navigate,
    setTitle, signOut, currentUser, updateUser,
    onCleanup: (fn) => cleanups.push(fn),
    isCurrent: () => seq === routeSeq,
    rerender: () => route(),
  };
  const title = typeof screen.title === 'function' ? screen.title(ctx) : screen.title;
  setTitle(title ? t(title) : t(`tab.${name}`));
  try {
    rendering = (screen.default || screen.render)(ctx);
    await rendering;
  } catch (error) {
    if (seq !== routeSeq) return;
    console.error(error);
    clear(main, errorState(error, () => route()));
  }
}

// ---- Sign-in (online only) ----
function renderSignIn() {
  renderTabs(null);
  setTitle(t('signin.title'));
  const email = h('input', { class: 'input', type: 'email', name: 'email', autocomplete: 'username', required: true, inputmode: 'email' });
  const password = h('input', { class: 'input', type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const message = h('p', { class: 'field-error', role: 'alert' });
  const submit = h('button', { class: 'btn btn-primary btn-block btn-big', type: 'submit' }, t('signin.submit'));
  const form = h('form', {
    class: 'form', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      message.textContent = '';
      if (!email.value || !password.value) { message.textContent = t('signin.failed'); return; }
      submit.disabled = true;
      try {
        const session = await api.post('auth/login', { email: email.value.trim(), password: password.value });
        startSession(session, { fresh: true });
      } catch (error) {
        message.textContent = error.network ? t('signin.offline')
          : error.code === 'INVALID_CREDENTIALS' || error.status === 401 ? t('signin.failed') : t(`error.${error.code}`);
        submit.disabled = false;
        password.focus();
      }
    },
  }, field(t('signin.email'), email), field(t('signin.password'), password), message, submit);
  clear(document.getElementById('main'), h('section', { class: 'signin' },
    h('p', { class: 'brand' }, t('app.name')), h('h2', {}, t('signin.title')), form, languageSwitch()));
}

// The language chosen on this phone is also the signed-in user's (their e-mails, the PDF).
function saveLocale(code) {
  if (user && user.locale !== code) {
    user = { ...user, locale: code };
    api.request('PATCH', `users/${user.id}`, { json: { locale: code } }).catch(() => {});
  }
}

function startSession(session, { fresh = false } = {}) {
  user = session.user;
  api.setSession(session);
  try { localStorage.setItem(SESSION_KEY, JSON.stringify(session.user)); } catch { /* ignore */ }
  let saved = null;
  try { saved = localStorage.getItem('fieldproof.locale'); } catch { /* ignore */ }
  if (!saved && user.locale) setLocale(user.locale, { save: false });
  queue.flush();
  // After signing in with no screen asked for, go home (the hash change routes).
  if (fresh && !parseHash().name) location.hash = `#/${HOME[user.role] || 'me'}`;
  else route();
}

async function signOut() {
  try { await api.post('auth/logout'); } catch { /* offline: the cookie goes at its expiry */ }
  user = null;
  api.setSession(null);
  await api.clearCache();
  try { localStorage.removeItem(SESSION_KEY); } catch { /* ignore */ }
  location.hash = '';
  route();
}

// ---- The banner: offline, waiting actions, refused actions ----
function renderBanner(state) {
  const area = document.getElementById('banner');
  const parts = [];
  if (!navigator.onLine) {
    parts.push(h('div', { class: 'banner banner-offline' }, h('span', { class: 'banner-text' }, t('banner.offline'))));
  }
  if (state.waiting > 0) {
    parts.push(h('div', { class: 'banner banner-waiting', 'data-testid': 'waiting-banner' },
      h('span', { class: 'banner-text' }, t('banner.waiting', { n: state.waiting })),
      navigator.onLine ? button(t('banner.send_now'), () => queue.flush(), { kind: 'primary' }) : null,
      h('a', { class: 'btn', href: '#/outbox' }, t('banner.show'))));
  }
  if (state.refused > 0) {
    parts.push(h('div', { class: 'banner banner-refused' },
      h('span', { class: 'banner-text' }, t('banner.refused', { n: state.refused })),
      h('a', { class: 'btn btn-danger', href: '#/outbox' }, t('banner.show'))));
  }
  clear(area, parts);
}

let feedbackHooked = false;

async function boot() {
  document.documentElement.lang = locale();
  document.querySelector('.skip-link').textContent = t('common.skip');
  if (location.pathname.startsWith('/f/')) {
    // The customer's rating page: no account, no tabs.
    const main = document.getElementById('main');
    try {
      const screen = await SCREENS.feedback();
      await (screen.default || screen.render)({
        main, params: [decodeURIComponent(location.pathname.slice(3))], user: null, navigate, setTitle,
        onCleanup: () => {}, isCurrent: () => true, rerender: () => boot(),
      });
    } catch (error) {
      console.error(error);
      clear(main, errorState(error, () => boot()));
    }
    if (!feedbackHooked) { feedbackHooked = true; onLocaleChange(() => boot()); }
    return;
  }
  window.addEventListener('hashchange', () => route());
  window.addEventListener('online', () => renderBanner(queue.current()));
  window.addEventListener('offline', () => renderBanner(queue.current()));
  window.addEventListener('fieldproof:signed-out', () => {
    if (user && navigator.onLine) {
      api.get('auth/me').catch((e) => { if (e.status === 401) { user = null; route(); } });
    }
  });
  onLocaleChange((code) => { saveLocale(code); if (user) route(); else renderSignIn(); renderBanner(queue.current()); });
  queue.subscribe(renderBanner);
  queue.start().catch((e) => console.error(e));
  let cached = null;
  try { cached = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null'); } catch { /* ignore */ }
  try {
    // Nobody signed in on this phone: straight to the sign-in form (no 401 to log).
    if (!cached) throw new api.ApiError(401, { code: 'UNAUTHORIZED' });
    // Fetch the screen's code while the session is checked, not after (one round trip less).
    const first = parseHash().name || HOME[cached.role];
    loadScreen(first).catch(() => {});
    startSession(await api.get('auth/me'));
  } catch (error) {
    if (error.network && cached) {
      // Offline with a session from before: open the app; actions wait in the outbox.
      user = cached;
      api.setSession({ user: cached, csrf_token: null });
      route();
    } else {
      user = null;
      route();
    }
  }
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => console.warn('service worker', e));
  }
}

register({ en: {}, 'zh-CN': {} });
boot();
