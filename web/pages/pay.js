// Paying with Toss Payments (a deployment with PaymentProvider=toss): Toss's own widget takes
// the card in the page, for an order id the app chooses and the stay's price; Toss then sends
// the browser back with paymentKey, orderId and amount, and the app books with them (bnb
// confirms the payment only after the nights are held, for the price it computes itself).
// Toss's documents: /guides/payment-widget/integration and /sdk/v2/js (docs.tosspayments.com).
import { cfg, session } from '../auth.js';
import { h, t, api, explain, money, day, uuid, queueFlash } from '../lib.js';

export const SDK = 'https://js.tosspayments.com/v2/standard';
const PENDING = 'bnb.pay.';

export const paysWithToss = () => cfg().payment?.provider === 'toss';

function loadSdk() {
  if (window.TossPayments) return Promise.resolve(window.TossPayments);
  return new Promise((resolve, reject) => {
    const script = h('script', { src: SDK });
    script.onload = () => (window.TossPayments ? resolve(window.TossPayments) : reject(new Error('no TossPayments')));
    script.onerror = () => reject(new Error(`${SDK} did not load`));
    document.head.append(script);
  });
}

// How this guest's order ids begin: `bnb` and SHA-256("bnb-order:" + the token's sub), its first
// 16 hex digits. bnb confirms an authorization only for the guest whose order it was made for
// (shared/contexts/src/payments/provider.rs, order_prefix), so one leaked from the success
// address cannot pay for someone else's stay.
async function orderPrefix() {
  const part = (session()?.token || '').split('.')[1] || '';
  const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))));
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`bnb-order:${claims.sub}`));
  return `bnb${[...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

// Shows Toss's payment methods and agreement in `box` for this stay, and a button that hands
// the guest to Toss. What the app needs when Toss sends the guest back is kept in this tab.
export async function startTossPayment(room, stay, box) {
  const nights = Math.round((Date.parse(stay.checkOut) - Date.parse(stay.checkIn)) / 864e5);
  const amount = room.nightlyPrice.amount * nights;
  const orderId = `${await orderPrefix()}-${uuid().replaceAll('-', '')}`; // 52 of A-Z a-z 0-9 - _ (Toss: 6 to 64)
  const clientKey = cfg().payment?.clientKey;
  if (!clientKey) throw new Error(t('toss.noKey'));
  if (room.nightlyPrice.currency !== 'KRW') throw new Error(t('toss.krw', { currency: room.nightlyPrice.currency }));
  const TossPayments = await loadSdk();
  const widgets = TossPayments(clientKey).widgets({ customerKey: TossPayments.ANONYMOUS });
  // The amount first: Toss renders and charges what it was told here, and bnb checks it again.
  await widgets.setAmount({ currency: 'KRW', value: amount });
  box.replaceChildren(h('div', { id: 'toss-methods', testid: 'toss-methods' }), h('div', { id: 'toss-agreement' }));
  await widgets.renderPaymentMethods({ selector: '#toss-methods', variantKey: 'DEFAULT' });
  await widgets.renderAgreement({ selector: '#toss-agreement', variantKey: 'AGREEMENT' });
  sessionStorage.setItem(PENDING + orderId, JSON.stringify({
    roomId: room.roomId, title: room.title, checkIn: stay.checkIn, checkOut: stay.checkOut, guests: Number(stay.guests),
    amount, key: uuid(), back: location.hash,
  }));
  const back = `${location.origin}${location.pathname}`;
  const pay = h('button', { type: 'button', testid: 'toss-pay' }, t('toss.pay', { amount: money({ amount, currency: 'KRW' }) }));
  pay.addEventListener('click', () => widgets.requestPayment({
    orderId, orderName: room.title.slice(0, 100), successUrl: `${back}?toss=success`, failUrl: `${back}?toss=fail`,
  }));
  box.append(pay);
}

// Back from Toss (`?toss=success&paymentType&orderId&paymentKey&amount`, or `?toss=fail&code&
// message&orderId`): books with what Toss authorized, says how it went, and leaves the address
// as it was before the payment. Nothing happens on any other load.
export async function completeTossPayment() {
  const q = new URLSearchParams(location.search);
  const outcome = q.get('toss');
  if (!outcome) return;
  const orderId = q.get('orderId') || '';
  const pending = JSON.parse(sessionStorage.getItem(PENDING + orderId) || 'null');
  history.replaceState(null, '', `${location.pathname}${pending?.back || '#/reservations'}`);
  if (!pending) return queueFlash(t('toss.lost'), 'error');
  if (outcome !== 'success') {
    sessionStorage.removeItem(PENDING + orderId);
    return queueFlash(t('toss.failed', { message: q.get('message') || q.get('code') || '' }), 'error');
  }
  // Toss's own advice: the amount that comes back must be the one asked for.
  const amount = Number(q.get('amount'));
  if (amount !== pending.amount) return queueFlash(t('toss.amount'), 'error');
  const body = {
    roomId: pending.roomId, checkIn: pending.checkIn, checkOut: pending.checkOut, guests: pending.guests,
    payment: { provider: 'toss', paymentKey: q.get('paymentKey'), orderId, amount },
  };
  const res = await api('POST', '/reservations', { body, headers: { 'Idempotency-Key': pending.key } });
  if (!res.status) return queueFlash(t('toss.retry'), 'error'); // kept: reloading tries the same booking again
  sessionStorage.removeItem(PENDING + orderId);
  if (res.status === 201) {
    const r = res.data.reservation;
    history.replaceState(null, '', `${location.pathname}#/reservations`);
    return queueFlash(`${t('book.ok')} ${t('book.okDetail', { title: pending.title, from: day(r.checkIn), to: day(r.checkOut), n: r.nights, amount: money(r.amount) })}`);
  }
  return queueFlash(explain(res, { 'payment-declined': 'err.declinedToss', forbidden: 'err.forbiddenBook' }), 'error');
}
