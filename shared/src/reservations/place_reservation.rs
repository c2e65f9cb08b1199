//! Booking, exactly as design.md §2 says: validate; read the room; hold the nights (one
//! conditional lock item per night); pay (synchronously, under a timeout, behind the shared
//! breaker); confirm — or release and reject. A booking that is not paid never exists.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{PlaceReservationRequest, ReservationError, ReservationStore};
use crate::domain::payment::PaymentStatus;
use crate::domain::reservation::{AbortReason, Reservation, ReservationStatus};
use crate::domain::room::RoomStatus;
use crate::domain::stay::format_date;
use crate::domain::{Invalid, ReservationId, RoomId, Stay};
use crate::events::{Causation, Envelope, EventType};
use crate::http::Caller;
use crate::outbox::write_with_events;
use crate::payments::{CircuitBreaker, InvokeError, Invoker, PaymentAction, PaymentRequest, PaymentResult, Permit};
use crate::rooms::RoomStore;
use crate::storage::{Condition, StorageError, WriteOp};

/// Timings from configuration (`PAYMENT_TIMEOUT_MS`, `HOLD_SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReservationSettings {
    /// How long a booking waits for payment before it gives up and answers 503.
    pub payment_timeout: Duration,
    /// How long nights stay held before `expire-holds` releases them (well past any function's
    /// timeout, so only a dead function's hold expires).
    pub hold: Duration,
}

impl Default for ReservationSettings {
    fn default() -> Self {
        ReservationSettings { payment_timeout: Duration::from_secs(3), hold: Duration::from_secs(120) }
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
        }
    }
}

/// A confirmed booking.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub reservation: Reservation,
    pub payment: PaymentResult,
}

/// Everything booking needs, built once per function instance.
pub struct PlaceReservation {
    pub reservations: ReservationStore,
    pub rooms: RoomStore,
    pub payments: Arc<dyn Invoker>,
    pub breaker: Arc<CircuitBreaker>,
    pub settings: ReservationSettings,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn unavailable(reason: &str, retry_after: Duration) -> ReservationError {
    ReservationError::PaymentUnavailable { reason: reason.to_owned(), retry_after_seconds: retry_after.as_secs().clamp(1, 300) as u32 }
}

fn event_err(e: serde_json::Error) -> ReservationError {
    ReservationError::Storage(StorageError::Invalid(e.to_string()))
}

impl PlaceReservation {
    pub async fn place(&self, caller: &Caller, request: PlaceReservationRequest, cause: &Causation) -> Result<Placed, ReservationError> {
        if !caller.is_guest() {
            return Err(ReservationError::NotGuest);
        }
        // 1. Validate, and read the room.
        let mut invalid = Invalid::default();
        let room_id = RoomId::parse(request.room_id.trim()).ok_or_else(|| invalid.push("roomId", "must be a room id")).ok();
        let stay = Stay::parse(&request.check_in, &request.check_out).map_err(|e| invalid.0.extend(e.0)).ok();
        if let Some(stay) = &stay {
            if stay.check_in < OffsetDateTime::now_utc().date() {
                invalid.push("checkIn", "must be today or later");
            }
        }
        if !(1..=crate::domain::room::MAX_CAPACITY as i64).contains(&request.guests) {
            invalid.push("guests", "must be a whole number from 1 to 50");
        }
        let token = request.card_token.trim();
        if token.is_empty() || token.len() > 64 || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            invalid.push("cardToken", "must be the card token your payment form gave you");
        }
        invalid.into_result()?;
        let (Some(room_id), Some(stay)) = (room_id, stay) else { return Err(Invalid::field("roomId", "is not valid").into()) };
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
        let amount = room.details.nightly_price.times(stay.nights()).ok_or_else(|| Invalid::field("checkOut", "the stay costs more than bnb takes in one payment"))?;
        // Fail fast while the breaker is open: nothing is written, nothing is held.
        if let Err(open) = self.breaker.acquire_peek().await {
            return Err(unavailable("breaker-open", open.retry_after));
        }

        // 2. Hold: the reservation HELD and one lock per night, all or nothing.
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
        let hold_expires = now_ms() + self.settings.hold.as_millis() as i64;
        let extra = json!({"roomTitle": room.details.title, "createdAt": OffsetDateTime::now_utc().unix_timestamp()});
        let mut ops = vec![WriteOp::put_if(ReservationStore::to_item(&held, Some(hold_expires), extra.clone())?, Condition::NotExists)];
        ops.extend(ReservationStore::hold_nights(&held));
        if let Err(e) = self.reservations.table().write(ops).await {
            return Err(match e {
                StorageError::ConditionFailed { failed } => {
                    let nights: Vec<_> = held.stay.each_night().collect();
                    let taken = failed.iter().filter(|i| **i > 0).filter_map(|i| nights.get(i - 1)).map(|d| format_date(*d)).collect();
                    ReservationError::NightsTaken(taken)
                }
                e => e.into(),
            });
        }
        tracing::info!(reservation_id = %held.reservation_id, room_id = %held.room_id, nights = held.stay.nights(), "nights held");

