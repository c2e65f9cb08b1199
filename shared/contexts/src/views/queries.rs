//! The read side: what `GET /reservations/{id}`, `GET /me/reservations` and
//! `GET /host/dashboard` answer. Each is one key lookup or a few key-condition queries on the
//! caller's own partition.

use serde_json::{json, Map, Value};
use time::Duration;

use super::keys;
use crate::domain::stay::format_date;
use crate::domain::Actor;
use crate::domain::Invalid;
use crate::storage::{Item, Query, SortKey, StorageError, Table};

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The fields a caller sees (no keys, no bookkeeping).
fn public(item: &Item) -> Value {
    let hidden = ["pk", "sk", "kind", "version", "paymentVersion", "lastEventId", "expiresAt"];
    Value::Object(item.iter().filter(|(k, v)| !hidden.contains(&k.as_str()) && !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect::<Map<_, _>>())
}

/// A reservation's status, for its guest or the room's host; anyone else: not found.
pub async fn reservation_status(views: &dyn Table, caller: &Actor, id: &str) -> Result<Value, ViewError> {
    let item = views.get(&keys::reservation(id)).await?.ok_or(ViewError::NotFound)?;
    let me = caller.user_id.as_str();
    let mine = item.get("guestId").and_then(Value::as_str) == Some(me) || item.get("hostId").and_then(Value::as_str) == Some(me);
    // A view that has only heard of the payment so far has no reservation to show yet.
    if !mine || item.get("status").is_none() {
        return Err(ViewError::NotFound);
    }
    Ok(public(&item))
}

/// The caller's reservations, latest check-in first, paged.
pub async fn my_reservations(views: &dyn Table, caller: &Actor, cursor: Option<&str>, limit: Option<&str>) -> Result<Value, ViewError> {
    let (cursor, limit) = crate::paging::page_params(cursor, limit)?;
    let query = Query::partition(format!("GUEST#{}", caller.user_id)).sort(SortKey::BeginsWith("RES#".into())).descending().limit(limit).after(cursor);
    let page = views.query(&query).await?;
    Ok(json!({
        "items": page.items.iter().map(public).collect::<Vec<_>>(),
        "nextCursor": page.next.map(|c| c.as_str().to_owned()),
    }))
}

/// The host's dashboard: rooms with status and rating, current and upcoming stays, occupancy of
/// the next 30 days, revenue per currency (confirmed minus refunded), the latest bookings.
/// `today` is the Asia/Seoul date, from the function's clock.
pub async fn host_dashboard(views: &dyn Table, caller: &Actor, today: time::Date) -> Result<Value, ViewError> {
    let pk = format!("HOST#{}", caller.user_id);
    let all = |sort: SortKey| Query::partition(pk.clone()).sort(sort).limit(1000);
    let rooms = collect(views, all(SortKey::BeginsWith("ROOM#".into()))).await?;
    let horizon = today + Duration::days(30);
    // Stays that may still be current: those checking in up to 30 nights ago.
    let from = format!("STAY#{}", format_date(today - Duration::days(31)));
    let to = format!("STAY#{}#~", format_date(horizon));
    let stays: Vec<Item> = collect(views, all(SortKey::Between(from, to)))
        .await?
        .into_iter()
        .filter(|s| s.get("status").and_then(Value::as_str) == Some("CONFIRMED"))
        .filter(|s| s.get("checkOut").and_then(Value::as_str).is_some_and(|out| out > format_date(today).as_str()))
        .collect();
    let revenue = collect(views, all(SortKey::BeginsWith("REVENUE#".into()))).await?;
    let latest = views.query(&Query::partition(pk.clone()).sort(SortKey::BeginsWith("LATEST#".into())).descending().limit(10)).await?.items;

    let active_rooms = rooms.iter().filter(|r| r.get("status").and_then(Value::as_str) == Some("ACTIVE")).count();
    let mut booked_nights = 0i64;
    for stay in &stays {
        let parse = |k: &str| stay.get(k).and_then(Value::as_str).and_then(|d| crate::domain::stay::parse_date(d).ok());
        if let (Some(a), Some(b)) = (parse("checkIn"), parse("checkOut")) {
            let start = a.max(today);
            let end = b.min(horizon);
            booked_nights += (end - start).whole_days().max(0);
        }
    }
    let capacity = active_rooms as i64 * 30;
    let occupancy = if capacity == 0 { 0.0 } else { (booked_nights as f64 / capacity as f64 * 1000.0).round() / 1000.0 };
    let number = |i: &Item, k: &str| i.get(k).and_then(Value::as_i64).unwrap_or(0);
    Ok(json!({
        "hostId": caller.user_id,
        "rooms": rooms.iter().map(|r| {
            let mut room = public(r);
            let (count, total) = (number(r, "ratingCount"), number(r, "ratingTotal"));
            if let Value::Object(o) = &mut room {
                o.remove("ratingCount");
                o.remove("ratingTotal");
                o.insert("rating".into(), json!({"count": count, "average": (count > 0).then(|| (total as f64 / count as f64 * 100.0).round() / 100.0)}));
            }
            room
        }).collect::<Vec<_>>(),
        "stays": stays.iter().map(public).collect::<Vec<_>>(),
        "occupancy": {"from": format_date(today), "to": format_date(horizon), "bookedNights": booked_nights, "availableNights": capacity, "rate": occupancy},
        "revenue": revenue.iter().map(|r| json!({
            "currency": r.get("currency"),
            "confirmed": number(r, "confirmed"),
            "refunded": number(r, "refunded"),
            "net": number(r, "confirmed") - number(r, "refunded"),
        })).collect::<Vec<_>>(),
        "latestReservations": latest.iter().map(public).collect::<Vec<_>>(),
    }))
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
