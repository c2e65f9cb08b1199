// Hosts: the dashboard (polled, since no push channel exists) and registering, editing and
// deleting rooms.
import { session } from '../auth.js';
import {
  h, t, field, formData, api, explain, markInvalid, answerBox, say, busy, money, rating, day, addDays, every, swap, go,
  confirmDialog, minorDigits, lang,
} from '../lib.js';

export async function dashboardPage() {
  const answer = answerBox('dashboard-answer');
  const body = h('div', { testid: 'dashboard' });
  let last = '';
  const load = async () => {
    const res = await api('GET', '/host/dashboard');
    if (!res.ok) return say(answer, 'error', explain(res));
    const seen = JSON.stringify(res.data);
    if (seen !== last) { last = seen; swap(body, ...dashboard(res.data, answer, load)); }
  };
  await load();
  every(2000, load);
  return h('div', {},
    h('div', { class: 'row between' }, h('h1', {}, t('dash.title')), h('a', { class: 'button', href: '#/host/rooms/new', testid: 'new-room' }, t('dash.newRoom'))),
    h('p', { class: 'muted small' }, t('dash.live')), answer, body);
}

function dashboard(d, answer, reload) {
  const rated = d.rooms.filter((r) => r.rating.count);
  const count = rated.reduce((s, r) => s + r.rating.count, 0);
  const avg = count && rated.reduce((s, r) => s + r.rating.average * r.rating.count, 0) / count;
  const stat = (label, value, sub, testid) => h('div', { class: 'stat card', testid }, h('dt', {}, label), h('dd', {}, h('strong', {}, value), sub && h('small', {}, sub)));
  const rooms = d.rooms.filter((r) => r.status === 'ACTIVE');
  return [
    h('dl', { class: 'stats' },
      stat(t('dash.activeRooms'), d.activeRooms, null, 'stat-rooms'),
      stat(t('dash.occupancy'), pct(d.occupancy.rate), t('occ.sum', { booked: d.occupancy.bookedNights, available: d.occupancy.availableNights }), 'stat-occupancy'),
      stat(t('dash.revenue'), d.revenue.length ? d.revenue.map((r) => money({ amount: r.net, currency: r.currency })).join(' · ') : money({ amount: 0, currency: 'KRW' }),
        d.revenue.map((r) => t('dash.revenueSub', { confirmed: money({ amount: r.confirmed, currency: r.currency }), refunded: money({ amount: r.refunded, currency: r.currency }) })).join(' · '), 'stat-revenue'),
      stat(t('dash.rating'), count ? `★ ${avg.toFixed(1)}` : '—', count ? t('rating.count', { n: count }) : t('rating.none'), 'stat-rating')),
    h('section', { class: 'card', 'aria-labelledby': 'occ-h' }, h('h2', { id: 'occ-h' }, t('occ.title')), occupancy(d)),
    h('section', { 'aria-labelledby': 'stays-h' }, h('h2', { id: 'stays-h' }, t('dash.stays')),
      d.stays.length
        ? h('ul', { class: 'list' }, d.stays.map((s) => h('li', { class: 'card stay', testid: 'stay' },
          h('p', {}, h('strong', {}, s.roomTitle || s.roomId), ` · ${t('dash.guest', { user: s.guestId })}`),
          h('p', { class: 'muted' }, `${day(s.checkIn)} → ${day(s.checkOut)} · ${t('guests', { n: s.guests })} · ${money(s.amount)}`))))
        : h('p', { class: 'empty' }, t('dash.noStays'))),
    h('section', { 'aria-labelledby': 'rooms-h' }, h('h2', { id: 'rooms-h' }, t('dash.rooms')),
      rooms.length
        ? h('ul', { class: 'list' }, rooms.map((r) => h('li', { class: 'card host-room', testid: 'host-room' },
          h('div', { class: 'row between' }, h('h3', {}, h('a', { href: `#/rooms/${r.roomId}` }, r.title)), rating(r.rating)),
          h('p', { class: 'muted' }, `${r.city} · ${t('capacity', { n: r.capacity })} · ${money(r.nightlyPrice)} ${t('perNight')}`),
          h('div', { class: 'row' },
            h('a', { class: 'button secondary', href: `#/host/rooms/${r.roomId}/edit`, 'data-key': `edit-${r.roomId}` }, t('room.edit')),
            deleteButton(r, answer, reload)))))
        : h('p', { class: 'empty' }, t('dash.noRooms'))),
  ];
}

