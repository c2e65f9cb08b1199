use time::OffsetDateTime;

use super::{RoomError, RoomStore};
use crate::domain::room::{Room, RoomDetails, RoomInput};
use crate::domain::Actor;
use crate::events::{Causation, Envelope, Event};
use crate::outbox::write_with_events;
use crate::storage::{Condition, WriteOp};

/// A host registers a room: validated, stored `ACTIVE` at version 1, with `RoomRegistered` in
/// the same atomic write.
pub async fn register_room(store: &RoomStore, caller: &Actor, input: RoomInput, cause: &Causation) -> Result<Room, RoomError> {
    if !caller.is_host() {
        return Err(RoomError::NotHost);
    }
    let details = RoomDetails::validate(input)?;
    let room = Room::register(caller.user_id.clone(), details, OffsetDateTime::now_utc());
    let event = Envelope::new(Event::RoomRegistered(super::RoomDocument::from(&room)), room.id.to_string(), room.version, cause);
    let put = WriteOp::put_if(RoomStore::to_item(&room)?, Condition::NotExists);
    write_with_events(store.table(), vec![put], &[event]).await?;
    tracing::info!(room_id = %room.id, host_id = %room.host_id, "room registered");
    Ok(room)
}
