//! `Idempotency-Key` for `POST /reservations`: the same key with the same body gets the first
//! answer again without paying twice; with another body, 422; while the first is in flight, 409.
//! A first attempt that died leaves a lease that runs out, so the key is not stuck.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::storage::{Condition, Item, Key, StorageError, Table, Update, WriteOp};

/// How long a first attempt may run before a retry may take its place.
const LEASE_MS: i64 = 30_000;
/// How long a key is remembered.
const KEPT_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First time: go ahead, then `complete`.
    New,
    /// Answered before: send this again.
    Replay { status: u16, body: String },
    /// The key was used with another body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

#[derive(Clone)]
pub struct IdempotencyStore {
    table: Arc<dyn Table>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl IdempotencyStore {
    pub fn new(table: Arc<dyn Table>) -> Self {
        IdempotencyStore { table }
    }

    fn key(scope: &str, key: &str) -> Key {
        Key::new(format!("IDEMPOTENCY#{scope}#{key}"), "IDEMPOTENCY")
    }

    /// Claims `key` (per caller: `scope` is the user id) for a request with this body.
    pub async fn begin(&self, scope: &str, key: &str, body: &str) -> Result<Begin, StorageError> {
        let now = now_ms();
        let mut item: Item = Self::key(scope, key).to_item();
        if let Value::Object(extra) = json!({
            "kind": "idempotency", "state": "IN_FLIGHT", "body": body,
            "leaseUntilMs": now + LEASE_MS, "expiresAt": now / 1000 + KEPT_SECONDS,
        }) {
            item.extend(extra);
        }
        let stale_lease = Condition::equals("state", "IN_FLIGHT").and(Condition::less_than("leaseUntilMs", now)).and(Condition::equals("body", body));
        match self.table.write(vec![WriteOp::put_if(item, Condition::NotExists.or(stale_lease))]).await {
            Ok(()) => Ok(Begin::New),
            Err(StorageError::ConditionFailed { .. }) => {
                let Some(stored) = self.table.get(&Self::key(scope, key)).await? else {
                    return Ok(Begin::InFlight);
                };
                let text = |k: &str| stored.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                if text("body") != body {
                    return Ok(Begin::Mismatch);
                }
                if text("state") == "DONE" {
                    let status = stored.get("status").and_then(Value::as_u64).unwrap_or(500) as u16;
                    return Ok(Begin::Replay { status, body: text("response") });
                }
                Ok(Begin::InFlight)
            }
            Err(e) => Err(e),
        }
    }

    /// Remembers the answer.
    pub async fn complete(&self, scope: &str, key: &str, status: u16, response: &str) -> Result<(), StorageError> {
        let update = Update::new(Self::key(scope, key)).set("state", "DONE").set("status", status).set("response", response).remove("leaseUntilMs");
        self.table.write(vec![update.when(Condition::Exists).into_op()]).await
    }

    /// Forgets the key, so that a retry after a passing failure runs again.
    pub async fn release(&self, scope: &str, key: &str) -> Result<(), StorageError> {
        self.table.write(vec![WriteOp::delete_if(Self::key(scope, key), Condition::equals("state", "IN_FLIGHT"))]).await.or_else(|e| match e {
            StorageError::ConditionFailed { .. } => Ok(()),
            e => Err(e),
        })
    }
}
