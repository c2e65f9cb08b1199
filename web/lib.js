// Shared by every page: words (i18n), DOM building, formats, the API client that turns problem
// documents into plain words, and the page lifecycle (timers die with their page).
import { cfg, session, refresh, clearSession } from './auth.js';
import en from './i18n/en.js';
import ko from './i18n/ko.js';

const dicts = { en, ko };
export let lang = localStorage.getItem('bnb.lang') || ((navigator.language || '').toLowerCase().startsWith('ko') ? 'ko' : 'en');
export function setLang(l) {
  lang = dicts[l] ? l : 'en';
  localStorage.setItem('bnb.lang', lang);
  document.documentElement.lang = lang;
}
export function t(key, p = {}) {
  const v = dicts[lang][key] ?? en[key] ?? key;
  return typeof v === 'function' ? v(p) : v.replace(/\{(\w+)\}/g, (_, k) => p[k] ?? '');
}

const SVG = 'http://www.w3.org/2000/svg';
// h('tag', {attrs, onclick, testid}, ...children); 'svg:rect' makes SVG elements.
export function h(tag, attrs, ...kids) {
  const el = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'testid') el.setAttribute('data-testid', v);
    else if (k === 'value' || k === 'checked') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

// A labelled input; `options` ([[value, label]]) makes a select, kind 'textarea' a textarea.
export function field(name, label, attrs = {}, kind = 'input') {
  const { options, hint, ...rest } = attrs;
  const id = `f-${name}`;
  const hintId = hint && `${id}-hint`;
  const input = options
    ? h('select', { id, name, ...rest }, options.map(([v, l]) => h('option', { value: v, selected: String(v) === String(rest.value) }, l)))
    : h(kind, { id, name, 'aria-describedby': hintId, ...rest });
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint && h('small', { id: hintId, class: 'muted' }, hint));
}
export const formData = (form) => Object.fromEntries(new FormData(form));

// Business dates are Asia/Seoul; dates travel as YYYY-MM-DD and are shown in UTC so they never shift.
// Today in Seoul: the server's date when it says (bnb-local's clock may run ahead), else this browser's.
export const today = () => cfg().today || new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Seoul' }).format(new Date());
export const addDays = (iso, n) => new Date(Date.parse(`${iso}T00:00:00Z`) + n * 864e5).toISOString().slice(0, 10);
export const nightsBetween = (a, b) => Math.round((Date.parse(b) - Date.parse(a)) / 864e5);
export const day = (iso, opts = { weekday: 'short', month: 'short', day: 'numeric' }) =>
  new Intl.DateTimeFormat(lang, { timeZone: 'UTC', ...opts }).format(new Date(`${iso}T00:00:00Z`));
export const when = (ts) => new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ts));
export const minorDigits = (cur) => {
  try { return new Intl.NumberFormat('en', { style: 'currency', currency: cur }).resolvedOptions().maximumFractionDigits; } catch { return 2; }
};
export function money(m) {
  if (!m) return '';
  const cur = m.currency || 'KRW';
  try { return new Intl.NumberFormat(lang, { style: 'currency', currency: cur }).format(m.amount / 10 ** minorDigits(cur)); } catch { return `${m.amount} ${cur}`; }
}
export function rating(r) {
  if (!r || !r.count) return h('span', { class: 'muted rating' }, t('rating.none'));
  const avg = Number(r.average).toFixed(1);
  // role=img: an aria-label on a plain span is not read out.
  return h('span', { class: 'rating', role: 'img', 'aria-label': t('rating.aria', { avg, n: r.count }) }, h('span', { 'aria-hidden': 'true' }, `★ ${avg} · ${t('rating.count', { n: r.count })}`));
}
export const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
  : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

