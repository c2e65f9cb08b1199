//! `POST /rooms`: a host registers a room.

use std::convert::Infallible;

use bnb::events::Causation;
use bnb::http::{json, json_body, serve, Caller, Problem};
use bnb::rooms::{register_room, RegisterRoomRequest, RoomDocument, RoomStore};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "register-room";

pub async fn handle(store: &RoomStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = Caller::of(&request)?;
        let body: RegisterRoomRequest = json_body(&request)?;
        let room = register_room(store, &caller, body.into(), &Causation::request(&meta.correlation_id)).await?;
        let mut response = json(StatusCode::CREATED, &RoomDocument::from(&room))?;
        let location = HeaderValue::from_str(&format!("/rooms/{}", room.id)).map_err(|_| Problem::internal())?;
        response.headers_mut().insert(header::LOCATION, location);
        Ok(response)
    })
    .await
}
