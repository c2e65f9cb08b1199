//! The room context: hosts register, change and delete rooms; anyone reads and searches them;
//! the room handler keeps occupancy and ratings from other contexts' events.

mod delete_room;
mod document;
mod get_room;
mod handler;
mod modify_room;
mod occupancy;
mod register_room;
mod search_rooms;
mod store;

pub use delete_room::delete_room;
pub use document::{ModifyRoomRequest, MoneyDocument, RatingDocument, RegisterRoomRequest, RoomDocument, RoomPage};
pub use get_room::get_room;
pub use handler::RoomHandler;
pub use modify_room::modify_room;
pub use occupancy::record_nights;
pub use register_room::register_room;
pub use search_rooms::{search_rooms, SearchInput, MAX_PAGE};
pub use store::RoomStore;

use crate::domain::Invalid;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the caller is not a host")]
    NotHost,
    #[error("the caller does not own the room")]
    NotOwner,
    #[error("no such room")]
    NotFound,
    #[error("stale version; the room is at {current}")]
    StaleVersion { current: u64 },
    #[error("the request names no version: send If-Match or `version`")]
    VersionRequired,
    #[error(transparent)]
    Storage(#[from] StorageError),
}