const pct = (rate) => new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 }).format(rate || 0);

// The next 30 nights as a calendar heat map: one cell per night, darker when more rooms are
// booked; the caption below says the same in words (the picture's text alternative). The API gives totals only, so nights come from `occupancy.nights` when it exists and
// else from the stays on the page.
function occupancy(d) {
  const occ = d.occupancy;
  const counts = {};
  if (Array.isArray(occ.nights)) for (const n of occ.nights) counts[n.night] = n.booked;
  else for (const s of d.stays) for (let n = s.checkIn; n < s.checkOut; n = addDays(n, 1)) counts[n] = (counts[n] || 0) + 1;
  const days = [];
  for (let n = occ.from; n < occ.to && days.length < 31; n = addDays(n, 1)) days.push(n);
  const rooms = Math.max(1, d.activeRooms);
  const level = (c) => (c <= 0 ? 0 : c >= rooms ? 3 : c / rooms > 0.5 ? 2 : 1);
  const [cell, gap, top] = [44, 4, 24];
  const first = (new Date(`${days[0]}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday first
  const rows = Math.ceil((first + days.length) / 7);
  const booked = days.filter((n) => counts[n] > 0);
  const fmt = (n, i) => (i === 0 || n.endsWith('-01') ? day(n, { month: 'numeric', day: 'numeric' }) : String(Number(n.slice(8))));
  const svg = h('svg:svg', { viewBox: `0 0 ${7 * (cell + gap) - gap} ${top + rows * (cell + gap)}`, class: 'heat', role: 'img', 'aria-labelledby': 'occ-t', 'aria-describedby': 'occ-text', testid: 'occupancy' },
    h('svg:title', { id: 'occ-t' }, t('occ.title')),
    [0, 1, 2, 3, 4, 5, 6].map((i) => h('svg:text', { x: i * (cell + gap) + cell / 2, y: 14, class: 'wd', 'text-anchor': 'middle', 'aria-hidden': 'true' },
      day(addDays('2024-01-01', i), { weekday: 'narrow' }))),
    days.map((n, i) => {
      const k = first + i;
      const [x, y] = [(k % 7) * (cell + gap), top + Math.floor(k / 7) * (cell + gap)];
      const c = counts[n] || 0;
      return h('svg:g', { class: `night l${level(c)}`, 'data-night': n, 'data-booked': c },
        h('svg:title', {}, t('occ.cell', { day: day(n), n: c, rooms: d.activeRooms })),
        h('svg:rect', { x, y, width: cell, height: cell, rx: 6 }),
        h('svg:text', { x: x + cell / 2, y: y + cell / 2 + 5, 'text-anchor': 'middle' }, fmt(n, i)));
    }));
  const key = (l, label) => h('li', {}, h('span', { class: `swatch l${l}`, 'aria-hidden': 'true' }), label);
  return h('figure', { class: 'occupancy' }, svg,
    h('figcaption', {}, h('p', { id: 'occ-text', testid: 'occupancy-text' }, t('occ.desc', {
      booked: occ.bookedNights, available: occ.availableNights, rate: pct(occ.rate),
      nights: booked.length ? booked.map((n) => day(n)).join(', ') : t('occ.noneBooked'),
    })), h('ul', { class: 'legend' }, key(0, t('occ.free')), rooms > 1 && key(2, t('occ.some')), key(3, t('occ.full')))));
}

function deleteButton(room, answer, after) {
  const button = h('button', { class: 'danger-outline', testid: 'delete-room', 'data-key': `delete-${room.roomId}` }, t('room.delete'));
  button.addEventListener('click', async () => {
    if (!(await confirmDialog(t('room.confirmDelete', { title: room.title }), t('room.delete')))) return;
    await busy(button, async () => {
      const res = await api('DELETE', `/rooms/${room.roomId}`);
      if (res.ok) { say(answer, 'ok', t('room.deleted', { title: room.title })); await after(); } else say(answer, 'error', explain(res));
    });
  });
  return button;
}

export async function roomFormPage({ params: [id] }) {
  let room = null;
  let etag = null;
  if (id) {
    const res = await api('GET', `/rooms/${encodeURIComponent(id)}`);
    if (!res.ok) return h('section', {}, h('h1', {}, t('room.missing')), h('p', {}, explain(res)), h('a', { href: '#/host' }, t('dash.title')));
    room = res.data;
    // The ETag is the version; cross-origin it may be hidden, so the body's version stands in.
    etag = res.headers.get('etag') || `"${room.version}"`;
    if (room.hostId !== session().user) return h('section', {}, h('h1', {}, t('room.notYours')), h('a', { href: '#/host' }, t('dash.title')));
  }
  const cur = room?.nightlyPrice.currency || 'KRW';
  const answer = answerBox('room-answer');
  const button = h('button', { type: 'submit', testid: 'room-save' }, t(id ? 'save' : 'room.create'));
  const form = h('form', { class: 'card grid-form two-col', testid: 'room-form' },
    field('title', t('f.title'), { value: room?.title, required: true, maxlength: 200 }),
    field('city', t('f.city'), { value: room?.city, required: true, autocomplete: 'address-level2' }),
    field('address', t('f.address'), { value: room?.address, required: true, autocomplete: 'street-address' }),
    field('capacity', t('f.capacity'), { type: 'number', min: 1, max: 50, value: room?.capacity ?? 2, required: true }),
    field('price', t('f.price'), { type: 'number', min: 0, step: 'any', required: true, inputmode: 'decimal', value: room ? room.nightlyPrice.amount / 10 ** minorDigits(cur) : '' }),
    field('currency', t('f.currency'), { value: cur, options: ['KRW', 'USD', 'EUR', 'JPY'].map((c) => [c, c]) }),
    field('description', t('f.description'), { value: room?.description, rows: 3 }, 'textarea'),
    field('amenities', t('f.amenities'), { value: room?.amenities.join(', '), hint: t('f.amenitiesHint') }),
    h('div', { class: 'row wide' }, button, id && deleteButton(room, answer, () => go('#/host', t('room.deleted', { title: room.title })))),
    answer);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = formData(form);
    const body = {
      title: d.title.trim(), description: d.description.trim(), city: d.city.trim(), address: d.address.trim(), capacity: Number(d.capacity),
      nightlyPrice: { amount: Math.round(Number(d.price) * 10 ** minorDigits(d.currency)), currency: d.currency },
      amenities: d.amenities.split(',').map((a) => a.trim()).filter(Boolean),
    };
    busy(button, async () => {
      const res = id ? await api('PUT', `/rooms/${encodeURIComponent(id)}`, { body, headers: { 'If-Match': etag } }) : await api('POST', '/rooms', { body });
      if (res.ok) return go('#/host', t(id ? 'room.updated' : 'room.created', { title: body.title }));
      if (res.problem.slug === 'stale-version' || res.status === 428) {
        return say(answer, 'error', t('err.stale'), ' ', h('button', { type: 'button', class: 'secondary', testid: 'reload', onclick: () => go(location.hash) }, t('reload')));
      }
      say(answer, 'error', explain(res, { forbidden: 'err.forbiddenHost' }));
      markInvalid(form, res, { 'nightlyPrice.amount': 'price', 'nightlyPrice.currency': 'currency' });
    });
  });
  return h('div', {}, h('p', {}, h('a', { href: '#/host' }, `← ${t('dash.title')}`)), h('h1', {}, id ? t('room.editTitle', { title: room.title }) : t('room.newTitle')), form);
}
