// bnb's web app: boots from /config.json, draws the header, and routes on the URL's hash
// (on AWS the app is files on S3 behind CloudFront; locally the plain paths belong to the API).
import { loadConfig, completeCognito, session, isHost, signOut } from './auth.js';
import { h, t, lang, setLang, flash, takeFlash, queueFlash, go, nextPage, currentPage } from './lib.js';
import { searchPage, roomPage } from './pages/search.js';
import { signInPage, reservationsPage, reviewPage, notificationsPage, profilePage, becomeHostPanel } from './pages/guest.js';
import { dashboardPage, roomFormPage } from './pages/host.js';
import { completeTossPayment } from './pages/pay.js';

const routes = [
  [/^\/search$/, searchPage],
  [/^\/rooms\/([^/]+)$/, roomPage],
  [/^\/sign-in$/, signInPage],
  [/^\/reservations$/, reservationsPage, 'user'],
  [/^\/reservations\/([^/]+)\/review$/, reviewPage, 'user'],
  [/^\/notifications$/, notificationsPage, 'user'],
  [/^\/profile$/, profilePage, 'user'],
  [/^\/host$/, dashboardPage, 'host'],
  [/^\/host\/rooms\/new$/, roomFormPage, 'host'],
  [/^\/host\/rooms\/([^/]+)\/edit$/, roomFormPage, 'host'],
];

function chrome(path) {
  const s = session();
  const link = (href, key, testid) => h('a', { href, testid, 'aria-current': path.startsWith(href.slice(1)) ? 'page' : null }, t(key));
  document.querySelector('.skip').textContent = t('skip');
  document.getElementById('nav').setAttribute('aria-label', t('nav.label'));
  // The confirm dialog's buttons get their words when it opens; until then they still have a name.
  document.querySelector('#confirm [value=no]').textContent = t('no');
  document.querySelector('#confirm [value=yes]').textContent = t('yes');
  document.getElementById('nav').replaceChildren(h('ul', {},
    h('li', {}, link('#/search', 'nav.search', 'nav-search')),
    s && h('li', {}, link('#/reservations', 'nav.trips', 'nav-trips')),
    s && h('li', {}, link('#/notifications', 'nav.notifications', 'nav-notifications')),
    s && h('li', {}, link('#/host', 'nav.host', 'nav-host')),
    s && h('li', {}, link('#/profile', 'nav.profile', 'nav-profile'))));
  const other = lang === 'ko' ? 'en' : 'ko';
  document.getElementById('tools').replaceChildren(...[
    h('button', { class: 'ghost', lang: other, testid: 'lang', onclick: () => { setLang(other); route(); } }, other === 'ko' ? '한국어' : 'English'),
    s ? h('span', { class: 'who', testid: 'who' }, s.user) : null,
    s ? h('button', { class: 'secondary', testid: 'sign-out', onclick: () => { signOut(); go('#/search', t('signedOut')); } }, t('signOut'))
      : path !== '/sign-in' && h('a', { class: 'button', href: `#/sign-in?next=${encodeURIComponent(location.hash)}`, testid: 'sign-in-link' }, t('signIn'))].filter(Boolean));
}

async function route() {
  const [path, qs] = (location.hash.slice(1) || '/search').split('?');
  const query = Object.fromEntries(new URLSearchParams(qs || ''));
  const mine = nextPage();
  chrome(path);
  const pending = takeFlash();
  flash(pending?.[0], pending?.[1]);
  const main = document.getElementById('main');
  const hit = routes.map(([re, page, who]) => [path.match(re), page, who]).find(([m]) => m);
  let node;
  if (!hit) node = h('section', {}, h('h1', { tabindex: -1 }, t('notFound')), h('p', {}, h('a', { href: '#/search' }, t('nav.search'))));
  else if (hit[2] && !session()) return go(`#/sign-in?next=${encodeURIComponent(location.hash)}`);
  else if (hit[2] === 'host' && !isHost()) node = h('section', {}, h('h1', { tabindex: -1 }, t('host.only')), becomeHostPanel());
  else {
    main.setAttribute('aria-busy', 'true');
    node = await hit[1]({ params: hit[0].slice(1).map(decodeURIComponent), query });
  }
  if (mine !== currentPage()) return; // the person moved on meanwhile
  main.removeAttribute('aria-busy');
  main.replaceChildren(node);
  const title = main.querySelector('h1');
  document.title = title ? `${title.textContent} · bnb` : 'bnb';
  // Move focus to the new page's heading so screen readers hear where they are.
  if (route.started && title) { title.setAttribute('tabindex', '-1'); title.focus({ preventScroll: true }); scrollTo(0, 0); }
  route.started = true;
}

async function boot() {
  setLang(lang);
  await loadConfig();
  try {
    const s = await completeCognito();
    if (s) queueFlash(t('signedInAs', { user: s.user }));
  } catch (e) {
    queueFlash(t('err.signIn', { detail: e.message }), 'error');
    history.replaceState(null, '', '#/sign-in');
  }
  // Back from Toss Payments' widget: book with what it authorized.
  await completeTossPayment();
  document.querySelector('.skip').addEventListener('click', (e) => { e.preventDefault(); document.getElementById('main').focus(); });
  window.addEventListener('hashchange', route);
  route();
}
boot();
