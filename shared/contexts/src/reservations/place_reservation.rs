//! Booking, exactly as design.md §2 says: validate; read the room; hold the nights (one
//! conditional lock item per night); pay (synchronously, under a timeout, behind the shared
//! breaker); confirm — or release and reject. A booking that is not paid never exists.
//!
//! Under an `Idempotency-Key` every step is also safe to crash after: the hold binds the key to
//! the reservation, the transaction that settles the booking writes the answer too, and a retry
//! resumes a booking left held (see [`super::idempotency`]).

use std::sync::Arc;
use std::time::Duration;

use super::idempotency::{release_bound, Claim, StoredAnswer};
use super::{Bookkeeping, PlaceReservationRequest, ReservationError, ReservationStore};
use crate::domain::payment::PaymentStatus;
use crate::domain::reservation::{AbortReason, Reservation, ReservationStatus};
use crate::domain::room::RoomStatus;
use crate::domain::stay::format_date;
use crate::domain::Actor;
use crate::domain::{Invalid, ReservationId, RoomId, Stay};
use crate::events::{Causation, Envelope, Event, ReservationAborted, ReservationConfirmed};
use crate::outbox::write_with_events;
use crate::payments::provider::order_prefix;
use crate::payments::{CircuitBreaker, InvokeError, Invoker, PaymentAction, PaymentRequest, PaymentResult, Permit, ProviderKind};
use crate::rooms::RoomStore;
use crate::storage::{Condition, Key, StorageError, WriteOp};

/// Timings from configuration (`PAYMENT_TIMEOUT_MS`, `HOLD_SECONDS`, `IDEMPOTENCY_LEASE_MS`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReservationSettings {
    /// How long a booking waits for payment before it gives up and answers 503.
    pub payment_timeout: Duration,
    /// How long nights stay held before `expire-holds` releases them (well past any function's
    /// timeout, so only a dead function's hold expires).
    pub hold: Duration,
    /// How long an attempt owns its `Idempotency-Key` before a retry may resume it.
    pub lease: Duration,
    /// Who takes the money (`PAYMENT_PROVIDER`): what a booking must bring to pay.
    pub provider: ProviderKind,
}

impl Default for ReservationSettings {
    fn default() -> Self {
        ReservationSettings {
            payment_timeout: Duration::from_secs(3),
            hold: Duration::from_secs(120),
            lease: Duration::from_secs(15),
            provider: ProviderKind::Sandbox,
        }
    }
}

impl ReservationSettings {
    pub fn from_env() -> Self {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let d = ReservationSettings::default();
        let num = |var: &str| lookup(var).and_then(|v| v.parse::<u64>().ok());
        ReservationSettings {
            payment_timeout: num("PAYMENT_TIMEOUT_MS").map(Duration::from_millis).unwrap_or(d.payment_timeout),
            hold: num("HOLD_SECONDS").map(Duration::from_secs).unwrap_or(d.hold),
            lease: num("IDEMPOTENCY_LEASE_MS").map(Duration::from_millis).unwrap_or(d.lease),
            // Unset, the sandbox (bnb-local, tests); a name it does not know is never read as
            // the sandbox, where card tokens would book for free (the template allows two names).
            provider: lookup(crate::payments::provider::PAYMENT_PROVIDER).map(|p| ProviderKind::parse(&p).unwrap_or(ProviderKind::Toss)).unwrap_or(d.provider),
        }
    }
}

/// A confirmed booking.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub reservation: Reservation,
    pub payment: PaymentResult,
}

/// How the edge words an outcome. The use case calls it so that the answer is written in the
/// same transaction as the state it reports.
pub type Render<'a> = &'a (dyn Fn(&Result<Placed, ReservationError>) -> StoredAnswer + Sync);

/// One attempt at a booking: what caused it, and the idempotency key it holds, if any.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    pub cause: &'a Causation,
    pub claim: Option<&'a Claim>,
    pub render: Render<'a>,
}

/// Everything booking needs, built once per function instance.
pub struct PlaceReservation {
    pub reservations: ReservationStore,
    pub rooms: RoomStore,
    pub payments: Arc<dyn Invoker>,
    pub breaker: Arc<CircuitBreaker>,
    pub settings: ReservationSettings,
}

