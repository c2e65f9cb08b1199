// A person's own pages: sign-in, trips (cancel, review), notifications, profile, becoming a host.
import { cfg, session, isHost, signInLocal, startCognito, refresh } from '../auth.js';
import {
  h, t, field, formData, api, explain, markInvalid, answerBox, say, busy, money, day, when, today, every, swap, go,
  confirmDialog, nightsBetween,
} from '../lib.js';

export function signInPage({ query }) {
  const next = query.next && query.next.startsWith('#/') ? query.next : '#/search';
  const answer = answerBox('sign-in-answer');
  if (cfg().signIn === 'cognito') {
    const button = h('button', { onclick: () => busy(button, () => startCognito(next)) }, t('signIn.cognito'));
    return h('section', { class: 'narrow' }, h('h1', {}, t('signIn')), h('div', { class: 'card' }, h('p', {}, t('signIn.cognitoLead')), button, answer));
  }
  const button = h('button', { type: 'submit', testid: 'sign-in' }, t('signIn'));
  const form = h('form', { class: 'card', testid: 'sign-in-form' },
    h('p', { class: 'muted' }, t('signIn.localLead')),
    field('user', t('f.user'), { required: true, autocomplete: 'username', pattern: '[A-Za-z0-9._@\\-]{1,64}', hint: t('f.userHint') }),
    h('div', { class: 'check' }, h('input', { type: 'checkbox', id: 'f-host', name: 'host' }), h('label', { for: 'f-host' }, t('f.host'))),
    button, answer);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = formData(form);
    busy(button, async () => {
      const r = await signInLocal(d.user.trim(), d.host === 'on');
      if (r.session) go(next, t('signedInAs', { user: r.session.user }));
      else say(answer, 'error', r.problem.detail || t('err.generic', { status: r.problem.status }));
    });
  });
  return h('section', { class: 'narrow' }, h('h1', {}, t('signIn')), form);
}

const statusBadge = (status) => h('span', { class: `badge ${status.toLowerCase()}`, testid: 'status' }, t(`status.${status}`));

export async function reservationsPage() {
  const box = h('div', { 'aria-live': 'off' });
  const answer = answerBox('trips-answer');
  // The list is a projection that follows events: a cancel shows at once, and stays shown.
  const cancelled = new Set();
  let last = '';
  const load = async () => {
    const res = await api('GET', '/me/reservations');
    if (!res.ok) return say(answer, 'error', explain(res));
    const items = res.data.items.filter((r) => r.status !== 'HELD');
    const seen = JSON.stringify([items, [...cancelled]]);
    if (seen === last) return;
    last = seen;
    if (!items.length) return swap(box, h('p', { class: 'empty' }, t('trips.none'), ' ', h('a', { href: '#/search' }, t('nav.search'))));
    swap(box, h('ul', { class: 'list' }, items.map((r) => trip(r, cancelled.has(r.reservationId) ? 'CANCELLED' : r.status))));
  };
  const trip = (r, status) => {
    const cancel = h('button', { class: 'secondary', 'data-key': `cancel-${r.reservationId}`, testid: 'cancel' }, t('trips.cancel'));
    cancel.addEventListener('click', async () => {
      if (!(await confirmDialog(t('trips.confirmCancel', { title: r.roomTitle || '', from: day(r.checkIn), to: day(r.checkOut) }), t('trips.cancel')))) return;
      busy(cancel, async () => {
        const res = await api('POST', `/reservations/${r.reservationId}/cancel`);
        if (res.ok) { cancelled.add(r.reservationId); say(answer, 'ok', t('trips.cancelled')); last = ''; await load(); box.querySelector(`[data-reservation="${r.reservationId}"] h2 a`)?.focus(); } else say(answer, 'error', explain(res));
      });
    });
    const past = r.checkOut <= today();
    return h('li', { class: 'card trip', testid: 'trip', 'data-reservation': r.reservationId },
      h('div', { class: 'row between' }, h('h2', {}, h('a', { href: `#/rooms/${r.roomId}` }, r.roomTitle || t('trips.room'))), statusBadge(status)),
      h('p', {}, `${day(r.checkIn)} → ${day(r.checkOut)} · ${t('nights', { n: nightsBetween(r.checkIn, r.checkOut) })} · ${t('guests', { n: r.guests })} · ${money(r.amount)}`),
      status === 'CANCELLED' && r.cancelledBy && h('p', { class: 'muted' }, t(`cancelledBy.${r.cancelledBy}`)),
      status === 'CONFIRMED' && r.checkIn > today() && cancel,
      status === 'CONFIRMED' && past && h('a', { class: 'button secondary', href: `#/reservations/${r.reservationId}/review?room=${r.roomId}&title=${encodeURIComponent(r.roomTitle || '')}` }, t('review.write')));
  };
  await load();
  every(3000, load);
  return h('div', {}, h('h1', {}, t('trips.title')), answer, box);
}