// --- the API client -------------------------------------------------------------------------
export async function api(method, path, { body, headers = {}, auth = true, retried = false } = {}) {
  const s = auth && session();
  const init = { method, headers: { accept: 'application/json, application/problem+json', ...headers } };
  if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  if (s) init.headers.authorization = `Bearer ${s.token}`;
  let r;
  try { r = await fetch(cfg().apiBase + path, init); } catch { return { ok: false, status: 0, problem: { slug: 'network' } }; }
  if (r.status === 401 && s) {
    // An expired token: one silent refresh, else sign in again.
    const fresh = !retried && (await refresh().catch(() => null));
    if (fresh) return api(method, path, { body, headers, auth, retried: true });
    clearSession();
    go(`#/sign-in?next=${encodeURIComponent(location.hash)}`, t('err.unauthorized'), 'error');
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  const res = { ok: r.ok, status: r.status, data, headers: r.headers };
  if (!r.ok) res.problem = { ...(data || {}), status: r.status, slug: String(data?.type || '').split('/').pop() || String(r.status) };
  return res;
}

export function retryAfter(res) {
  const v = res.headers?.get('retry-after');
  const n = v && (/^\d+$/.test(v) ? +v : Math.ceil((Date.parse(v) - Date.now()) / 1000));
  return Math.max(1, n || res.problem?.retryAfter || 5);
}
export const takenNights = (p) => p.nights
  || [...new Set(`${p.detail || ''} ${JSON.stringify(p.errors || [])}`.match(/\d{4}-\d{2}-\d{2}/g) || [])];
export const fieldLabel = (f) => t(`field.${f}`) === `field.${f}` ? f : t(`field.${f}`);
const list = (xs) => new Intl.ListFormat(lang, { type: 'conjunction' }).format(xs);

// A problem document in plain words; `over` maps a problem slug or status to a dictionary key.
export function explain(res, over = {}) {
  const p = res.problem || {};
  const key = over[p.slug] || over[res.status];
  if (key) return t(key, p);
  switch (p.slug) {
    case 'network': return t('err.network');
    case 'invalid-request': return t('err.invalid', {
      fields: list((p.errors || []).map((e) => (lang === 'en' ? `${fieldLabel(e.field)} ${e.message}` : fieldLabel(e.field)))),
    });
    case 'nights-taken': return t('err.nightsTaken', { nights: list(takenNights(p).map((n) => day(n))) });
    case 'payment-declined': return t('err.declined');
    case 'payment-unavailable': case 'unavailable': return t('err.busy', { seconds: retryAfter(res) });
    case 'stale-version': case 'version-required': return t('err.stale');
    case 'unauthorized': return t('err.unauthorized');
    case 'not-found': case 'no-route': return t('err.notFound');
    case 'already-cancelled': case 'stay-started': case 'already-reviewed': case 'in-flight': case 'forbidden':
      return lang === 'en' && p.slug === 'forbidden' ? p.detail : t(`err.${p.slug}`);
    default: return p.detail || t('err.generic', { status: res.status });
  }
}
// Puts aria-invalid on the inputs a 400 named and focuses the first.
export function markInvalid(form, res, names = {}) {
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  const els = (res.problem?.errors || []).map((e) => form.elements[names[e.field] || e.field]).filter(Boolean);
  els.forEach((el) => el.setAttribute('aria-invalid', 'true'));
  els[0]?.focus();
}

// An aria-live box for the answer to a form or button.
export const answerBox = (testid) => h('div', { class: 'answer', role: 'status', 'aria-live': 'polite', testid });
export function say(box, kind, ...content) {
  box.className = `answer ${kind}`;
  box.replaceChildren(...content);
}
// Disables the button while work runs. A disabled button loses keyboard focus, so it gets it
// back afterwards unless the person (or the page) moved focus elsewhere meanwhile.
export async function busy(button, work) {
  const focused = document.activeElement === button;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try { return await work(); } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (focused && button.isConnected && document.activeElement === document.body) button.focus();
  }
}

export function confirmDialog(text, yes) {
  const d = document.getElementById('confirm');
  d.querySelector('#confirm-text').textContent = text;
  d.querySelector('[value=yes]').textContent = yes;
  d.querySelector('[value=no]').textContent = t('no');
  d.returnValue = '';
  d.showModal();
  return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'yes'), { once: true }));
}

// --- page lifecycle ---------------------------------------------------------------------------
let generation = 0;
let pendingFlash = null;
export const nextPage = () => ++generation;
export const currentPage = () => generation;
// Runs fn every ms while this page is shown and the tab is visible; never two at once.
export function every(ms, fn) {
  const mine = generation;
  let running = false;
  const id = setInterval(async () => {
    if (mine !== generation) return clearInterval(id);
    if (document.visibilityState !== 'visible' || running) return;
    running = true;
    try { await fn(); } finally { running = false; }
  }, ms);
}
// Replaces a box's content, keeping keyboard focus on the element with the same data-key.
export function swap(box, ...kids) {
  const key = box.contains(document.activeElement) && document.activeElement.dataset.key;
  box.replaceChildren(...kids);
  if (key) box.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}
export function flash(text, kind = 'ok') {
  const el = document.getElementById('flash');
  el.className = text ? `flash ${kind}` : 'flash';
  el.textContent = text || '';
}
export const takeFlash = () => { const f = pendingFlash; pendingFlash = null; return f; };
export const queueFlash = (message, kind = 'ok') => { pendingFlash = message ? [message, kind] : null; };
export function go(hash, message, kind = 'ok') {
  queueFlash(message, kind);
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
