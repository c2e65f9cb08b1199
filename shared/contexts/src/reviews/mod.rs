//! The review context: a guest reviews a stay of theirs that has ended (check-out on or before
//! today in Asia/Seoul) and was not cancelled, once per stay; anyone reads a room's reviews,
//! newest first.
//!
//! A review cannot race a cancellation: a stay can be cancelled only before its check-in and
//! reviewed only from its check-out on, and the stay is read by key (strongly consistent)
//! just before the review is written. `ReviewWritten` moves the room's rating (room
//! handler), the host's dashboard and the host's notifications.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | review (for listing) | `ROOM#<roomId>` | `REVIEW#<createdAtMs>#<reviewId>` (the answer's `createdAt` is RFC 3339) |
//! | one review per stay | `REVIEW#<reservationId>` | `REVIEW` |

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::reservation::ReservationStatus;
use crate::domain::review::{validate_review, Review};
use crate::domain::room::RoomStatus;
use crate::domain::stay::format_date;
use crate::domain::Actor;
use crate::domain::{Invalid, ReservationId, ReviewId, RoomId, UserId};
use crate::events::{Causation, Envelope, Event, ReviewWritten};
use crate::outbox::write_with_events;
use crate::reservations::ReservationStore;
use crate::rooms::RoomStore;
use crate::storage::{from_item, to_item, Condition, Key, Query, SortKey, StorageError, Table, WriteOp};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("no such room")]
    RoomNotFound,
    #[error("no stay of yours in this room has ended")]
    NoStay,
    #[error("this stay is already reviewed")]
    AlreadyReviewed,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// `POST /rooms/{roomId}/reviews`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteReviewRequest {
    pub rating: i64,
    #[serde(default)]
    pub text: String,
    /// Which stay, when the guest has more than one in the room; else the first not reviewed.
    #[serde(default)]
    pub reservation_id: Option<String>,
}

/// A review as stored for listing, under its room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(flatten)]
    pub review: Review,
    pub host_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One per stay: the guard that makes a second review of it fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewGuard {
    pk: String,
    sk: String,
    review_id: ReviewId,
}

/// A review as anyone reads it (which stay it was is the guest's own business).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDocument {
    pub review_id: ReviewId,
    pub room_id: RoomId,
    pub guest_id: UserId,
    pub rating: u8,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<ReviewItem> for ReviewDocument {
    fn from(i: ReviewItem) -> Self {
        ReviewDocument {
            review_id: i.review.review_id,
            room_id: i.review.room_id,
            guest_id: i.review.guest_id,
            rating: i.review.rating,
            text: i.review.text,
            created_at: i.created_at,
        }
    }
}

/// `201` of `POST /rooms/{roomId}/reviews`: the review, with its stay, and when it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrittenReview {
    #[serde(flatten)]
    pub review: Review,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A page of a room's reviews.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewPage {
    pub items: Vec<ReviewDocument>,
    pub next_cursor: Option<String>,
}

pub struct Reviews {
    pub reviews: Arc<dyn Table>,
    pub rooms: RoomStore,
    pub reservations: ReservationStore,
}

impl Reviews {
    /// Whether `id` is the caller's stay in the room, confirmed (not cancelled) and over.
    async fn reviewable(&self, caller: &Actor, room: &RoomId, id: &str) -> Result<bool, ReviewError> {
        let Some(id) = ReservationId::parse(id) else {
            return Ok(false);
        };
        let today = self.reservations.clock().today();
        Ok(match self.reservations.get(&id).await? {
            Some((r, _)) => r.guest_id == caller.user_id && &r.room_id == room && r.status == ReservationStatus::Confirmed && r.stay.check_out <= today,
            None => false,
        })
    }
}

