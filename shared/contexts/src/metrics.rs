//! What bnb counts and times, through the `metrics` facade: on Lambda each function writes them
//! as CloudWatch Embedded Metric Format after every invocation (`bnb-lambda`), and `bnb-local`
//! shows them at `/metrics`. With no recorder installed (a unit test), every call does nothing.
//!
//! The names are what the CloudWatch dashboard and alarms in `template.yaml` read, in the `bnb`
//! namespace; a label becomes a dimension.

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};

use crate::reservations::ReservationError;

pub const NAMESPACE: &str = "bnb";
/// An execution environment's first invocation (label `function`).
pub const COLD_START: &str = "ColdStart";
/// A booking confirmed and paid.
pub const BOOKINGS_CONFIRMED: &str = "BookingsConfirmed";
/// A booking refused for what it asked (label `reason`: nights-taken, declined, ...).
pub const BOOKINGS_REJECTED: &str = "BookingsRejected";
/// A booking given up because payment could not answer (label `reason`: timeout,
/// breaker-open, throttled, ...): the guest is told to retry.
pub const BOOKINGS_ABORTED: &str = "BookingsAborted";
/// How long the payment function took to answer, or to time out.
pub const PAYMENT_LATENCY: &str = "PaymentLatency";
/// The payment breaker opened (calls stop for its cool-down).
pub const BREAKER_OPENS: &str = "BreakerOpens";
/// How old a domain event was when a consumer took it: now − `occurredAt` (label `consumer`).
pub const EVENT_AGE: &str = "EventAge";

/// Gives each metric its unit (EMF writes it; Prometheus shows the description).
pub fn describe() {
    describe_counter!(COLD_START, Unit::Count, "first invocations of an execution environment");
    describe_counter!(BOOKINGS_CONFIRMED, Unit::Count, "bookings confirmed and paid");
    describe_counter!(BOOKINGS_REJECTED, Unit::Count, "bookings refused, by reason");
    describe_counter!(BOOKINGS_ABORTED, Unit::Count, "bookings given up because payment could not answer, by reason");
    describe_histogram!(PAYMENT_LATENCY, Unit::Milliseconds, "payment call latency");
    describe_counter!(BREAKER_OPENS, Unit::Count, "times the payment breaker opened");
    describe_histogram!(EVENT_AGE, Unit::Milliseconds, "age of a domain event when a consumer takes it");
}

pub fn cold_start(function: &str) {
    counter!(COLD_START, "function" => function.to_owned()).increment(1);
}

/// Counts what became of one booking request that reached the booking itself.
pub fn booking<T>(outcome: &Result<T, ReservationError>) {
    let rejected = |reason: &'static str| counter!(BOOKINGS_REJECTED, "reason" => reason).increment(1);
    match outcome {
        Ok(_) => counter!(BOOKINGS_CONFIRMED).increment(1),
        Err(ReservationError::NightsTaken(_)) => rejected("nights-taken"),
        Err(ReservationError::Declined(_)) => rejected("declined"),
        Err(ReservationError::RoomNotFound) => rejected("room-not-found"),
        Err(ReservationError::OwnRoom) => rejected("own-room"),
        Err(ReservationError::Invalid(_)) => rejected("invalid"),
        Err(ReservationError::PaymentUnavailable { reason, .. }) => counter!(BOOKINGS_ABORTED, "reason" => reason.clone()).increment(1),
        // Who may book, and the idempotency key's own answers, are not bookings' outcomes.
        Err(_) => {}
    }
}

pub fn payment_latency(elapsed: std::time::Duration) {
    histogram!(PAYMENT_LATENCY).record(elapsed.as_secs_f64() * 1000.0);
}

pub fn breaker_opened() {
    counter!(BREAKER_OPENS).increment(1);
}

pub fn event_age(consumer: &'static str, occurred_at: time::OffsetDateTime) {
    let age = time::OffsetDateTime::now_utc() - occurred_at;
    histogram!(EVENT_AGE, "consumer" => consumer).record(age.as_seconds_f64().max(0.0) * 1000.0);
}
