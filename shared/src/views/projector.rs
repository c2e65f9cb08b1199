use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::consumer::{Consumer, ConsumerError};
use crate::events::{Envelope, EventType};
use crate::storage::{Condition, Item, Table, WriteOp};

/// Keeps the `views` table: one projection per event type it is subscribed to.
pub struct ViewProjector {
    table: Arc<dyn Table>,
}

impl ViewProjector {
    pub const NAME: &'static str = "view-projector";

    pub fn new(table: Arc<dyn Table>) -> Self {
        ViewProjector { table }
    }
}

/// Applies a projection only when it is newer than what the view holds.
fn newer_than_held(version: u64) -> Condition {
    Condition::NotExists.or(Condition::less_than("version", version))
}

fn text(payload: &Value, field: &str) -> Result<String, ConsumerError> {
    payload
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ConsumerError::Transient(format!("payload has no `{field}`")))
}

#[async_trait]
impl Consumer for ViewProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    async fn apply(&self, event: &Envelope) -> Result<Vec<WriteOp>, ConsumerError> {
        match event.event_type {
            EventType::RoomRegistered | EventType::RoomModified | EventType::RoomDeleted => {
                let p = &event.payload;
                let host_id = text(p, "hostId")?;
                let room_id = text(p, "roomId")?;
                let status = if event.event_type == EventType::RoomDeleted { "DELETED".to_owned() } else { text(p, "status")? };
                let row = json!({
                    "pk": format!("HOST#{host_id}"),
                    "sk": format!("ROOM#{room_id}"),
                    "kind": "host-room",
                    "roomId": room_id,
                    "title": p.get("title").cloned().unwrap_or(Value::Null),
                    "city": p.get("city").cloned().unwrap_or(Value::Null),
                    "capacity": p.get("capacity").cloned().unwrap_or(Value::Null),
                    "nightlyPrice": p.get("nightlyPrice").cloned().unwrap_or(Value::Null),
                    "rating": p.get("rating").cloned().unwrap_or(Value::Null),
                    "status": status,
                    "version": event.version,
                    "lastEventId": event.event_id.to_string(),
                    "updatedAt": event.occurred_at.unix_timestamp(),
                });
                let Value::Object(item) = row else { return Ok(vec![]) };
                Ok(vec![WriteOp::put_if(item as Item, newer_than_held(event.version))])
            }
            _ => Ok(vec![]),
        }
    }
}
