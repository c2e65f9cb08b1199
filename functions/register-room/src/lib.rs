//! `POST /rooms`: a host registers a room.

use std::convert::Infallible;

use bnb_contexts::events::Causation;
use bnb_contexts::rooms::{register_room, RegisterRoomRequest, RoomDocument, RoomStore};
use bnb_contexts::tables::ROOMS;
use bnb_lambda::http::{caller, json, json_body, serve, Problem};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "register-room";

/// `register-room`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
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
        let body: RegisterRoomRequest = json_body(&request)?;
        let room = register_room(store, &caller, body.into(), &Causation::request(&meta.correlation_id)).await?;
        let mut response = json(StatusCode::CREATED, &RoomDocument::from(&room))?;
        let location = HeaderValue::from_str(&format!("/rooms/{}", room.id)).map_err(|_| Problem::internal())?;
        response.headers_mut().insert(header::LOCATION, location);
        Ok(response)
    })
    .await
}
