//! The read side: what `GET /reservations/{id}`, `GET /me/reservations` and
//! `GET /host/dashboard` answer. Each is one key lookup or a few key-condition queries on the
//! caller's own partition.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Duration;

use super::keys;
use super::rows::{HostRoomRow, LatestBooking, RatingSums, ReservationView, RevenueRow};
use crate::domain::reservation::ReservationStatus;
use crate::domain::room::RoomStatus;
use crate::domain::stay::{format_date, parse_date};
use crate::domain::{Actor, Invalid, UserId};
use crate::rooms::RatingDocument;
use crate::storage::{from_item, Item, Query, SortKey, StorageError, Table};

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A page of the caller's reservations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationPage {
    pub items: Vec<ReservationView>,
    pub next_cursor: Option<String>,
}

/// `GET /host/dashboard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostDashboard {
    pub host_id: UserId,
    pub rooms: Vec<DashboardRoom>,
    pub stays: Vec<ReservationView>,
    pub occupancy: Occupancy,
    pub revenue: Vec<Revenue>,
    pub latest_reservations: Vec<LatestBooking>,
}

/// A host's room on the dashboard, with its rating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardRoom {
    #[serde(flatten)]
    pub room: HostRoomRow,
    pub rating: RatingDocument,
}

/// Booked nights of the active rooms over the next 30 days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Occupancy {
    pub from: String,
    pub to: String,
    pub booked_nights: i64,
    pub available_nights: i64,
    pub rate: f64,
}

/// Takings in one currency: confirmed minus refunded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revenue {
    pub currency: String,
    pub confirmed: i64,
    pub refunded: i64,
    pub net: i64,
}

/// A host's room row as stored: the row and its rating sums.
#[derive(Deserialize)]
struct StoredHostRoom {
    #[serde(flatten)]
    room: HostRoomRow,
    #[serde(flatten)]
    rating: RatingSums,
}

fn of_kind(item: &Item, kind: &str) -> bool {
    item.get("kind").and_then(Value::as_str) == Some(kind)
}

/// A reservation's status, for its guest or the room's host; anyone else: not found.
pub async fn reservation_status(views: &dyn Table, caller: &Actor, id: &str) -> Result<ReservationView, ViewError> {
    let item = views.get(&keys::reservation(id)).await?.ok_or(ViewError::NotFound)?;
    // A view that has only heard of the payment so far has no reservation to show yet.
    if !of_kind(&item, "reservation-view") {
        return Err(ViewError::NotFound);
    }
    let view: ReservationView = from_item(&item)?;
    if view.guest_id != caller.user_id && view.host_id != caller.user_id {
        return Err(ViewError::NotFound);
    }
    Ok(view)
}

/// The caller's reservations, latest check-in first, paged.
pub async fn my_reservations(views: &dyn Table, caller: &Actor, cursor: Option<&str>, limit: Option<&str>) -> Result<ReservationPage, ViewError> {
    let (cursor, limit) = crate::paging::page_params(cursor, limit)?;
    let query = Query::partition(format!("GUEST#{}", caller.user_id)).sort(SortKey::BeginsWith("RES#".into())).descending().limit(limit).after(cursor);
    let page = views.query(&query).await?;
    let items = page.items.iter().map(from_item::<ReservationView>).collect::<Result<_, _>>()?;
    Ok(ReservationPage { items, next_cursor: page.next.map(|c| c.as_str().to_owned()) })
}

/// The host's dashboard: rooms with status and rating, current and upcoming stays, occupancy of
/// the next 30 days, revenue per currency (confirmed minus refunded), the latest bookings.
/// `today` is the Asia/Seoul date, from the function's clock.
pub async fn host_dashboard(views: &dyn Table, caller: &Actor, today: time::Date) -> Result<HostDashboard, ViewError> {
    let pk = format!("HOST#{}", caller.user_id);
    let all = |sort: SortKey| Query::partition(pk.clone()).sort(sort).limit(1000);
    // A row only a review has touched so far (its room's registration still on its way) is not a room yet.
    let rooms: Vec<StoredHostRoom> =
        collect(views, all(SortKey::BeginsWith("ROOM#".into()))).await?.iter().filter(|r| of_kind(r, "host-room")).map(from_item).collect::<Result<_, _>>()?;
    let horizon = today + Duration::days(30);
    // Stays that may still be current: those checking in up to 30 nights ago.
    let from = format!("STAY#{}", format_date(today - Duration::days(31)));
    let to = format!("STAY#{}#~", format_date(horizon));
    let today_text = format_date(today);
    let stays: Vec<ReservationView> = collect(views, all(SortKey::Between(from, to)))
        .await?
        .iter()
        .map(from_item::<ReservationView>)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|s| s.status == ReservationStatus::Confirmed && s.check_out > today_text)
        .collect();
    let revenue: Vec<RevenueRow> = collect(views, all(SortKey::BeginsWith("REVENUE#".into()))).await?.iter().map(from_item).collect::<Result<_, _>>()?;
    let latest = views.query(&Query::partition(pk.clone()).sort(SortKey::BeginsWith("LATEST#".into())).descending().limit(10)).await?.items;

    let active_rooms = rooms.iter().filter(|r| r.room.status == RoomStatus::Active).count();
    let mut booked_nights = 0i64;
    for stay in &stays {
        if let (Ok(a), Ok(b)) = (parse_date(&stay.check_in), parse_date(&stay.check_out)) {
            booked_nights += (b.min(horizon) - a.max(today)).whole_days().max(0);
        }
    }
    let capacity = active_rooms as i64 * 30;
    let rate = if capacity == 0 { 0.0 } else { (booked_nights as f64 / capacity as f64 * 1000.0).round() / 1000.0 };
    Ok(HostDashboard {
        host_id: caller.user_id.clone(),
        rooms: rooms.into_iter().map(|r| DashboardRoom { rating: r.rating.document(), room: r.room }).collect(),
        stays,
        occupancy: Occupancy { from: format_date(today), to: format_date(horizon), booked_nights, available_nights: capacity, rate },
        revenue: revenue
            .into_iter()
            .map(|r| Revenue { net: r.confirmed - r.refunded, currency: r.currency, confirmed: r.confirmed, refunded: r.refunded })
            .collect(),
        latest_reservations: latest.iter().map(from_item).collect::<Result<_, _>>()?,
    })
}

async fn collect(views: &dyn Table, mut query: Query) -> Result<Vec<Item>, StorageError> {
    let mut out = Vec::new();
    for _ in 0..20 {
        let page = views.query(&query).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => query = query.after(Some(next)),
            None => break,
        }
    }
    Ok(out)
}
