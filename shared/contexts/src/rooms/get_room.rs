use super::{RoomError, RoomStore};
use crate::domain::room::{Room, RoomStatus};
use crate::domain::RoomId;

/// Anyone reads an active room; a deleted or unknown one is not found.
pub async fn get_room(store: &RoomStore, id: &str) -> Result<Room, RoomError> {
    let id = RoomId::parse(id).ok_or(RoomError::NotFound)?;
    match store.get(&id).await? {
        Some(room) if room.status == RoomStatus::Active => Ok(room),
        _ => Err(RoomError::NotFound),
    }
}
