//! How rooms look on the wire: what a host sends and what anyone reads back.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::room::{Room, RoomInput, RoomStatus};
use crate::domain::Money;

/// `POST /rooms`. Unknown fields are refused so a typo never silently drops a value.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRoomRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub city: String,
    pub address: String,
    pub capacity: i64,
    pub nightly_price: MoneyDocument,
    #[serde(default)]
    pub amenities: Vec<String>,
}

impl From<RegisterRoomRequest> for RoomInput {
    fn from(r: RegisterRoomRequest) -> Self {
        RoomInput {
            title: r.title,
            description: r.description,
            city: r.city,
            address: r.address,
            capacity: r.capacity,
            price_amount: r.nightly_price.amount,
            price_currency: r.nightly_price.currency,
            amenities: r.amenities,
        }
    }
}

/// `PUT /rooms/{roomId}`: the room's new details, replacing the old, and the version they were
/// read at (or send it as `If-Match`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModifyRoomRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub city: String,
    pub address: String,
    pub capacity: i64,
    pub nightly_price: MoneyDocument,
    #[serde(default)]
    pub amenities: Vec<String>,
    #[serde(default)]
    pub version: Option<u64>,
}

impl ModifyRoomRequest {
    pub fn into_parts(self) -> (RoomInput, Option<u64>) {
        let version = self.version;
        let input = RoomInput {
            title: self.title,
            description: self.description,
            city: self.city,
            address: self.address,
            capacity: self.capacity,
            price_amount: self.nightly_price.amount,
            price_currency: self.nightly_price.currency,
            amenities: self.amenities,
        };
        (input, version)
    }
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomPage {
    pub items: Vec<RoomDocument>,
    /// Pass back as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoneyDocument {
    /// Integer minor units (won, cents).
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
}

impl From<&Money> for MoneyDocument {
    fn from(m: &Money) -> Self {
        MoneyDocument { amount: m.amount, currency: m.currency.code().to_owned() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingDocument {
    pub count: u32,
    pub average: Option<f64>,
}

/// A room as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomDocument {
    pub room_id: String,
    pub host_id: String,
    pub title: String,
    pub description: String,
    pub city: String,
    pub address: String,
    pub capacity: u32,
    pub nightly_price: MoneyDocument,
    pub amenities: Vec<String>,
    pub status: RoomStatus,
    pub version: u64,
    pub rating: RatingDocument,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&Room> for RoomDocument {
    fn from(room: &Room) -> Self {
        let d = &room.details;
        RoomDocument {
            room_id: room.id.to_string(),
            host_id: room.host_id.to_string(),
            title: d.title.clone(),
            description: d.description.clone(),
            city: d.city.clone(),
            address: d.address.clone(),
            capacity: d.capacity,
            nightly_price: (&d.nightly_price).into(),
            amenities: d.amenities.clone(),
            status: room.status,
            version: room.version,
            rating: RatingDocument { count: room.rating.count, average: room.rating.average() },
            created_at: room.created_at,
            updated_at: room.updated_at,
        }
    }
}
