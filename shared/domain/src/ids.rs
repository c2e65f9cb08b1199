//! Identifiers. Ours are UUIDv7 (time-ordered); user ids are whatever the identity provider
//! puts in the token's `sub` claim.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }
            /// An id read from a path or a stored item; only UUIDs are ids.
            pub fn parse(text: &str) -> Option<Self> {
                uuid::Uuid::parse_str(text).ok().map(|u| $name(u.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(/// A room.
    RoomId);
id_type!(/// A reservation; also the idempotency key of its payment.
    ReservationId);
id_type!(/// A payment.
    PaymentId);
id_type!(/// A review.
    ReviewId);
id_type!(/// A notification.
    NotificationId);
id_type!(/// A domain event.
    EventId);

/// A user, as the identity provider names them (the JWT `sub`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn new(sub: impl Into<String>) -> Self {
        UserId(sub.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_and_ordered_by_time() {
        let a = RoomId::generate();
        let b = RoomId::generate();
        assert!(a < b);
        assert_eq!(RoomId::parse(a.as_str()), Some(a));
        assert_eq!(RoomId::parse("not-a-uuid"), None);
    }
}
