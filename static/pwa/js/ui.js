// DOM helpers and the designed states (loading, empty, error, offline). No innerHTML with
// data: text goes in as text. Styles only through classes or CSSOM (`style: {width: '40%'}`),
// which the Content-Security-Policy allows.
import { t, problemText, locale, setLocale } from './i18n.js';

// h('button', {class: 'btn', onclick: fn, 'aria-label': '…'}, 'text', child, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'style') Object.assign(el.style, v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string' && !k.startsWith('aria-')) el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}
export function clear(el, ...children) { el.replaceChildren(); append(el, children); return el; }

// An SVG element (charts, diagrams): svg('circle', {cx: 1, class: 'x'}, children...).
const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v);
  append(el, children);
  return el;
}

export const button = (label, onclick, { kind = '', ...attrs } = {}) =>
  h('button', { type: 'button', class: ['btn', kind && kind.split(' ').map((k) => `btn-${k}`).join(' ')], onclick, ...attrs }, label);
export const link = (label, href, { kind = '', ...attrs } = {}) =>
  h('a', { class: ['btn', kind && kind.split(' ').map((k) => `btn-${k}`).join(' ')], href, ...attrs }, label);
export const chip = (label, tone = '') => h('span', { class: ['chip', tone && `chip-${tone}`] }, label);

let fieldSeq = 0;
// A labelled control: field(t('x'), h('input', {...})) → <div class=field><label for=…>…</label>control</div>
export function field(label, control, { hint, error } = {}) {
  if (!control.id) control.id = `f${++fieldSeq}`;
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) parts.push(h('p', { class: 'meta', id: `${control.id}-hint` }, hint));
  const err = h('p', { class: 'field-error', id: `${control.id}-error`, hidden: !error }, error || '');
  parts.push(err);
  control.setAttribute('aria-describedby', [hint && `${control.id}-hint`, `${control.id}-error`].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, parts);
}
// Shows the server's per-field errors (problem.errors) beside the controls named like them.
export function showFieldErrors(form, errors) {
  form.querySelectorAll('.field-error').forEach((p) => { p.hidden = true; p.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((c) => c.removeAttribute('aria-invalid'));
  let first = null;
  for (const [name, messages] of Object.entries(errors || {})) {
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!control) continue;
    control.setAttribute('aria-invalid', 'true');
    const p = form.querySelector(`#${CSS.escape(control.id)}-error`);
    if (p) { p.textContent = [].concat(messages).join(' '); p.hidden = false; }
    first = first || control;
  }
  if (first) first.focus();
}

export function loading(text = t('common.loading')) {
  return h('p', { class: 'state state-loading', role: 'status' }, text);
}
export function empty(text = t('common.empty'), action = null) {
  return h('div', { class: 'state state-empty' }, h('p', {}, text), action);
}
// An error state with a way out: try again (and the message in the user's language).
export function errorState(error, retryFn) {
  const text = error && error.network ? t('common.offline_nodata') : problemText(error);
  return h('div', { class: 'state state-error', role: 'alert' }, h('p', {}, text),
    retryFn ? button(t('common.retry'), retryFn) : null);
}
export function staleNote(stale) {
  return stale ? h('p', { class: 'banner banner-offline', role: 'status' }, t('common.offline_stale')) : null;
}

// Renders `render()` into `el` with loading and error states; `render` returns nodes.
export async function withStates(el, render) {
  clear(el, loading());
  try {
    clear(el, await render());
  } catch (error) {
    if (error && error.name === 'AbortError') return;
    console.error(error);
    clear(el, errorState(error, () => withStates(el, render)));
  }
}

// Notices: one at a time, over the top bar (never over the buttons, flags or QR code the
// engineer needs next), the others waiting their turn; a tap dismisses one. A new screen
// drops those of the screen before (clearToasts, on every route), but keeps one raised in
// the last moment: the confirmation of the action that moved to it ("Case submitted").
// The same text is never queued twice.
const notices = [];
const FRESH_MS = 1500;
let shown = null;

export function toast(text, tone = '', ms = 3000) {
  if ((shown && shown.text === text) || notices.some((n) => n.text === text)) return;
  notices.push({ text, tone, ms, at: Date.now() });
  if (!shown) showNext();
}

function showNext() {
  const box = document.getElementById('toasts');
  const notice = notices.shift();
  shown = notice || null;
  if (!notice || !box) { if (box) clear(box); return; }
  let timer = 0;
  const done = () => { clearTimeout(timer); if (shown === notice) showNext(); };
  notice.el = h('div', { class: ['toast', notice.tone && `toast-${notice.tone}`], onclick: done }, notice.text);
  clear(box, notice.el);
  timer = setTimeout(done, notice.ms);
}

export function clearToasts() {
  const fresh = (n) => Date.now() - n.at < FRESH_MS;
  const kept = notices.filter(fresh);
  notices.splice(0, notices.length, ...kept);
  if (shown && !fresh(shown)) showNext();
}

// A stylesheet beyond the shell's (supervisor.css, feedback.css), loaded once when a screen
// that needs it first opens (kept out of the shell that every engineer's phone loads
// first). Resolves when it applies.
const sheets = new Map();
export function useStyles(name = 'supervisor') {
  if (!sheets.has(name)) {
    sheets.set(name, new Promise((resolve) => {
      const href = `/pwa/${name}.css`;
      const existing = document.querySelector(`link[rel=stylesheet][href="${href}"]`);
      if (existing) { resolve(); return; }
      const sheet = document.createElement('link');
      sheet.rel = 'stylesheet';
      sheet.href = href;
      sheet.onload = () => resolve();
      sheet.onerror = () => resolve(); // unstyled beats blank
      document.head.append(sheet);
    }));
  }
  return sheets.get(name);
}

// The screen's own box in <main>, put there before anything is awaited: when the user moves
// on meanwhile, the router replaces it, and what this screen draws later lands nowhere.
export function mount(ctx) {
  const root = document.createElement('div');
  ctx.main.replaceChildren(root);
  return root;
}

// The two languages as buttons, each named in its own language. Choosing one sets it here
// (and the app, listening, saves it to the signed-in user).
export function languageSwitch() {
  return h('div', { class: 'btn-row', role: 'group', 'aria-label': 'Language / 语言' },
    [['en', 'English'], ['zh-CN', '简体中文']].map(([code, label]) => h('button', {
      type: 'button', class: ['btn', locale() === code && 'btn-primary'], lang: code,
      'aria-pressed': String(locale() === code), onclick: () => setLocale(code),
    }, label)));
}