fn unavailable(reason: &str, retry_after: Duration) -> ReservationError {
    ReservationError::PaymentUnavailable { reason: reason.to_owned(), retry_after_seconds: retry_after.as_secs().clamp(1, 300) as u32 }
}

fn event_err(e: serde_json::Error) -> ReservationError {
    ReservationError::Storage(StorageError::Invalid(e.to_string()))
}

/// What becomes of the idempotency key when a hold is aborted.
pub(super) enum KeyOnAbort<'a> {
    /// Forget it, so a retry books anew (a passing failure).
    Release,
    /// Keep this answer for it (a refusal that will not change).
    Answer(&'a Claim, StoredAnswer),
}

impl PlaceReservation {
    pub async fn place(&self, caller: &Actor, request: &PlaceReservationRequest, attempt: Attempt<'_>) -> Result<Placed, ReservationError> {
        if !caller.is_guest() {
            return Err(ReservationError::NotGuest);
        }
        // 1. Validate, and read the room.
        let today = self.reservations.clock().today();
        let mut invalid = Invalid::default();
        let room_id = RoomId::parse(request.room_id.trim()).ok_or_else(|| invalid.push("roomId", "must be a room id")).ok();
        let stay = Stay::parse(&request.check_in, &request.check_out).map_err(|e| invalid.0.extend(e.0)).ok();
        if let Some(stay) = &stay {
            if stay.check_in < today {
                invalid.push("checkIn", "must be today or later (Asia/Seoul)");
            }
        }
        if !(1..=crate::domain::room::MAX_CAPACITY as i64).contains(&request.guests) {
            invalid.push("guests", "must be a whole number from 1 to 50");
        }
        let method = payment_method(request, self.settings.provider, caller, &mut invalid);
        invalid.into_result()?;
        let Some(method) = method else {
            return Err(Invalid::field("payment", "is missing").into());
        };
        let (Some(room_id), Some(stay)) = (room_id, stay) else {
            return Err(Invalid::field("roomId", "is not valid").into());
        };
        let room = match self.rooms.get(&room_id).await? {
            Some(room) if room.status == RoomStatus::Active => room,
            _ => return Err(ReservationError::RoomNotFound),
        };
        if room.is_owned_by(&caller.user_id) {
            return Err(ReservationError::OwnRoom);
        }
        if request.guests as u32 > room.details.capacity {
            return Err(Invalid::field("guests", format!("this room sleeps at most {}", room.details.capacity)).into());
        }
        let amount =
            room.details.nightly_price.times(stay.nights()).ok_or_else(|| Invalid::field("checkOut", "the stay costs more than bnb takes in one payment"))?;
        // Toss's domestic payments are in won: a room priced in another currency cannot be paid there.
        if self.settings.provider == ProviderKind::Toss && amount.currency.code() != "KRW" {
            return Err(Invalid::field("roomId", format!("this room is priced in {}, and payments here are in KRW only", amount.currency.code())).into());
        }
        // The price is bnb's: an authorized amount that is not it is refused before anything
        // is held or confirmed (the client's amount is never trusted).
        if let Some(authorized) = &request.payment {
            if authorized.amount != amount.amount {
                return Err(Invalid::field(
                    "payment.amount",
                    format!("must be the stay's price, {} {} ({} nights); nothing was charged", amount.amount, amount.currency.code(), stay.nights()),
                )
                .into());
            }
        }
        // Fail fast while the breaker is open: nothing is written, nothing is held.
        if let Err(open) = self.breaker.acquire_peek().await {
            return Err(unavailable("breaker-open", open.retry_after));
        }

        // 2. Hold: the reservation HELD and one lock per night, all or nothing; the room not
        //    deleted; the idempotency key bound to this reservation.
        let held = Reservation {
            reservation_id: ReservationId::generate(),
            room_id: room.id.clone(),
            guest_id: caller.user_id.clone(),
            host_id: room.host_id.clone(),
            stay,
            guests: request.guests as u32,
            amount,
            status: ReservationStatus::Held,
            payment_id: None,
            version: 1,
        };
        let hold_expires = self.reservations.clock().now_ms() + self.settings.hold.as_millis() as i64;
        let extra = Bookkeeping {
            room_title: Some(room.details.title.clone()),
            created_at: Some(self.reservations.clock().now_utc()),
            idempotency_pk: attempt.claim.map(|claim| claim.record_key().pk),
            ..Bookkeeping::default()
        };
        let nights = held.stay.nights() as usize;
        let mut ops = vec![WriteOp::put_if(self.reservations.to_item(&held, Some(hold_expires), extra.clone())?, Condition::NotExists)];
        ops.extend(ReservationStore::hold_nights(&held)?);
        ops.push(ReservationStore::room_not_deleted(&held.room_id));
        if let Some(claim) = attempt.claim {
            ops.push(claim.bind(&held.reservation_id));
        }
        if let Err(e) = self.reservations.table().write(ops).await {
            return Err(match e {
                StorageError::ConditionFailed { failed } if failed.contains(&(nights + 2)) => ReservationError::InFlight,
                StorageError::ConditionFailed { failed } if failed.contains(&(nights + 1)) => ReservationError::RoomNotFound,
                StorageError::ConditionFailed { failed } => {
                    let all: Vec<_> = held.stay.each_night().collect();
                    let taken = failed.iter().filter(|i| (1..=nights).contains(*i)).filter_map(|i| all.get(i - 1)).map(|d| format_date(*d)).collect();
                    ReservationError::NightsTaken(taken)
                }
                e => e.into(),
            });
        }
        tracing::info!(reservation_id = %held.reservation_id, room_id = %held.room_id, nights, "nights held");

        // 3 and 4.
        self.settle(&held, &extra, &method, attempt).await
    }

