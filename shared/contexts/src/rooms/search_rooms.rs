use super::store::capacity_prefix;
use super::{RoomDocument, RoomError, RoomPage, RoomStore};
use crate::domain::room::{city_key, MAX_CAPACITY};
use crate::domain::{Invalid, Stay};
use crate::storage::cursor::Cursor;
use crate::storage::{Query, SortKey};

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 50;
/// At most this many candidates are looked at per page when filtering by dates, so one request
/// costs a bounded amount whatever the data; a short page still carries a cursor.
pub const MAX_CANDIDATES_PER_PAGE: usize = 100;
/// With dates, candidates are read this many at a time (at least): one index query and one
/// `BatchGetItem` of their nights each, so a page makes at most 4 of each.
pub const DATED_CANDIDATES_PER_QUERY: usize = 25;

/// What `GET /rooms` takes, already read from the query string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchInput {
    pub city: Option<String>,
    pub guests: Option<String>,
    pub check_in: Option<String>,
    pub check_out: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// Active rooms in a city for at least `guests`, free for every night of the stay if one is
/// given: one index query per page; with dates, candidates 25 at a time, each lot one index
/// query and one `BatchGetItem` of its nights, at most 100 candidates a page.
pub async fn search_rooms(store: &RoomStore, input: SearchInput) -> Result<RoomPage, RoomError> {
    let mut invalid = Invalid::default();
    let city = input.city.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if city.is_empty() {
        invalid.push("city", "is required");
    } else if city.chars().count() > crate::domain::room::MAX_CITY {
        invalid.push("city", "is too long");
    }
    let guests = match input.guests.as_deref() {
        None => 1,
        Some(g) => match g.parse::<u32>() {
            Ok(n) if (1..=MAX_CAPACITY).contains(&n) => n,
            _ => {
                invalid.push("guests", format!("must be a whole number from 1 to {MAX_CAPACITY}"));
                1
            }
        },
    };
    let limit = match input.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                invalid.push("limit", format!("must be a whole number from 1 to {MAX_PAGE}"));
                DEFAULT_PAGE
            }
        },
    };
    let stay = match (input.check_in.as_deref(), input.check_out.as_deref()) {
        (None, None) => None,
        (Some(a), Some(b)) => Stay::parse(a, b).map_err(|e| invalid.0.extend(e.0)).ok(),
        (Some(_), None) => {
            invalid.push("checkOut", "is required with checkIn");
            None
        }
        (None, Some(_)) => {
            invalid.push("checkIn", "is required with checkOut");
            None
        }
    };
    let cursor = match input.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Cursor::parse(c).map_err(|_| invalid.push("cursor", "is not a cursor this API gave out")).ok(),
    };
    invalid.into_result()?;

    let mut query = Query::on_index("gsi1", format!("CITY#{}", city_key(&city))).sort(SortKey::GreaterOrEqual(capacity_prefix(guests))).after(cursor);
    let mut items = Vec::new();
    let mut examined = 0;
    loop {
        let wanted = limit - items.len();
        let lot = if stay.is_some() { wanted.max(DATED_CANDIDATES_PER_QUERY) } else { wanted };
        query = query.limit(lot);
        let page = store.table().query(&query).await?;
        let rooms = page.items.iter().map(RoomStore::from_item).collect::<Result<Vec<_>, _>>()?;
        let free = match &stay {
            Some(stay) => store.free_rooms(&rooms.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), stay).await?,
            None => vec![true; rooms.len()],
        };
        for (i, (room, free)) in rooms.iter().zip(free).enumerate() {
            examined += 1;
            if free {
                items.push(RoomDocument::from(room));
            }
            if items.len() == limit {
                // Full before the lot ran out: go on after this room next time.
                let rest = i + 1 < rooms.len() || page.next.is_some();
                let next = rest.then(|| cursor_after(&page.items[i])).flatten();
                return Ok(RoomPage { items, next_cursor: next });
            }
        }
        let done = examined >= MAX_CANDIDATES_PER_PAGE;
        match page.next {
            Some(next) if !done => query = query.after(Some(next)),
            next => {
                return Ok(RoomPage { items, next_cursor: next.map(|c| c.as_str().to_owned()) });
            }
        }
    }
}

/// The cursor that goes on after `item` in the `gsi1` index.
fn cursor_after(item: &crate::storage::Item) -> Option<String> {
    let text = |name: &str| item.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
    let last = crate::storage::cursor::LastKey { pk: text("pk")?, sk: text("sk")?, ipk: text("gsi1pk"), isk: text("gsi1sk") };
    Some(Cursor::encode(&last).as_str().to_owned())
}
