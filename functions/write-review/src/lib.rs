//! `POST /rooms/{roomId}/reviews`: a guest with a confirmed stay reviews the room, once per stay.

use std::convert::Infallible;

use bnb_contexts::events::Causation;
use bnb_contexts::reservations::ReservationStore;
use bnb_contexts::reviews::{ReviewError, Reviews, WriteReviewRequest};
use bnb_contexts::rooms::RoomStore;
use bnb_contexts::tables::{RESERVATIONS, REVIEWS, ROOMS};
use bnb_lambda::http::{caller, json, json_body, path_param, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

pub const NAME: &str = "write-review";

/// `write-review`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function =
    Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(REVIEWS), Need::Table(ROOMS), Need::Table(RESERVATIONS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let reviews = Arc::new(Reviews {
        reviews: r.table(REVIEWS)?,
        rooms: RoomStore::new(r.table(ROOMS)?),
        reservations: ReservationStore::new(r.table(RESERVATIONS)?, r.clock()),
    });
    Ok(Handler::http(move |request| {
        let reviews = reviews.clone();
        async move { handle(&reviews, request).await }
    }))
}

pub async fn handle(reviews: &Reviews, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = caller(&request)?;
        let room_id = path_param(&request, "roomId").ok_or(ReviewError::RoomNotFound)?;
        let body: WriteReviewRequest = json_body(&request)?;
        let review = reviews.write(&caller, &room_id, body, &Causation::request(&meta.correlation_id)).await?;
        json(StatusCode::CREATED, &review)
    })
    .await
}
