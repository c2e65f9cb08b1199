use time::OffsetDateTime;

use super::{RoomDocument, RoomError, RoomStore};
use crate::domain::room::{Room, RoomDetails, RoomInput, RoomStatus};
use crate::domain::Actor;
use crate::events::{Causation, Envelope, Event};
use crate::outbox::write_with_events;
use crate::storage::{Condition, StorageError};

/// The owning host replaces a room's details, if the room is still at the version they read.
pub async fn modify_room(
    store: &RoomStore,
    caller: &Actor,
    room_id: &str,
    input: RoomInput,
    expected_version: u64,
    cause: &Causation,
) -> Result<Room, RoomError> {
    let current = store.load(room_id).await?;
    if current.status != RoomStatus::Active {
        return Err(RoomError::NotFound);
    }
    if !current.is_owned_by(&caller.user_id) {
        return Err(RoomError::NotOwner);
    }
    if current.version != expected_version {
        return Err(RoomError::StaleVersion { current: current.version });
    }
    let details = RoomDetails::validate(input)?;
    let room = Room { details, version: current.version + 1, updated_at: OffsetDateTime::now_utc(), ..current.clone() };
    let event = Envelope::new(Event::RoomModified(RoomDocument::from(&room)), room.id.to_string(), room.version, cause);
    // The version read above must still be the stored one: a racing change makes this a 409.
    let guard = Condition::equals("version", current.version).and(Condition::equals("status", "ACTIVE"));
    let update = RoomStore::update_host_fields(&room, guard)?;
    match write_with_events(store.table(), vec![update], &[event]).await {
        Ok(()) => {}
        Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => {
            let now = store.load(room_id).await?;
            return Err(if now.status == RoomStatus::Active { RoomError::StaleVersion { current: now.version } } else { RoomError::NotFound });
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(room_id = %room.id, version = room.version, "room modified");
    Ok(room)
}
