//! `Idempotency-Key` for `POST /reservations`: one key, one booking, across crashes.
//!
//! The record lives in the reservations table, next to what it protects:
//! - `begin` claims the key with a lease (`IN_FLIGHT`);
//! - the hold transaction binds the key to its reservation (`reservationId`), so a retry after a
//!   crash finds the booking it started instead of booking again;
//! - the transaction that settles the booking (confirm, decline) also writes the answer
//!   (`DONE`, status, body, headers), and an abort deletes the record, so state and answer can
//!   never disagree;
//! - a retry whose lease ran out takes the key over and resumes the bound booking (pay with the
//!   same payment key, then confirm or release).
//!
//! The same key with another body is `422`; while the first attempt's lease runs, `409`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::SharedClock;
use crate::domain::ReservationId;
use crate::storage::{Condition, Item, Key, StorageError, Table, Update, WriteOp};

/// How long a key is remembered.
const KEPT_SECONDS: i64 = 24 * 3600;

/// An answer as it was first sent, kept to be sent again byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: String,
    /// Header name → value (`content-type`, `location`, ...).
    pub headers: BTreeMap<String, String>,
}

/// A key this attempt holds: who claimed it, with which body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub scope: String,
    pub key: String,
}

impl Claim {
    /// The record's primary key.
    pub fn record_key(&self) -> Key {
        IdempotencyStore::key(&self.scope, &self.key)
    }

    /// Binds the key to `reservation` (in the hold transaction): only this attempt's claim, only
    /// once. Its condition fails if another attempt bound the key first.
    pub fn bind(&self, reservation: &ReservationId) -> WriteOp {
        Update::new(self.record_key())
            .set("reservationId", reservation.as_str())
            .when(Condition::equals("state", "IN_FLIGHT").and(Condition::AttributeNotExists("reservationId".into())))
            .into_op()
    }

    /// Records the final answer (in the transaction that settles `reservation`).
    pub fn finish(&self, reservation: &ReservationId, answer: &StoredAnswer) -> Result<WriteOp, StorageError> {
        Ok(finish_update(self.record_key(), answer)?.when(Condition::equals("reservationId", reservation.as_str())).into_op())
    }
}

/// Forgets the key bound to `reservation` (in the transaction that aborts it), so that a retry
/// books anew. A record already gone is fine.
pub fn release_bound(record: Key, reservation: &ReservationId) -> WriteOp {
    WriteOp::delete_if(record, Condition::NotExists.or(Condition::equals("reservationId", reservation.as_str())))
}

fn finish_update(key: Key, answer: &StoredAnswer) -> Result<Update, StorageError> {
    let headers = serde_json::to_value(&answer.headers).map_err(|e| StorageError::Invalid(e.to_string()))?;
    Ok(Update::new(key).set("state", "DONE").set("status", answer.status).set("response", answer.body.as_str()).set("headers", headers).remove("leaseUntilMs"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First time (or a first attempt that died before holding anything): go ahead.
    New(Claim),
    /// A first attempt died after holding `reservation`: finish that booking.
    Resume { claim: Claim, reservation: ReservationId },
    /// Answered before: send this again.
    Replay(StoredAnswer),
    /// The key was used with another body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

#[derive(Clone)]
pub struct IdempotencyStore {
    table: Arc<dyn Table>,
    clock: SharedClock,
    lease: Duration,
}

impl IdempotencyStore {
    /// `lease`: how long an attempt may run before a retry may take its place. Longer than any
    /// attempt takes (a hold plus the payment timeout), so that two live attempts rarely overlap;
    /// if they do, the reservation's own conditions keep the booking single.
    pub fn new(table: Arc<dyn Table>, clock: SharedClock, lease: Duration) -> Self {
        IdempotencyStore { table, clock, lease }
    }

    pub fn key(scope: &str, key: &str) -> Key {
        Key::new(format!("IDEMPOTENCY#{scope}#{key}"), "IDEMPOTENCY")
    }

    /// Claims `key` (per caller: `scope` is the user id) for a request with this body.
    pub async fn begin(&self, scope: &str, key: &str, body: &str) -> Result<Begin, StorageError> {
        let now = self.clock.now_ms();
        let claim = Claim { scope: scope.to_owned(), key: key.to_owned() };
        let record = Self::key(scope, key);
        let mut item: Item = record.to_item();
        item.insert("kind".into(), "idempotency".into());
        item.insert("state".into(), "IN_FLIGHT".into());
        item.insert("body".into(), body.into());
        item.insert("leaseUntilMs".into(), (now + self.lease.as_millis() as i64).into());
        item.insert("expiresAt".into(), (now / 1000 + KEPT_SECONDS).into());
        match self.table.write(vec![WriteOp::put_if(item, Condition::NotExists)]).await {
            Ok(()) => return Ok(Begin::New(claim)),
            Err(StorageError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e),
        }
        let Some(stored) = self.table.get(&record).await? else {
            // Released between our write and our read: the retry will find it free.
            return Ok(Begin::InFlight);
        };
        let text = |k: &str| stored.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        if text("body") != body {
            return Ok(Begin::Mismatch);
        }
        if text("state") == "DONE" {
            let status = stored.get("status").and_then(Value::as_u64).unwrap_or(500) as u16;
            let headers = stored.get("headers").cloned().and_then(|h| serde_json::from_value(h).ok()).unwrap_or_default();
            return Ok(Begin::Replay(StoredAnswer { status, body: text("response"), headers }));
        }
        let lease_until = stored.get("leaseUntilMs").and_then(Value::as_i64).unwrap_or(i64::MAX);
        if lease_until >= now {
            return Ok(Begin::InFlight);
        }
        // The attempt that held the lease is gone: take its place, exactly once.
        let take_over = Update::new(record)
            .set("leaseUntilMs", now + self.lease.as_millis() as i64)
            .when(Condition::equals("state", "IN_FLIGHT").and(Condition::equals("leaseUntilMs", lease_until)));
        match self.table.write(vec![take_over.into_op()]).await {
            Ok(()) => {}
            Err(StorageError::ConditionFailed { .. }) => return Ok(Begin::InFlight),
            Err(e) => return Err(e),
        }
        let bound = stored.get("reservationId").and_then(Value::as_str).and_then(ReservationId::parse);
        tracing::warn!(reservation_id = ?bound.as_ref().map(|r| r.to_string()), "a retry takes over an idempotency key whose attempt died");
        Ok(match bound {
            Some(reservation) => Begin::Resume { claim, reservation },
            None => Begin::New(claim),
        })
    }

    /// Records an answer that settled nothing (a refusal before anything was held).
    pub async fn complete(&self, claim: &Claim, answer: &StoredAnswer) -> Result<(), StorageError> {
        let update = finish_update(claim.record_key(), answer)?.when(Condition::equals("state", "IN_FLIGHT"));
        self.table.write(vec![update.into_op()]).await
    }

    /// Forgets the key, so that a retry after a passing failure runs again. Only a key that
    /// holds no booking: a bound key is released by the abort of its booking.
    pub async fn release(&self, claim: &Claim) -> Result<(), StorageError> {
        let unbound = Condition::equals("state", "IN_FLIGHT").and(Condition::AttributeNotExists("reservationId".into()));
        match self.table.write(vec![WriteOp::delete_if(claim.record_key(), unbound)]).await {
            Ok(()) | Err(StorageError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