        // 3. Pay, behind the breaker, under the timeout.
        let permit = match self.breaker.acquire().await {
            Ok(permit) => permit,
            Err(open) => {
                self.abort(&held, &extra, AbortReason::BreakerOpen, cause).await?;
                return Err(unavailable("breaker-open", open.retry_after));
            }
        };
        let request = PaymentRequest {
            action: PaymentAction::Approve,
            reservation_id: held.reservation_id.clone(),
            amount: held.amount.clone(),
            card_token: Some(token.to_owned()),
            guest_id: Some(held.guest_id.clone()),
            correlation_id: cause.correlation_id.clone(),
        };
        let payload = serde_json::to_value(&request).map_err(event_err)?;
        let answer = self.payments.invoke(&payload, self.settings.payment_timeout).await;
        let payment = match answer.and_then(|v| serde_json::from_value::<PaymentResult>(v).map_err(|e| InvokeError::Failed(e.to_string()))) {
            Ok(payment) => {
                self.breaker.succeeded(permit).await;
                payment
            }
            Err(e) => {
                self.breaker.failed(permit).await;
                let reason = match e {
                    InvokeError::Timeout(_) => AbortReason::Timeout,
                    InvokeError::Failed(_) => AbortReason::PaymentFailed,
                };
                tracing::warn!(reservation_id = %held.reservation_id, error = %e, "payment did not answer; the booking is aborted");
                self.abort(&held, &extra, reason, cause).await?;
                let retry = if permit == Permit::Probe { self.breaker.config().cool_down } else { Duration::from_secs(5) };
                return Err(unavailable(if reason == AbortReason::Timeout { "timeout" } else { "payment-failed" }, retry));
            }
        };

        // 4. Confirm, or release.
        match payment.status {
            PaymentStatus::Approved => {
                let confirmed = Reservation { status: ReservationStatus::Confirmed, payment_id: Some(payment.payment_id.clone()), version: 2, ..held.clone() };
                let mut payload = serde_json::to_value(&confirmed).map_err(event_err)?;
                if let (Value::Object(p), Some(title)) = (&mut payload, extra.get("roomTitle")) {
                    p.insert("roomTitle".into(), title.clone());
                }
                let event = Envelope::new(EventType::ReservationConfirmed, confirmed.reservation_id.to_string(), 2, cause, payload).map_err(event_err)?;
                let confirm = WriteOp::put_if(ReservationStore::to_item(&confirmed, None, extra.clone())?, Condition::equals("status", "HELD"));
                match write_with_events(self.reservations.table(), vec![confirm], &[event]).await {
                    Ok(()) => {
                        tracing::info!(reservation_id = %confirmed.reservation_id, amount = %confirmed.amount, "reservation confirmed");
                        Ok(Placed { reservation: confirmed, payment })
                    }
                    // The hold expired meanwhile and was aborted: that abort refunds this payment.
                    Err(StorageError::ConditionFailed { .. }) => Err(unavailable("hold-expired", Duration::from_secs(1))),
                    Err(e) => Err(e.into()),
                }
            }
            _ => {
                let reason = payment.decline_reason.clone().unwrap_or_else(|| "declined".into());
                let rejected = Reservation { status: ReservationStatus::Rejected, version: 2, ..held.clone() };
                let mut ops = vec![WriteOp::put_if(ReservationStore::to_item(&rejected, None, extra.clone())?, Condition::equals("status", "HELD"))];
                ops.extend(ReservationStore::release_nights(&held));
                self.reservations.table().write(ops).await.or_else(ignore_condition)?;
                tracing::info!(reservation_id = %held.reservation_id, %reason, "payment declined; nights released");
                Err(ReservationError::Declined(reason))
            }
        }
    }

    /// Releases the nights, rejects the reservation and says `ReservationAborted`, so that a
    /// payment that went through after all is refunded.
    async fn abort(&self, held: &Reservation, extra: &Value, reason: AbortReason, cause: &Causation) -> Result<(), ReservationError> {
        abort_hold(&self.reservations, held, extra, reason, cause).await
    }
}

pub(super) async fn abort_hold(store: &ReservationStore, held: &Reservation, extra: &Value, reason: AbortReason, cause: &Causation) -> Result<(), ReservationError> {
    let rejected = Reservation { status: ReservationStatus::Rejected, version: 2, ..held.clone() };
    let payload = json!({
        "reservationId": held.reservation_id, "roomId": held.room_id, "guestId": held.guest_id, "hostId": held.host_id,
        "checkIn": format_date(held.stay.check_in), "checkOut": format_date(held.stay.check_out),
        "amount": held.amount, "reason": reason, "roomTitle": extra.get("roomTitle"),
    });
    let event = Envelope::new(EventType::ReservationAborted, held.reservation_id.to_string(), 2, cause, payload).map_err(event_err)?;
    let mut ops = vec![WriteOp::put_if(ReservationStore::to_item(&rejected, None, extra.clone())?, Condition::equals("status", "HELD"))];
    ops.extend(ReservationStore::release_nights(held));
    match write_with_events(store.table(), ops, &[event]).await {
        Ok(()) => {
            tracing::warn!(reservation_id = %held.reservation_id, reason = ?reason, "booking aborted; nights released");
            Ok(())
        }
        // Already settled by someone else (the hold expiry): nothing left to do.
        Err(StorageError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn ignore_condition(e: StorageError) -> Result<(), StorageError> {
    match e {
        StorageError::ConditionFailed { .. } => Ok(()),
        e => Err(e),
    }
}
