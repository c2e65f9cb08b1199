//! The transactional outbox: a command's state change and its event, in one atomic write.
//!
//! A command builds its [`WriteOp`]s and hands them to [`write_with_events`], which appends one
//! outbox item per event. The table's stream carries the outbox INSERT to `publish-events`, so
//! there is no event without its state change and no state change without its event.

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::events::Envelope;
use crate::storage::{Item, StorageError, Table, WriteOp};

/// How long an outbox item lives after it is written (DynamoDB TTL).
pub const OUTBOX_TTL_SECONDS: i64 = 24 * 60 * 60;

/// The outbox item that carries `envelope`.
pub fn outbox_item(envelope: &Envelope) -> Result<Item, StorageError> {
    let envelope_json = serde_json::to_value(envelope).map_err(|e| StorageError::Invalid(format!("event does not serialize: {e}")))?;
    let expires = OffsetDateTime::now_utc().unix_timestamp() + OUTBOX_TTL_SECONDS;
    let item = json!({
        "pk": format!("OUTBOX#{}", envelope.event_id),
        "sk": "OUTBOX",
        "kind": "outbox",
        "eventType": envelope.event_type.as_str(),
        "envelope": envelope_json,
        "expiresAt": expires,
    });
    match item {
        Value::Object(map) => Ok(map),
        _ => Err(StorageError::Invalid("outbox item is not an object".into())),
    }
}

/// Reads the envelope back out of an outbox item (what the stream publisher does).
pub fn envelope_of(item: &Item) -> Option<Result<Envelope, serde_json::Error>> {
    if !item.get("pk").and_then(Value::as_str).is_some_and(|pk| pk.starts_with("OUTBOX#")) {
        return None;
    }
    item.get("envelope").map(|e| serde_json::from_value(e.clone()))
}

/// Writes `ops` and one outbox item per event, all or nothing.
pub async fn write_with_events(table: &dyn Table, mut ops: Vec<WriteOp>, events: &[Envelope]) -> Result<(), StorageError> {
    for envelope in events {
        ops.push(WriteOp::put_if(outbox_item(envelope)?, crate::storage::Condition::NotExists));
    }
    table.write(ops).await
}
