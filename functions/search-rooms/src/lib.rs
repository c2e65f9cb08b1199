//! `GET /rooms?city=&guests=&checkIn=&checkOut=&cursor=&limit=`: anyone searches active rooms.

use std::convert::Infallible;

use bnb_contexts::rooms::{search_rooms, RoomStore, SearchInput};
use bnb_contexts::tables::ROOMS;
use bnb_lambda::http::{json, query_param, serve, Problem};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

pub const NAME: &str = "search-rooms";

/// `search-rooms`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(ROOMS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let rooms = RoomStore::new(r.table(ROOMS)?);
    Ok(Handler::http(move |request| {
        let rooms = rooms.clone();
        async move { handle(&rooms, request).await }
    }))
}

const PARAMETERS: &[&str] = &["city", "guests", "checkIn", "checkOut", "cursor", "limit"];

pub async fn handle(store: &RoomStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        // An unknown parameter is refused, not ignored: `gusts=4` must not search for anyone.
        if let Some(params) = request.query_string_parameters_ref() {
            if let Some((unknown, _)) = params.iter().find(|(k, _)| !PARAMETERS.contains(k)) {
                return Err(Problem::bad_request(unknown, format!("is not a search parameter; use {}", PARAMETERS.join(", "))));
            }
        }
        let q = |name: &str| query_param(&request, name);
        let input =
            SearchInput { city: q("city"), guests: q("guests"), check_in: q("checkIn"), check_out: q("checkOut"), cursor: q("cursor"), limit: q("limit") };
        let page = search_rooms(store, input).await?;
        json(StatusCode::OK, &page)
    })
    .await
}