export function reviewPage({ params: [reservationId], query }) {
  const answer = answerBox('review-answer');
  const button = h('button', { type: 'submit', testid: 'review-send' }, t('review.send'));
  const stars = h('fieldset', { class: 'stars-input' }, h('legend', {}, t('f.rating')),
    [5, 4, 3, 2, 1].map((n) => h('label', {}, h('input', { type: 'radio', name: 'rating', value: n, required: true, checked: n === 5 }), ` ${'★'.repeat(n)} `, h('span', { class: 'sr' }, t('stars', { n })))));
  const form = h('form', { class: 'card' }, stars, field('text', t('f.reviewText'), { maxlength: 2000, rows: 5 }, 'textarea'), button, answer);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = formData(form);
    busy(button, async () => {
      const res = await api('POST', `/rooms/${encodeURIComponent(query.room)}/reviews`, { body: { rating: Number(d.rating), text: d.text, reservationId } });
      if (res.ok) go(`#/rooms/${query.room}`, t('review.thanks'));
      else { say(answer, 'error', explain(res, { forbidden: 'review.noStay' })); markInvalid(form, res); }
    });
  });
  return h('section', { class: 'narrow' }, h('h1', {}, t('review.title', { title: query.title || '' })), form);
}

export async function notificationsPage() {
  const box = h('div');
  const answer = answerBox('notifications-answer');
  let last = '';
  const load = async () => {
    const res = await api('GET', '/me/notifications');
    if (!res.ok) return say(answer, 'error', explain(res));
    const seen = JSON.stringify(res.data.items);
    if (seen === last) return;
    last = seen;
    swap(box, res.data.items.length
      ? h('ul', { class: 'list' }, res.data.items.map((n) => h('li', { class: 'card note', testid: 'notification', 'data-template': n.template },
        h('p', { class: 'note-text' }, n.text),
        h('p', { class: 'muted small' }, h('time', { datetime: n.createdAt }, when(n.createdAt)), ' · ',
          h('span', { class: `delivery ${String(n.delivery).toLowerCase()}`, testid: 'delivery' }, deliveryWords(n))))))
      : h('p', { class: 'empty' }, t('notes.none')));
  };
  await load();
  every(3000, load);
  return h('div', {}, h('h1', {}, t('notes.title')), h('p', { class: 'lead' }, t('notes.lead')), answer, box);
}

// A notification's delivery state in words; "in the app only" says why (no phone number, or a
// bnb with no KakaoTalk dealer set up, which the server notes as the failure).
function deliveryWords(n) {
  if (n.delivery === 'IN_APP_ONLY' && n.failure) return t('delivery.IN_APP_ONLY.noDealer');
  const key = `delivery.${n.delivery}`;
  return t(key) === key ? t('delivery.unknown') : t(key);
}

// The form starts from what bnb has (GET /me/profile), whichever device saved it.
export function profilePage() {
  const s = session();
  const saved = {};
  const answer = answerBox('profile-answer');
  const button = h('button', { type: 'submit', testid: 'profile-save' }, t('save'));
  const form = h('form', { class: 'card' },
    field('phoneNumber', t('f.phone'), { type: 'tel', value: saved.phoneNumber || '', autocomplete: 'tel', placeholder: '+821012345678', hint: t('f.phoneHint') }),
    field('locale', t('f.locale'), { value: saved.locale || document.documentElement.lang, options: [['ko', '한국어'], ['en', 'English']], hint: t('f.localeHint') }),
    button, answer);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = formData(form);
    busy(button, async () => {
      const res = await api('PUT', '/me/profile', { body: { phoneNumber: d.phoneNumber.trim() || null, locale: d.locale } });
      if (res.ok) { say(answer, 'ok', t('profile.saved')); markInvalid(form, res); }
      else { say(answer, 'error', explain(res)); markInvalid(form, res); }
    });
  });
  api('GET', '/me/profile').then((res) => {
    if (!res.ok) return;
    form.elements.phoneNumber.value = res.data.phoneNumber || '';
    form.elements.locale.value = res.data.locale || 'ko';
  });
  return h('div', { class: 'narrow' }, h('h1', {}, t('profile.title')), h('p', { class: 'muted' }, t('profile.who', { user: s.user })), form,
    !isHost() && becomeHostPanel());
}

// POST /me/host, then a new token: the group shows only in a token issued after it.
export function becomeHostPanel() {
  const answer = answerBox('become-host-answer');
  const button = h('button', { testid: 'become-host' }, t('host.become'));
  button.addEventListener('click', () => busy(button, async () => {
    const res = await api('POST', '/me/host');
    if (res.status === 404) return say(answer, 'error', t('host.becomeMissing'));
    if (!res.ok) return say(answer, 'error', explain(res));
    const fresh = res.data?.tokenIsCurrent ? session() : await refresh().catch(() => null);
    if (fresh?.groups?.includes('host')) go('#/host', t('host.welcome'));
    else say(answer, 'info', t('host.signInAgain'));
  }));
  return h('section', { class: 'card', 'aria-labelledby': 'bh-h' }, h('h2', { id: 'bh-h' }, t('host.becomeTitle')), h('p', {}, t('host.becomeLead')), button, answer);
}
