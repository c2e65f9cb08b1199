//! The read side: what `GET /reservations/{id}`, `GET /me/reservations` and
//! `GET /host/dashboard` answer. Each is one key lookup or a few key-condition queries on the
//! caller's own partition.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Duration;

use super::keys;
use super::rows::{HostNight, HostRoomRow, HostSummary, LatestBooking, RatingSums, ReservationView, RevenueRow};
use crate::domain::reservation::ReservationStatus;
use crate::domain::stay::format_date;
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
    /// Every active room of the host, counted (the list below is one page of them).
    pub active_rooms: i64,
    pub rooms: Vec<DashboardRoom>,
    pub rooms_next_cursor: Option<String>,
    pub stays: Vec<ReservationView>,
    pub stays_next_cursor: Option<String>,
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
    /// Each night with a booking, and how many rooms are booked on it (what a calendar draws).
    pub nights: Vec<NightBooked>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NightBooked {
    pub night: String,
    pub booked: i64,
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

/// How many rooms and stays one dashboard answer carries; the rest is a cursor away.
pub const DASHBOARD_PAGE: usize = 50;

/// Where the dashboard's room and stay lists go on from (`roomsCursor`, `staysCursor`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DashboardCursors<'a> {
    pub rooms: Option<&'a str>,
    pub stays: Option<&'a str>,
}

/// The host's dashboard: active rooms (counted), a page of rooms with status and rating, a page
/// of current and upcoming stays, occupancy of the next 30 days, revenue per currency (confirmed
/// minus refunded), the latest bookings. `today` is the Asia/Seoul date, from the function's
/// clock.
///
/// Its cost is the same for a host with one room or ten thousand: one key lookup and five
/// queries of at most [`DASHBOARD_PAGE`] items (occupancy from the per-night counters the
/// projector keeps, at most 30 of them; the room count from the host's summary).
pub async fn host_dashboard(views: &dyn Table, caller: &Actor, today: time::Date, cursors: DashboardCursors<'_>) -> Result<HostDashboard, ViewError> {
    let (rooms_cursor, _) = crate::paging::page_params(cursors.rooms, None).map_err(|e| rename(e, "roomsCursor"))?;
    let (stays_cursor, _) = crate::paging::page_params(cursors.stays, None).map_err(|e| rename(e, "staysCursor"))?;
    let pk = format!("HOST#{}", caller.user_id);
    let summary: HostSummary = views.get(&keys::host_summary(caller.user_id.as_str())).await?.map(|i| from_item(&i)).transpose()?.unwrap_or_default();
    let room_page = views.query(&Query::partition(pk.clone()).sort(SortKey::BeginsWith("ROOM#".into())).limit(DASHBOARD_PAGE).after(rooms_cursor)).await?;
    // A row only a review has touched so far (its room's registration still on its way) is not a room yet.
    let rooms: Vec<StoredHostRoom> = room_page.items.iter().filter(|r| of_kind(r, "host-room")).map(from_item).collect::<Result<_, _>>()?;
    let horizon = today + Duration::days(30);
    // Stays that may still be current: those checking in up to 30 nights ago.
    let from = format!("STAY#{}", format_date(today - Duration::days(31)));
    let to = format!("STAY#{}#~", format_date(horizon));
    let today_text = format_date(today);
    let stay_page = views.query(&Query::partition(pk.clone()).sort(SortKey::Between(from, to)).limit(DASHBOARD_PAGE).after(stays_cursor)).await?;
    let stays: Vec<ReservationView> = stay_page
        .items
        .iter()
        .map(from_item::<ReservationView>)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|s| s.status == ReservationStatus::Confirmed && s.check_out > today_text)
        .collect();
    let last_night = format_date(horizon - Duration::days(1));
    let nights: Vec<HostNight> = views
        .query(&Query::partition(pk.clone()).sort(SortKey::Between(format!("NIGHT#{today_text}"), format!("NIGHT#{last_night}"))).limit(31))
        .await?
        .items
        .iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    // Currencies: a handful per host.
    let revenue: Vec<RevenueRow> = views
        .query(&Query::partition(pk.clone()).sort(SortKey::BeginsWith("REVENUE#".into())).limit(100))
        .await?
        .items
        .iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    let latest = views.query(&Query::partition(pk.clone()).sort(SortKey::BeginsWith("LATEST#".into())).descending().limit(10)).await?.items;

    let booked_nights: i64 = nights.iter().map(|n| n.booked.max(0)).sum();
    let capacity = summary.active_rooms.max(0) * 30;
    let rate = if capacity == 0 { 0.0 } else { (booked_nights as f64 / capacity as f64 * 1000.0).round() / 1000.0 };
    Ok(HostDashboard {
        host_id: caller.user_id.clone(),
        active_rooms: summary.active_rooms.max(0),
        rooms: rooms.into_iter().map(|r| DashboardRoom { rating: r.rating.document(), room: r.room }).collect(),
        rooms_next_cursor: room_page.next.map(|c| c.as_str().to_owned()),
        stays,
        stays_next_cursor: stay_page.next.map(|c| c.as_str().to_owned()),
        occupancy: Occupancy {
            from: format_date(today),
            to: format_date(horizon),
            booked_nights,
            available_nights: capacity,
            rate,
            nights: nights.iter().filter(|n| n.booked > 0).map(|n| NightBooked { night: n.night.clone(), booked: n.booked }).collect(),
        },
        revenue: revenue
            .into_iter()
            .map(|r| Revenue { net: r.confirmed - r.refunded, currency: r.currency, confirmed: r.confirmed, refunded: r.refunded })
            .collect(),
        latest_reservations: latest.iter().map(from_item).collect::<Result<_, _>>()?,
    })
}

/// A cursor problem named after the parameter that carried it.
fn rename(invalid: Invalid, field: &str) -> Invalid {
    Invalid(
        invalid
            .0
            .into_iter()
            .map(|mut v| {
                v.field = field.to_owned();
                v
            })
            .collect(),
    )
}
