//! `DELETE /rooms/{roomId}`: the owning host deletes a room (it leaves search; its future
//! stays are cancelled and refunded by the reservation context).

use std::convert::Infallible;

use bnb_contexts::events::Causation;
use bnb_contexts::rooms::{delete_room, RoomError, RoomStore};
use bnb_contexts::tables::ROOMS;
use bnb_lambda::http::{caller, no_content, path_param, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "delete-room";

/// `delete-room`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(ROOMS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let rooms = RoomStore::new(r.table(ROOMS)?);
    Ok(Handler::http(move |request| {
        let rooms = rooms.clone();
        async move { handle(&rooms, request).await }
    }))
}

pub async fn handle(store: &RoomStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = caller(&request)?;
        let room_id = path_param(&request, "roomId").ok_or(RoomError::NotFound)?;
        delete_room(store, &caller, &room_id, &Causation::request(&meta.correlation_id)).await?;
        no_content()
    })
    .await
}
