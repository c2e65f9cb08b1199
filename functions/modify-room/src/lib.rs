//! `PUT /rooms/{roomId}`: the owning host replaces a room's details, at the version they read.

use std::convert::Infallible;

use bnb::events::Causation;
use bnb::http::{json, json_body, path_param, serve, Caller, Problem};
use bnb::rooms::{modify_room, ModifyRoomRequest, RoomDocument, RoomError, RoomStore};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "modify-room";

/// The version an `If-Match` header names: `"3"`, `W/"3"` or `3`.
fn if_match(request: &Request) -> Result<Option<u64>, Problem> {
    let Some(value) = request.headers().get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim().trim_start_matches("W/").trim_matches('"');
    text.parse().map(Some).map_err(|_| Problem::bad_request("If-Match", "must be the room's version, as its ETag gives it"))
}

pub async fn handle(store: &RoomStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = Caller::of(&request)?;
        let room_id = path_param(&request, "roomId").ok_or(RoomError::NotFound)?;
        let header_version = if_match(&request)?;
        let body: ModifyRoomRequest = json_body(&request)?;
        let (input, body_version) = body.into_parts();
        let version = match (header_version, body_version) {
            (Some(h), Some(b)) if h != b => return Err(Problem::bad_request("version", "differs from If-Match")),
            (h, b) => h.or(b).ok_or(RoomError::VersionRequired)?,
        };
        let room = modify_room(store, &caller, &room_id, input, version, &Causation::request(&meta.correlation_id)).await?;
        let mut response = json(StatusCode::OK, &RoomDocument::from(&room))?;
        if let Ok(etag) = header::HeaderValue::from_str(&format!("\"{}\"", room.version)) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        Ok(response)
    })
    .await
}
