//! `PUT /rooms/{roomId}`: the owning host replaces a room's details, at the version they read.
// A problem document is the whole answer of a failed request, built once: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;

use bnb_contexts::events::Causation;
use bnb_contexts::rooms::{modify_room, ModifyRoomRequest, RoomDocument, RoomError, RoomStore};
use bnb_contexts::tables::ROOMS;
use bnb_lambda::http::{caller, json, json_body, path_param, serve, Problem};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "modify-room";

/// `modify-room`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(ROOMS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let rooms = RoomStore::new(r.table(ROOMS)?);
    Ok(Handler::http(move |request| {
        let rooms = rooms.clone();
        async move { handle(&rooms, request).await }
    }))
}

/// The version an `If-Match` header names: `"3"`, `W/"3"` or `3`.
fn if_match(request: &Request) -> Result<Option<u64>, Problem> {
    let Some(value) = request.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim().trim_start_matches("W/").trim_matches('"');
    text.parse().map(Some).map_err(|_| Problem::bad_request("If-Match", "must be the room's version, as its ETag gives it"))
}

pub async fn handle(store: &RoomStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = caller(&request)?;
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
