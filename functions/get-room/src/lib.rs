//! `GET /rooms/{roomId}`: anyone reads a room and its rating.

use std::convert::Infallible;

use bnb_contexts::rooms::{get_room, RoomDocument, RoomError, RoomStore};
use bnb_contexts::tables::ROOMS;
use bnb_lambda::http::{json, path_param, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "get-room";

/// `get-room`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(ROOMS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let rooms = RoomStore::new(r.table(ROOMS)?);
    Ok(Handler::http(move |request| {
        let rooms = rooms.clone();
        async move { handle(&rooms, request).await }
    }))
}

pub async fn handle(store: &RoomStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let room_id = path_param(&request, "roomId").ok_or(RoomError::NotFound)?;
        let room = get_room(store, &room_id).await?;
        let mut response = json(StatusCode::OK, &RoomDocument::from(&room))?;
        // The version, for `If-Match` on PUT.
        if let Ok(etag) = header::HeaderValue::from_str(&format!("\"{}\"", room.version)) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        Ok(response)
    })
    .await
}