    /// Finishes the booking a crashed attempt bound to its key: a hold is paid (with the same
    /// payment key, so a payment that went through is found, not repeated) and confirmed or
    /// released.
    pub async fn resume(
        &self,
        caller: &Actor,
        reservation: &ReservationId,
        request: &PlaceReservationRequest,
        attempt: Attempt<'_>,
    ) -> Result<Placed, ReservationError> {
        let Some((current, kept)) = self.reservations.get(reservation).await? else {
            return Err(unavailable("retry", Duration::from_secs(1)));
        };
        if current.guest_id != caller.user_id {
            return Err(ReservationError::NotFound);
        }
        tracing::warn!(reservation_id = %reservation, status = ?current.status, "resuming a booking whose attempt died");
        match current.status {
            ReservationStatus::Held => {
                let mut invalid = Invalid::default();
                let Some(method) = payment_method(request, self.settings.provider, caller, &mut invalid) else {
                    return Err(invalid.into());
                };
                self.settle(&current, &kept, &method, attempt).await
            }
            // Settled already: the transaction that settled it wrote the answer too, so these
            // are reached only by a record from before that was so.
            _ => Err(unavailable("retry", Duration::from_secs(1))),
        }
    }

    /// Pays for a hold, behind the breaker, under the timeout, then confirms or releases it.
    async fn settle(&self, held: &Reservation, extra: &Bookkeeping, method: &PaymentMethod, attempt: Attempt<'_>) -> Result<Placed, ReservationError> {
        let permit = match self.breaker.acquire().await {
            Ok(permit) => permit,
            Err(open) => {
                abort_hold(&self.reservations, held, extra, AbortReason::BreakerOpen, attempt.cause, KeyOnAbort::Release).await?;
                return Err(unavailable("breaker-open", open.retry_after));
            }
        };
        let request = PaymentRequest {
            action: PaymentAction::Approve,
            reservation_id: held.reservation_id.clone(),
            amount: held.amount.clone(),
            card_token: match method {
                PaymentMethod::Card(token) => Some(token.clone()),
                PaymentMethod::Authorized { .. } => None,
            },
            payment_key: match method {
                PaymentMethod::Authorized { payment_key, .. } => Some(payment_key.clone()),
                PaymentMethod::Card(_) => None,
            },
            order_id: match method {
                PaymentMethod::Authorized { order_id, .. } => Some(order_id.clone()),
                PaymentMethod::Card(_) => None,
            },
            guest_id: Some(held.guest_id.clone()),
            correlation_id: attempt.cause.correlation_id.clone(),
        };
        let payload = serde_json::to_value(&request).map_err(event_err)?;
        let called = std::time::Instant::now();
        let answer = self.payments.invoke(&payload, self.settings.payment_timeout).await;
        crate::metrics::payment_latency(called.elapsed());
        let payment = match answer.and_then(|v| serde_json::from_value::<PaymentResult>(v).map_err(|e| InvokeError::Failed(e.to_string()))) {
            Ok(payment) => {
                self.breaker.succeeded(permit).await;
                payment
            }
            Err(e) => {
                self.breaker.failed(permit).await;
                let (reason, why) = match e {
                    InvokeError::Timeout(_) => (AbortReason::Timeout, "timeout"),
                    InvokeError::Throttled => (AbortReason::PaymentFailed, "throttled"),
                    InvokeError::Failed(_) => (AbortReason::PaymentFailed, "payment-failed"),
                };
                tracing::warn!(reservation_id = %held.reservation_id, error = %e, "payment did not answer; the booking is aborted");
                abort_hold(&self.reservations, held, extra, reason, attempt.cause, KeyOnAbort::Release).await?;
                let retry = if permit == Permit::Probe { self.breaker.config().cool_down } else { Duration::from_secs(5) };
                return Err(unavailable(why, retry));
            }
        };
        match payment.status {
            PaymentStatus::Approved => self.confirm(held, extra, payment, attempt).await,
            _ => self.decline(held, extra, &payment, attempt).await,
        }
    }

