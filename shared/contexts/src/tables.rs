//! Every context's table: the environment variable that names it (set by `template.yaml`, or by
//! `bnb-local` from the same template) and its indexes. One place, so the functions, the local
//! runtime and the tests cannot disagree.

use crate::storage::TableSpec;

/// A kind of table bnb has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableKind {
    /// The environment variable that holds the table's name.
    pub env: &'static str,
    /// The name tests and `bnb-local` give it.
    pub default_name: &'static str,
    pub indexes: &'static [&'static str],
}

impl TableKind {
    /// The table as this process's environment names it; a function without it does not start.
    pub fn from_env(&self) -> Result<TableSpec, crate::config::MissingVariable> {
        Ok(self.named(&crate::config::required(self.env)?))
    }

    /// The table under its default name (tests, the local runtime's own tables).
    pub fn spec(&self) -> TableSpec {
        self.named(self.default_name)
    }

    pub fn named(&self, name: &str) -> TableSpec {
        self.indexes.iter().fold(TableSpec::new(name), |spec, index| spec.with_index(index))
    }
}

/// Rooms: `ROOM#<id>/ROOM`; `gsi1` = active rooms by city.
pub const ROOMS: TableKind = TableKind { env: "ROOMS_TABLE", default_name: "rooms", indexes: &["gsi1", "outbox"] };

/// Views (CQRS read models): `HOST#<hostId>`, `GUEST#<guestId>`, `RESERVATION#<id>` partitions.
pub const VIEWS: TableKind = TableKind { env: "VIEWS_TABLE", default_name: "views", indexes: &[] };

/// Reservations, night locks, idempotency records and the payment breaker; `gsi1` = a room's
/// confirmed stays by check-in, `gsi2` = holds by expiry, over a few shards.
/// `gsi3` = a guest's confirmed stays in a room (who may review it).
pub const RESERVATIONS: TableKind = TableKind { env: "RESERVATIONS_TABLE", default_name: "reservations", indexes: &["gsi1", "gsi2", "gsi3", "outbox"] };

/// Notifications (`USER#<id>` / `NOTIF#...`) and profiles (`PROFILE#<id>`).
pub const NOTIFICATIONS: TableKind = TableKind { env: "NOTIFICATIONS_TABLE", default_name: "notifications", indexes: &[] };

/// Reviews: `ROOM#<roomId>` / `REVIEW#<at>#<id>`, one `REVIEW#<reservationId>` guard per stay.
pub const REVIEWS: TableKind = TableKind { env: "REVIEWS_TABLE", default_name: "reviews", indexes: &["outbox"] };

/// Payments, one per reservation, and the sandbox provider's ledger; `uncertain` = payments
/// whose booking gave up waiting, oldest first (reconciliation's work list, sparse).
pub const PAYMENTS: TableKind = TableKind { env: "PAYMENTS_TABLE", default_name: "payments", indexes: &["outbox", "uncertain"] };

/// The tables that keep an outbox (and so an `outbox` index of what is not yet published).
pub const WITH_OUTBOX: &[TableKind] = &[ROOMS, RESERVATIONS, PAYMENTS, REVIEWS];

/// Every kind of table bnb has.
pub const ALL: &[TableKind] = &[ROOMS, VIEWS, RESERVATIONS, PAYMENTS, NOTIFICATIONS, REVIEWS];

pub fn notifications() -> TableSpec {
    NOTIFICATIONS.spec()
}

pub fn reviews() -> TableSpec {
    REVIEWS.spec()
}

pub fn reservations() -> TableSpec {
    RESERVATIONS.spec()
}

pub fn payments() -> TableSpec {
    PAYMENTS.spec()
}

pub fn rooms() -> TableSpec {
    ROOMS.spec()
}

pub fn views() -> TableSpec {
    VIEWS.spec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_table_variable_stops_start_up_naming_it() {
        // A name no test sets.
        let kind = TableKind { env: "BNB_TEST_NEVER_SET_TABLE", default_name: "x", indexes: &[] };
        let error = kind.from_env().unwrap_err().to_string();
        assert!(error.contains("BNB_TEST_NEVER_SET_TABLE") && error.contains("cannot start"), "{error}");
    }
}
