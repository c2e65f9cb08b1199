//! Domain events: the envelope every event travels in, and the typed events of design.md §3.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::domain::reservation::{AbortReason, CancelledBy, Reservation};
use crate::domain::review::Review;
use crate::domain::{EventId, Money, ReservationId, RoomId, Stay, UserId};
use crate::payments::PaymentResult;
use crate::rooms::RoomDocument;

/// Every event bnb publishes, by the name consumers filter on (`eventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    RoomRegistered,
    RoomModified,
    RoomDeleted,
    ReservationConfirmed,
    ReservationCancelled,
    ReservationAborted,
    PaymentApproved,
    PaymentDeclined,
    PaymentRefunded,
    ReviewWritten,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::RoomRegistered,
        EventType::RoomModified,
        EventType::RoomDeleted,
        EventType::ReservationConfirmed,
        EventType::ReservationCancelled,
        EventType::ReservationAborted,
        EventType::PaymentApproved,
        EventType::PaymentDeclined,
        EventType::PaymentRefunded,
        EventType::ReviewWritten,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::RoomRegistered => "RoomRegistered",
            EventType::RoomModified => "RoomModified",
            EventType::RoomDeleted => "RoomDeleted",
            EventType::ReservationConfirmed => "ReservationConfirmed",
            EventType::ReservationCancelled => "ReservationCancelled",
            EventType::ReservationAborted => "ReservationAborted",
            EventType::PaymentApproved => "PaymentApproved",
            EventType::PaymentDeclined => "PaymentDeclined",
            EventType::PaymentRefunded => "PaymentRefunded",
            EventType::ReviewWritten => "ReviewWritten",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, by the name consumers filter on, with its typed payload. On the wire it is
/// the envelope's `eventType` and `payload` (adjacently tagged).
///
/// Versioning: a payload may gain fields, and an older consumer reads it still (unknown fields
/// are ignored, here and in the envelope); a field is never renamed or removed, and a new field
/// an old producer does not send is an `Option` or has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "eventType", content = "payload")]
pub enum Event {
    RoomRegistered(RoomDocument),
    RoomModified(RoomDocument),
    /// The room as it was deleted (`status: DELETED`).
    RoomDeleted(RoomDocument),
    ReservationConfirmed(ReservationConfirmed),
    ReservationCancelled(ReservationCancelled),
    ReservationAborted(ReservationAborted),
    PaymentApproved(PaymentResult),
    PaymentDeclined(PaymentResult),
    PaymentRefunded(PaymentResult),
    ReviewWritten(ReviewWritten),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::RoomRegistered(_) => EventType::RoomRegistered,
            Event::RoomModified(_) => EventType::RoomModified,
            Event::RoomDeleted(_) => EventType::RoomDeleted,
            Event::ReservationConfirmed(_) => EventType::ReservationConfirmed,
            Event::ReservationCancelled(_) => EventType::ReservationCancelled,
            Event::ReservationAborted(_) => EventType::ReservationAborted,
            Event::PaymentApproved(_) => EventType::PaymentApproved,
            Event::PaymentDeclined(_) => EventType::PaymentDeclined,
            Event::PaymentRefunded(_) => EventType::PaymentRefunded,
            Event::ReviewWritten(_) => EventType::ReviewWritten,
        }
    }
}

/// `ReservationConfirmed`: the reservation (with its payment id and amount) and its room's title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationConfirmed {
    #[serde(flatten)]
    pub reservation: Reservation,
    #[serde(default)]
    pub room_title: Option<String>,
}

/// `ReservationCancelled`: the reservation as cancelled, and by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationCancelled {
    #[serde(flatten)]
    pub reservation: Reservation,
    pub cancelled_by: CancelledBy,
    #[serde(default)]
    pub room_title: Option<String>,
}

/// `ReservationAborted`: a booking whose nights were held but that did not go through, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationAborted {
    pub reservation_id: ReservationId,
    pub room_id: RoomId,
    pub guest_id: UserId,
    pub host_id: UserId,
    #[serde(flatten)]
    pub stay: Stay,
    pub amount: Money,
    pub reason: AbortReason,
    #[serde(default)]
    pub room_title: Option<String>,
}

