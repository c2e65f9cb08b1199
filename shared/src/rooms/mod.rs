//! The room context: hosts register, change and delete rooms; anyone reads them.

mod document;
mod get_room;
mod register_room;
mod store;

pub use document::{MoneyDocument, RegisterRoomRequest, RoomDocument};
pub use get_room::get_room;
pub use register_room::register_room;
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
    #[error(transparent)]
    Storage(#[from] StorageError),
}