    async fn confirm(&self, held: &Reservation, extra: &Bookkeeping, payment: PaymentResult, attempt: Attempt<'_>) -> Result<Placed, ReservationError> {
        let confirmed = Reservation { status: ReservationStatus::Confirmed, payment_id: Some(payment.payment_id.clone()), version: 2, ..held.clone() };
        let event = Event::ReservationConfirmed(ReservationConfirmed { reservation: confirmed.clone(), room_title: extra.room_title.clone() });
        let event = Envelope::new(event, confirmed.reservation_id.to_string(), 2, attempt.cause);
        let placed = Placed { reservation: confirmed.clone(), payment };
        let mut ops = vec![
            WriteOp::put_if(self.reservations.to_item(&confirmed, None, extra.clone())?, Condition::equals("status", "HELD")),
            ReservationStore::room_not_deleted(&held.room_id),
        ];
        if let Some(claim) = attempt.claim {
            ops.push(claim.finish(&held.reservation_id, &(attempt.render)(&Ok(placed.clone())))?);
        }
        match write_with_events(self.reservations.table(), ops, &[event]).await {
            Ok(()) => {
                tracing::info!(reservation_id = %confirmed.reservation_id, amount = %confirmed.amount, "reservation confirmed");
                Ok(placed)
            }
            Err(StorageError::ConditionFailed { failed }) if failed.contains(&1) && !failed.contains(&0) => {
                // The room was deleted while we paid: the stay cannot be kept. The abort refunds.
                let answer = attempt.claim.map(|c| (c, (attempt.render)(&Err(ReservationError::RoomNotFound))));
                let key = match answer {
                    Some((claim, answer)) => KeyOnAbort::Answer(claim, answer),
                    None => KeyOnAbort::Release,
                };
                abort_hold(&self.reservations, held, extra, AbortReason::RoomDeleted, attempt.cause, key).await?;
                Err(ReservationError::RoomNotFound)
            }
            Err(StorageError::ConditionFailed { .. }) => {
                match self.reservations.get(&held.reservation_id).await? {
                    // Another attempt with the same key confirmed it: the same booking, answered the same.
                    Some((now, _)) if now.status == ReservationStatus::Confirmed => Ok(Placed { reservation: now, ..placed }),
                    // The hold expired meanwhile and was aborted: that abort refunds this payment.
                    _ => Err(unavailable("hold-expired", Duration::from_secs(1))),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn decline(&self, held: &Reservation, extra: &Bookkeeping, payment: &PaymentResult, attempt: Attempt<'_>) -> Result<Placed, ReservationError> {
        let reason = payment.decline_reason.clone().unwrap_or_else(|| "declined".into());
        let declined = ReservationError::Declined(reason.clone());
        let rejected = Reservation { status: ReservationStatus::Rejected, version: 2, ..held.clone() };
        let mut ops = vec![WriteOp::put_if(self.reservations.to_item(&rejected, None, extra.clone())?, Condition::equals("status", "HELD"))];
        ops.extend(ReservationStore::release_nights(held));
        if let Some(claim) = attempt.claim {
            ops.push(claim.finish(&held.reservation_id, &(attempt.render)(&Err(ReservationError::Declined(reason.clone()))))?);
        }
        match self.reservations.table().write(ops).await {
            // Settled by another attempt or the hold's expiry: nothing was charged either way.
            Ok(()) | Err(StorageError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(reservation_id = %held.reservation_id, %reason, "payment declined; nights released");
        Err(declined)
    }
}

/// How a booking pays: a sandbox card token, or a payment the provider's form authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PaymentMethod {
    Card(String),
    Authorized { payment_key: String, order_id: String },
}

/// What the request brings to pay with, as this deployment's provider takes it; a reason per
/// field otherwise. A card token never pays where a real provider is configured, and an
/// authorization pays only for the guest whose order it was made for ([`order_prefix`]).
fn payment_method(request: &PlaceReservationRequest, provider: ProviderKind, caller: &Actor, invalid: &mut Invalid) -> Option<PaymentMethod> {
    match (provider, &request.card_token, &request.payment) {
        (ProviderKind::Sandbox, Some(token), None) => {
            let token = token.trim();
            if token.is_empty() || token.len() > 64 || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                invalid.push("cardToken", "must be the card token your payment form gave you");
                return None;
            }
            Some(PaymentMethod::Card(token.to_owned()))
        }
        (ProviderKind::Sandbox, _, _) => {
            invalid.push("cardToken", "is required here (this deployment's payments are the sandbox's card tokens), and payment is not taken");
            None
        }
        (ProviderKind::Toss, None, Some(p)) => {
            let before = invalid.0.len();
            if p.provider != ProviderKind::Toss.as_str() {
                invalid.push("payment.provider", "must be \"toss\"");
            }
            if p.payment_key.trim().is_empty() || p.payment_key.len() > 200 || p.payment_key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                invalid.push("payment.paymentKey", "must be the paymentKey the payment form gave you (at most 200 characters)");
            }
            let prefix = order_prefix(caller.user_id.as_str());
            if !(6..=64).contains(&p.order_id.len()) || !p.order_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                invalid.push("payment.orderId", "must be 6 to 64 of A-Z a-z 0-9 - _");
            } else if !p.order_id.starts_with(&prefix) || p.order_id.len() == prefix.len() {
                // Never confirmed: the authorization was made for someone else's order.
                invalid.push("payment.orderId", format!("must be an order of yours: your order ids start with {prefix} (docs/payments.md)"));
            }
            (invalid.0.len() == before).then(|| PaymentMethod::Authorized { payment_key: p.payment_key.clone(), order_id: p.order_id.clone() })
        }
        (ProviderKind::Toss, _, _) => {
            invalid.push("payment", "is required here (payments go through Toss Payments), and cardToken is not taken");
            None
        }
    }
}

/// Releases the nights, rejects the reservation and says `ReservationAborted`, so that a
/// payment that went through after all is refunded. Its idempotency key is released, or given
/// its final answer, in the same transaction.
pub(super) async fn abort_hold(
    store: &ReservationStore,
    held: &Reservation,
    extra: &Bookkeeping,
    reason: AbortReason,
    cause: &Causation,
    key: KeyOnAbort<'_>,
) -> Result<(), ReservationError> {
    let rejected = Reservation { status: ReservationStatus::Rejected, version: 2, ..held.clone() };
    let event = Event::ReservationAborted(ReservationAborted {
        reservation_id: held.reservation_id.clone(),
        room_id: held.room_id.clone(),
        guest_id: held.guest_id.clone(),
        host_id: held.host_id.clone(),
        stay: held.stay,
        amount: held.amount.clone(),
        reason,
        room_title: extra.room_title.clone(),
    });
    let event = Envelope::new(event, held.reservation_id.to_string(), 2, cause);
    let mut ops = vec![WriteOp::put_if(store.to_item(&rejected, None, extra.clone())?, Condition::equals("status", "HELD"))];
    ops.extend(ReservationStore::release_nights(held));
    match key {
        KeyOnAbort::Answer(claim, answer) => ops.push(claim.finish(&held.reservation_id, &answer)?),
        KeyOnAbort::Release => {
            if let Some(pk) = &extra.idempotency_pk {
                ops.push(release_bound(Key::new(pk, "IDEMPOTENCY"), &held.reservation_id));
            }
        }
    }
    match write_with_events(store.table(), ops, &[event]).await {
        Ok(()) => {
            tracing::warn!(reservation_id = %held.reservation_id, reason = ?reason, "booking aborted; nights released");
            Ok(())
        }
        // Already settled by someone else (another attempt, the hold expiry): nothing left to do.
        Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
