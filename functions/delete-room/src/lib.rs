//! `DELETE /rooms/{roomId}`: the owning host deletes a room (it leaves search; its future
//! stays are cancelled and refunded by the reservation context).

use std::convert::Infallible;

use bnb::events::Causation;
use bnb::http::{no_content, path_param, serve, Caller};
use bnb::rooms::{delete_room, RoomError, RoomStore};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "delete-room";

pub async fn handle(store: &RoomStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = Caller::of(&request)?;
        let room_id = path_param(&request, "roomId").ok_or(RoomError::NotFound)?;
        delete_room(store, &caller, &room_id, &Causation::request(&meta.correlation_id)).await?;
        no_content()
    })
    .await
}
