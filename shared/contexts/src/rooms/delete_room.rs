use time::OffsetDateTime;

use super::{RoomDocument, RoomError, RoomStore};
use crate::domain::room::{Room, RoomStatus};
use crate::domain::Actor;
use crate::events::{Causation, Envelope, Event};
use crate::outbox::write_with_events;
use crate::storage::{Condition, StorageError};

/// The owning host deletes a room: `DELETED`, out of search, `RoomDeleted` emitted (the
/// reservation context then cancels its future stays).
pub async fn delete_room(store: &RoomStore, caller: &Actor, room_id: &str, cause: &Causation) -> Result<Room, RoomError> {
    let current = store.load(room_id).await?;
    if current.status != RoomStatus::Active {
        return Err(RoomError::NotFound);
    }
    if !current.is_owned_by(&caller.user_id) {
        return Err(RoomError::NotOwner);
    }
    let room = Room { status: RoomStatus::Deleted, version: current.version + 1, updated_at: OffsetDateTime::now_utc(), ..current.clone() };
    let event = Envelope::new(Event::RoomDeleted(RoomDocument::from(&room)), room.id.to_string(), room.version, cause);
    let guard = Condition::equals("version", current.version).and(Condition::equals("status", "ACTIVE"));
    match write_with_events(store.table(), vec![RoomStore::update_host_fields(&room, guard)?], &[event]).await {
        Ok(()) => {}
        Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => {
            // Changed meanwhile: deleted by a racing request, or modified (then try again).
            let now = store.load(room_id).await?;
            return Err(if now.status == RoomStatus::Active { RoomError::StaleVersion { current: now.version } } else { RoomError::NotFound });
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(room_id = %room.id, "room deleted");
    Ok(room)
}
