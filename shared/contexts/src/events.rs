//! Domain events: the envelope every event travels in, and the event types of design.md §3.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::domain::EventId;

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

/// The envelope (JSON, camelCase) every event travels in, from outbox to consumer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    pub event_id: EventId,
    pub event_type: EventType,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub aggregate_id: String,
    /// The aggregate's version after this event: consumers apply only newer ones.
    pub version: u64,
    pub correlation_id: String,
    /// The event or request that caused this one.
    pub causation_id: String,
    pub payload: Value,
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
    pub fn new(
        event_type: EventType,
        aggregate_id: impl Into<String>,
        version: u64,
        cause: &Causation,
        payload: impl Serialize,
    ) -> Result<Envelope, serde_json::Error> {
        Ok(Envelope {
            event_id: EventId::generate(),
            event_type,
            occurred_at: OffsetDateTime::now_utc(),
            aggregate_id: aggregate_id.into(),
            version,
            correlation_id: cause.correlation_id.clone(),
            causation_id: cause.causation_id.clone(),
            payload: serde_json::to_value(payload)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_camel_case_json() {
        let e = Envelope::new(EventType::RoomRegistered, "room-1", 1, &Causation::request("corr-1"), serde_json::json!({"a": 1})).unwrap();
        let json = serde_json::to_value(&e).unwrap();
        for field in ["eventId", "eventType", "occurredAt", "aggregateId", "version", "correlationId", "causationId", "payload"] {
            assert!(json.get(field).is_some(), "{field} missing");
        }
        assert_eq!(json["eventType"], "RoomRegistered");
        assert_eq!(serde_json::from_value::<Envelope>(json).unwrap(), e);
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }
}