impl Reviews {
    pub async fn write(&self, caller: &Actor, room_id: &str, request: WriteReviewRequest, cause: &Causation) -> Result<WrittenReview, ReviewError> {
        let room_id = RoomId::parse(room_id).ok_or(ReviewError::RoomNotFound)?;
        validate_review(request.rating, &request.text)?;
        let room = match self.rooms.get(&room_id).await? {
            Some(room) if room.status == RoomStatus::Active => room,
            _ => return Err(ReviewError::RoomNotFound),
        };
        // The caller's confirmed stays in this room that began before today: one index query of
        // their own partition.
        let today = format_date(self.reservations.clock().today());
        let stays = self
            .reservations
            .table()
            .query(&Query::on_index("gsi3", ReservationStore::stays_of(&caller.user_id, &room_id)).sort(SortKey::LessThan(today)).descending().limit(100))
            .await?
            .items;
        let stay_ids: Vec<String> = stays.iter().filter_map(|s| s.get("reservationId").and_then(serde_json::Value::as_str).map(str::to_owned)).collect();
        if stay_ids.is_empty() {
            return Err(ReviewError::NoStay);
        }
        let reservation = match &request.reservation_id {
            Some(wanted) if stay_ids.contains(wanted) => wanted.clone(),
            Some(_) => return Err(ReviewError::NoStay),
            None => {
                let mut open = None;
                let mut ended = false;
                for id in &stay_ids {
                    if !self.reviewable(caller, &room_id, id).await? {
                        continue;
                    }
                    ended = true;
                    if self.reviews.get(&guard_key(id)).await?.is_none() {
                        open = Some(id.clone());
                        break;
                    }
                }
                if !ended {
                    return Err(ReviewError::NoStay);
                }
                open.ok_or(ReviewError::AlreadyReviewed)?
            }
        };
        // Read by key, just before the write: confirmed, not cancelled, and over.
        if !self.reviewable(caller, &room_id, &reservation).await? {
            return Err(ReviewError::NoStay);
        }
        let review = Review {
            review_id: ReviewId::generate(),
            room_id: room_id.clone(),
            reservation_id: ReservationId::parse(&reservation).ok_or(ReviewError::NoStay)?,
            guest_id: caller.user_id.clone(),
            rating: request.rating as u8,
            text: request.text.trim().to_owned(),
        };
        let clock = self.reservations.clock();
        let (now_ms, created_at) = (clock.now_ms(), clock.now_utc());
        let listed = Key::new(format!("ROOM#{room_id}"), format!("REVIEW#{now_ms:015}#{}", review.review_id));
        let listed = ReviewItem { pk: listed.pk, sk: listed.sk, kind: "review".into(), review: review.clone(), host_id: room.host_id.clone(), created_at };
        let guard = guard_key(&reservation);
        let guard = ReviewGuard { pk: guard.pk, sk: guard.sk, review_id: review.review_id.clone() };
        let event = Event::ReviewWritten(ReviewWritten {
            review: review.clone(),
            host_id: room.host_id.clone(),
            room_title: Some(room.details.title.clone()),
            created_at,
        });
        let event = Envelope::new(event, review.review_id.to_string(), 1, cause);
        let ops = vec![WriteOp::put_if(to_item(&guard)?, Condition::NotExists), WriteOp::put_if(to_item(&listed)?, Condition::NotExists)];
        match write_with_events(self.reviews.as_ref(), ops, &[event]).await {
            Ok(()) => Ok(WrittenReview { review, created_at }),
            Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => Err(ReviewError::AlreadyReviewed),
            Err(e) => Err(e.into()),
        }
    }
}

fn guard_key(reservation: &str) -> Key {
    Key::new(format!("REVIEW#{reservation}"), "REVIEW")
}

/// A room's reviews, newest first.
pub async fn list_reviews(reviews: &dyn Table, rooms: &RoomStore, room_id: &str, cursor: Option<&str>, limit: Option<&str>) -> Result<ReviewPage, ReviewError> {
    let room_id = RoomId::parse(room_id).ok_or(ReviewError::RoomNotFound)?;
    let (cursor, limit) = crate::paging::page_params(cursor, limit)?;
    // A room that is not there (never was, or deleted) has no reviews page: 404, as its own page.
    match rooms.get(&room_id).await? {
        Some(room) if room.status == RoomStatus::Active => {}
        _ => return Err(ReviewError::RoomNotFound),
    }
    let query = Query::partition(format!("ROOM#{room_id}")).sort(SortKey::BeginsWith("REVIEW#".into())).descending().limit(limit).after(cursor);
    let page = reviews.query(&query).await?;
    let items = page.items.iter().map(|i| from_item::<ReviewItem>(i).map(ReviewDocument::from)).collect::<Result<_, _>>()?;
    Ok(ReviewPage { items, next_cursor: page.next.map(|c| c.as_str().to_owned()) })
}
