//! Rooms in the `rooms` table: the item layout and the key lookups.
//!
//! | item | pk | sk | gsi1 (search) |
//! |---|---|---|---|
//! | room | `ROOM#<id>` | `ROOM` | `CITY#<city>` / `CAP#<capacity:03>#<roomId>`, active rooms only |
//! | occupied night | `ROOM#<id>` | `NIGHT#<date>#<reservationId>` | |
//!
//! Search by city and guests is one index query (`gsi1sk >= CAP#<guests>`), so rooms too small
//! are never read; a stay's availability is one query of the room's own partition.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::room::{city_key, RatingSummary, Room, RoomDetails, RoomStatus};
use crate::domain::{Currency, Money, RoomId, UserId};
use crate::storage::{from_item, to_item, Condition, Item, Key, StorageError, Table, Update, WriteOp};

/// The room context's view of its table.
#[derive(Clone)]
pub struct RoomStore {
    table: Arc<dyn Table>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoomRecord {
    room_id: RoomId,
    host_id: UserId,
    title: String,
    description: String,
    city: String,
    address: String,
    capacity: u32,
    nightly_price: Money,
    amenities: Vec<String>,
    status: RoomStatus,
    version: u64,
    #[serde(default)]
    rating_count: u32,
    #[serde(default)]
    rating_total: u32,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl RoomStore {
    pub fn new(table: Arc<dyn Table>) -> Self {
        RoomStore { table }
    }

    pub fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    pub fn key(id: &RoomId) -> Key {
        Key::new(format!("ROOM#{id}"), "ROOM")
    }

    /// The room, whatever its status.
    pub async fn get(&self, id: &RoomId) -> Result<Option<Room>, StorageError> {
        self.table.get(&Self::key(id)).await?.map(|item| Self::from_item(&item)).transpose()
    }

    /// The item that stores `room`, with the index attributes its status calls for.
    pub fn to_item(room: &Room) -> Result<Item, StorageError> {
        let d = &room.details;
        let record = RoomRecord {
            room_id: room.id.clone(),
            host_id: room.host_id.clone(),
            title: d.title.clone(),
            description: d.description.clone(),
            city: d.city.clone(),
            address: d.address.clone(),
            capacity: d.capacity,
            nightly_price: d.nightly_price.clone(),
            amenities: d.amenities.clone(),
            status: room.status,
            version: room.version,
            rating_count: room.rating.count,
            rating_total: room.rating.total,
            created_at: room.created_at,
            updated_at: room.updated_at,
        };
        let mut item = to_item(&record)?;
        let key = Self::key(&room.id);
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("kind".into(), "room".into());
        if room.status == RoomStatus::Active {
            // Only active rooms are in the search index: deleting a room takes it out.
            item.insert("gsi1pk".into(), format!("CITY#{}", city_key(&d.city)).into());
            item.insert("gsi1sk".into(), search_sort_key(d.capacity, &room.id).into());
        }
        Ok(item)
    }

    /// An update that writes the host's side of `room` (details, status, version, indexes) when
    /// `guard` holds, and leaves alone what other writers keep on the item: the rating, which
    /// the room handler adds to without reading the version.
    pub fn update_host_fields(room: &Room, guard: Condition) -> Result<WriteOp, StorageError> {
        let mut update = Update::new(Self::key(&room.id));
        for (attr, value) in Self::to_item(room)? {
            if !matches!(attr.as_str(), "pk" | "sk" | "ratingCount" | "ratingTotal") {
                update = update.set(attr, value);
            }
        }
        if room.status != RoomStatus::Active {
            update = update.remove("gsi1pk").remove("gsi1sk");
        }
        Ok(update.when(guard).into_op())
    }

    /// Reads a room that must exist, whatever its status.
    pub async fn load(&self, id: &str) -> Result<Room, super::RoomError> {
        let id = RoomId::parse(id).ok_or(super::RoomError::NotFound)?;
        self.get(&id).await?.ok_or(super::RoomError::NotFound)
    }

    pub fn from_item(item: &Item) -> Result<Room, StorageError> {
        let record: RoomRecord = from_item(item)?;
        Ok(Room {
            id: record.room_id,
            host_id: record.host_id,
            details: RoomDetails {
                title: record.title,
                description: record.description,
                city: record.city,
                address: record.address,
                capacity: record.capacity,
                nightly_price: Money {
                    amount: record.nightly_price.amount,
                    currency: Currency::parse(record.nightly_price.currency.code()).unwrap_or(record.nightly_price.currency),
                },
                amenities: record.amenities,
            },
            status: record.status,
            version: record.version,
            rating: RatingSummary { count: record.rating_count, total: record.rating_total },
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }
}

/// Where a room sorts in its city's search partition: by capacity, so that "at least N guests"
/// is a key condition.
pub fn search_sort_key(capacity: u32, id: &RoomId) -> String {
    format!("{}{id}", capacity_prefix(capacity))
}

/// The sort-key prefix of rooms with this capacity.
pub fn capacity_prefix(capacity: u32) -> String {
    format!("CAP#{capacity:03}#")
}
