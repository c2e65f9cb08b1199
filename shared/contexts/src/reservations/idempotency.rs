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

use crate::clock::SharedClock;
use crate::domain::ReservationId;
use crate::storage::{from_item, to_item, Condition, Key, StorageError, Table, Update, WriteOp};

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

/// The record of one key, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    /// `IN_FLIGHT` or `DONE`.
    pub state: String,
    /// The request body the key was first used with.
    pub body: String,
    /// While in flight: until when the attempt holding it may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until_ms: Option<i64>,
    /// The booking the key is bound to, from the hold on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<ReservationId>,
    /// Once done: the answer, as first sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// TTL, epoch seconds.
    pub expires_at: i64,
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
        let item = IdempotencyRecord {
            pk: record.pk.clone(),
            sk: record.sk.clone(),
            kind: "idempotency".into(),
            state: "IN_FLIGHT".into(),
            body: body.to_owned(),
            lease_until_ms: Some(now + self.lease.as_millis() as i64),
            reservation_id: None,
            status: None,
            response: None,
            headers: None,
            expires_at: now / 1000 + KEPT_SECONDS,
        };
        match self.table.write(vec![WriteOp::put_if(to_item(&item)?, Condition::NotExists)]).await {
            Ok(()) => return Ok(Begin::New(claim)),
            Err(StorageError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e),
        }
        let Some(stored) = self.table.get(&record).await? else {
            // Released between our write and our read: the retry will find it free.
            return Ok(Begin::InFlight);
        };
        let stored: IdempotencyRecord = from_item(&stored)?;
        if stored.body != body {
            return Ok(Begin::Mismatch);
        }
        if stored.state == "DONE" {
            let answer =
                StoredAnswer { status: stored.status.unwrap_or(500), body: stored.response.unwrap_or_default(), headers: stored.headers.unwrap_or_default() };
            return Ok(Begin::Replay(answer));
        }
        let lease_until = stored.lease_until_ms.unwrap_or(i64::MAX);
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
        let bound = stored.reservation_id;
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
