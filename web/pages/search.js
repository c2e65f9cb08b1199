// Guests find a free room and book it; every answer of POST /reservations is said in plain words.
import { session } from '../auth.js';
import {
  h, t, field, formData, api, explain, answerBox, say, busy, money, rating, day, when, today, addDays,
  nightsBetween, retryAfter, uuid, go,
} from '../lib.js';
import { paysWithToss, startTossPayment } from './pay.js';

const stayFields = (q) => [
  field('checkIn', t('f.checkIn'), { type: 'date', value: q.checkIn, required: true, min: today() }),
  field('checkOut', t('f.checkOut'), { type: 'date', value: q.checkOut, required: true, min: addDays(today(), 1) }),
  field('guests', t('f.guests'), { type: 'number', value: q.guests, min: 1, max: 50, required: true, inputmode: 'numeric' }),
];
// Keeps check-out after check-in as the person picks dates.
function linkDates(form) {
  form.elements.checkIn.addEventListener('change', () => {
    const inn = form.elements.checkIn.value;
    const out = form.elements.checkOut;
    if (!inn) return;
    out.min = addDays(inn, 1);
    if (!out.value || out.value <= inn) out.value = addDays(inn, 1);
  });
}

export async function searchPage({ query }) {
  const q = { city: query.city || '', checkIn: query.checkIn || addDays(today(), 7), checkOut: query.checkOut || addDays(today(), 9), guests: query.guests || '2' };
  const form = h('form', { class: 'card grid-form', role: 'search', 'aria-label': t('search.title'), testid: 'search-form' },
    field('city', t('f.city'), { value: q.city, required: true, autocomplete: 'address-level2', placeholder: t('f.cityHint') }),
    ...stayFields(q),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', testid: 'search-go' }, t('search.go'))));
  linkDates(form);
  form.addEventListener('submit', (e) => { e.preventDefault(); go(`#/search?${new URLSearchParams(formData(form))}`); });
  const results = h('section', { 'aria-labelledby': 'results-h', testid: 'results' });
  if (query.city) await showResults(results, q);
  return h('div', {}, h('h1', {}, t('search.title')), h('p', { class: 'lead' }, t('search.lead')), form, results);
}

async function showResults(box, q, cursor, list) {
  const params = new URLSearchParams({ city: q.city, guests: q.guests, checkIn: q.checkIn, checkOut: q.checkOut });
  if (cursor) params.set('cursor', cursor);
  const res = await api('GET', `/rooms?${params}`, { auth: false });
  const answer = answerBox('search-answer');
  if (!res.ok) return box.replaceChildren(answer), say(answer, 'error', explain(res));
  const stay = new URLSearchParams({ checkIn: q.checkIn, checkOut: q.checkOut, guests: q.guests });
  const nights = nightsBetween(q.checkIn, q.checkOut);
  if (!list) {
    list = h('ul', { class: 'cards' });
    box.replaceChildren(
      h('h2', { id: 'results-h' }, t('search.results', { city: q.city, from: day(q.checkIn), to: day(q.checkOut), guests: q.guests })), list);
  }
  box.querySelector('.more')?.remove();
  for (const r of res.data.items) {
    list.append(h('li', { class: 'card room', testid: 'room-card' },
      h('h3', {}, h('a', { href: `#/rooms/${r.roomId}?${stay}` }, r.title)),
      h('p', { class: 'muted' }, `${r.city} · ${t('capacity', { n: r.capacity })}`),
      h('p', {}, h('strong', {}, money(r.nightlyPrice)), ` ${t('perNight')}`,
        nights > 0 && h('span', { class: 'muted' }, ` · ${t('total', { n: nights, amount: money({ ...r.nightlyPrice, amount: r.nightlyPrice.amount * nights }) })}`)),
      rating(r.rating)));
  }
  if (!list.children.length) box.append(h('p', { class: 'empty', testid: 'no-rooms' }, t('search.none')));
  if (res.data.nextCursor) {
    const more = h('button', { class: 'secondary more', onclick: () => busy(more, () => showResults(box, q, res.data.nextCursor, list)) }, t('more'));
    box.append(more);
  }
}

export async function roomPage({ params: [id], query }) {
  const [res, reviews] = await Promise.all([api('GET', `/rooms/${encodeURIComponent(id)}`, { auth: false }), api('GET', `/rooms/${encodeURIComponent(id)}/reviews`, { auth: false })]);
  if (!res.ok) {
    return h('section', {}, h('h1', {}, t('room.missing')), h('p', {}, explain(res)), h('p', {}, h('a', { href: '#/search' }, t('nav.search'))));
  }
  const room = res.data;
  return h('div', { class: 'room-page' },
    h('p', {}, h('a', { href: `#/search?${new URLSearchParams({ city: room.city, ...query })}` }, `← ${t('back')}`)),
    h('h1', { testid: 'room-title' }, room.title),
    h('p', { class: 'muted' }, `${room.city} · ${room.address}`),
    h('div', { class: 'two' },
      h('section', { class: 'card', 'aria-labelledby': 'about-h' },
        h('h2', { id: 'about-h' }, t('room.about')),
        h('p', {}, h('strong', {}, money(room.nightlyPrice)), ` ${t('perNight')} · ${t('capacity', { n: room.capacity })}`),
        h('p', { testid: 'room-rating' }, rating(room.rating)),
        room.description && h('p', {}, room.description),
        room.amenities?.length ? h('ul', { class: 'tags', 'aria-label': t('f.amenities') }, room.amenities.map((a) => h('li', {}, a))) : null),
      bookingForm(room, query)),
    h('section', { 'aria-labelledby': 'reviews-h', testid: 'reviews' },
      h('h2', { id: 'reviews-h' }, t('reviews.title')),
      reviews.ok && reviews.data.items.length
        ? h('ul', { class: 'list' }, reviews.data.items.map((r) => h('li', { class: 'card', testid: 'review' },
          h('p', {}, h('span', { class: 'stars', role: 'img', 'aria-label': t('stars', { n: r.rating }) }, '★'.repeat(r.rating) + '☆'.repeat(5 - r.rating)), ` · ${r.guestId} · ${when(r.createdAt)}`),
          r.text && h('p', {}, r.text))))
        : h('p', { class: 'empty' }, t('rating.none'))));
}

function bookingForm(room, query) {
  const s = session();
  const head = h('h2', { id: 'book-h' }, t('book.title'));
  if (!s) return h('section', { class: 'card', 'aria-labelledby': 'book-h' }, head, h('p', {}, t('book.signIn')), h('a', { class: 'button', href: `#/sign-in?next=${encodeURIComponent(location.hash)}` }, t('signIn')));
  if (s.user === room.hostId) return h('section', { class: 'card', 'aria-labelledby': 'book-h' }, head, h('p', {}, t('book.own')), h('a', { href: `#/host/rooms/${room.roomId}/edit` }, t('room.edit')));
  const q = { checkIn: query.checkIn || addDays(today(), 7), checkOut: query.checkOut || addDays(today(), 9), guests: query.guests || '1' };
  const total = h('p', { class: 'total', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', testid: 'book' }, t('book.go'));
  const answer = answerBox('booking-answer');
  // How this deployment takes payments: the sandbox's test cards, or Toss Payments' widget.
  const toss = paysWithToss();
  const widget = h('div', { class: 'widget', testid: 'toss-widget' });
  const pay = toss
    ? h('p', { class: 'hint', testid: 'toss-note' }, t('toss.note'))
    : field('cardToken', t('f.card'), { options: [['tok_visa', t('card.visa')], ['tok_declined', t('card.declined')], ['tok_slow', t('card.slow')]], hint: t('card.hint') });
  if (toss) button.textContent = t('toss.start');
  const form = h('form', { class: 'card', 'aria-labelledby': 'book-h', testid: 'booking-form' }, head, ...stayFields(q),
    pay, total, button, widget, answer);
  linkDates(form);
  const showTotal = () => {
    const n = nightsBetween(form.elements.checkIn.value, form.elements.checkOut.value);
    total.textContent = n > 0 ? t('total', { n, amount: money({ ...room.nightlyPrice, amount: room.nightlyPrice.amount * n }) }) : '';
  };
  form.addEventListener('input', showTotal);
  showTotal();
  // One Idempotency-Key per booking: kept only when no answer came (a network failure), so a
  // retry of the same booking can never book or charge twice.
  let key = null;
  let sent = '';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = formData(form);
    if (toss) {
      // Toss's widget takes the card; the booking is made when Toss sends the guest back.
      say(answer, 'info', t('toss.loading'));
      busy(button, async () => {
        try {
          await startTossPayment(room, d, widget);
          button.remove(); // the widget's own Pay button takes over, with the focus
          widget.querySelector('button')?.focus();
          for (const input of form.querySelectorAll('input')) input.readOnly = true; // the widget holds this stay's price
          say(answer, 'info', t('toss.ready'));
        } catch (err) {
          say(answer, 'error', t('toss.unavailable', { detail: err.message }));
        }
      });
      return;
    }
    const body = { roomId: room.roomId, checkIn: d.checkIn, checkOut: d.checkOut, guests: Number(d.guests), cardToken: d.cardToken };
    if (JSON.stringify(body) !== sent) { key = uuid(); sent = JSON.stringify(body); }
    say(answer, 'info', t('book.working'));
    busy(button, async () => {
      const res = await api('POST', '/reservations', { body, headers: { 'Idempotency-Key': key } });
      if (res.status) sent = '';
      if (res.status === 201) {
        const r = res.data.reservation;
        say(answer, 'ok', h('strong', {}, t('book.ok')), ' ',
          t('book.okDetail', { title: room.title, from: day(r.checkIn), to: day(r.checkOut), n: r.nights, amount: money(r.amount) }), ' ',
          h('a', { href: '#/reservations', testid: 'see-trips' }, t('book.seeTrips')));
      } else {
        say(answer, 'error', explain(res, { 'payment-declined': 'err.declined', forbidden: 'err.forbiddenBook' }));
        if (res.status === 503) countdown(button, retryAfter(res));
      }
    });
  });
  return form;
}

// "Payment is busy": the button waits out Retry-After, counting down.
function countdown(button, seconds) {
  const label = button.textContent;
  let focused = null; // asked at the first tick, once busy() has given the button its focus back
  const tick = () => {
    if (focused === null) focused = document.activeElement === button;
    if (seconds <= 0) {
      button.disabled = false;
      button.textContent = label;
      if (focused && button.isConnected && document.activeElement === document.body) button.focus();
      return;
    }
    button.disabled = true;
    button.textContent = t('book.wait', { seconds: seconds-- });
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 0);
}
