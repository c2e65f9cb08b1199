//! `GET /rooms/{roomId}`: anyone reads a room and its rating.

use std::convert::Infallible;

use bnb::http::{json, path_param, serve};
use bnb::rooms::{get_room, RoomDocument, RoomError, RoomStore};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "get-room";

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
