//! `GET /rooms/{roomId}/reviews?cursor=&limit=`: anyone reads a room's reviews, newest first
//! (404 for a room that is not there, or no longer).

use std::convert::Infallible;

use bnb_contexts::reviews::{list_reviews, ReviewError};
use bnb_contexts::rooms::RoomStore;
use bnb_contexts::storage::Table;
use bnb_contexts::tables::{REVIEWS, ROOMS};
use bnb_lambda::http::{json, path_param, query_param, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "list-reviews";

/// `list-reviews`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(REVIEWS), Need::Table(ROOMS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let reviews = r.table(REVIEWS)?;
    let rooms = RoomStore::new(r.table(ROOMS)?);
    Ok(Handler::http(move |request| {
        let (reviews, rooms) = (reviews.clone(), rooms.clone());
        async move { handle(reviews.as_ref(), &rooms, request).await }
    }))
}

pub async fn handle(reviews: &dyn Table, rooms: &RoomStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let room_id = path_param(&request, "roomId").ok_or(ReviewError::RoomNotFound)?;
        let page = list_reviews(reviews, rooms, &room_id, query_param(&request, "cursor").as_deref(), query_param(&request, "limit").as_deref()).await?;
        json(StatusCode::OK, &page)
    })
    .await
}