/// `ReviewWritten`: the review, its room's host and title, and when it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewWritten {
    #[serde(flatten)]
    pub review: Review,
    pub host_id: UserId,
    #[serde(default)]
    pub room_title: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The envelope (JSON, camelCase) every event travels in, from outbox to consumer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub event_id: EventId,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub aggregate_id: String,
    /// The aggregate's version after this event: consumers apply only newer ones.
    pub version: u64,
    pub correlation_id: String,
    /// The event or request that caused this one.
    pub causation_id: String,
    /// `eventType` and `payload`.
    #[serde(flatten)]
    pub event: Event,
}

/// Where an event comes from: the request or event that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Causation {
    pub correlation_id: String,
    pub causation_id: String,
}

impl Causation {
    /// An HTTP request: the correlation id is also the cause.
    pub fn request(correlation_id: impl Into<String>) -> Self {
        let correlation_id = correlation_id.into();
        Causation { causation_id: correlation_id.clone(), correlation_id }
    }

    /// An event, causing others.
    pub fn event(envelope: &Envelope) -> Self {
        Causation { correlation_id: envelope.correlation_id.clone(), causation_id: envelope.event_id.to_string() }
    }
}

impl Envelope {
    pub fn new(event: Event, aggregate_id: impl Into<String>, version: u64, cause: &Causation) -> Envelope {
        Envelope {
            event_id: EventId::generate(),
            occurred_at: OffsetDateTime::now_utc(),
            aggregate_id: aggregate_id.into(),
            version,
            correlation_id: cause.correlation_id.clone(),
            causation_id: cause.causation_id.clone(),
            event,
        }
    }

    /// An envelope whose payload is given as JSON (tests, tools): it must read as `event_type`'s.
    pub fn from_payload(
        event_type: EventType,
        aggregate_id: impl Into<String>,
        version: u64,
        cause: &Causation,
        payload: impl Serialize,
    ) -> Result<Envelope, serde_json::Error> {
        let event = serde_json::from_value(serde_json::json!({"eventType": event_type, "payload": payload}))?;
        Ok(Envelope::new(event, aggregate_id, version, cause))
    }

    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }

    /// The payload as JSON, as consumers receive it.
    pub fn payload(&self) -> Value {
        match serde_json::to_value(&self.event) {
            Ok(Value::Object(mut tagged)) => tagged.remove("payload").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment::PaymentStatus;
    use crate::domain::PaymentId;

    fn payment() -> PaymentResult {
        PaymentResult {
            payment_id: PaymentId::generate(),
            reservation_id: ReservationId::generate(),
            amount: Money::new(240_000, "KRW").unwrap(),
            status: PaymentStatus::Approved,
            decline_reason: None,
            guest_id: Some(UserId::new("guest-1")),
            provider: None,
            payment_key: None,
            order_id: None,
            refund_reason: None,
        }
    }

    #[test]
    fn envelope_is_camel_case_json_with_the_payload_beside_its_type() {
        let e = Envelope::new(Event::PaymentApproved(payment()), "r-1", 1, &Causation::request("corr-1"));
        let json = serde_json::to_value(&e).unwrap();
        for field in ["eventId", "eventType", "occurredAt", "aggregateId", "version", "correlationId", "causationId", "payload"] {
            assert!(json.get(field).is_some(), "{field} missing");
        }
        assert_eq!(json["eventType"], "PaymentApproved");
        assert_eq!(json["payload"]["amount"]["amount"], 240_000);
        assert_eq!(e.payload(), json["payload"]);
        assert_eq!(serde_json::from_value::<Envelope>(json).unwrap(), e);
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn an_added_field_is_read_past_in_the_envelope_and_the_payload() {
        let e = Envelope::new(Event::PaymentApproved(payment()), "r-1", 1, &Causation::request("corr-1"));
        let mut json = serde_json::to_value(&e).unwrap();
        json["schemaHint"] = "v2".into();
        json["payload"]["installments"] = 3.into();
        assert_eq!(serde_json::from_value::<Envelope>(json).unwrap(), e);
    }

    #[test]
    fn a_payload_of_the_wrong_shape_does_not_read() {
        let bad = Envelope::from_payload(EventType::PaymentApproved, "r-1", 1, &Causation::request("c"), serde_json::json!({"roomId": "x"}));
        assert!(bad.is_err());
    }
}
