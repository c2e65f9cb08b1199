//! `POST /reservations/{reservationId}/cancel`: a guest cancels their reservation before check-in.

use std::convert::Infallible;

use bnb_contexts::domain::reservation::CancelledBy;
use bnb_contexts::events::Causation;
use bnb_contexts::reservations::{cancel_reservation, ReservationDocument, ReservationError, ReservationStore};
use bnb_contexts::tables::RESERVATIONS;
use bnb_lambda::http::{caller, json, path_param, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "cancel-reservation";

/// `cancel-reservation`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(RESERVATIONS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let store = ReservationStore::new(r.table(RESERVATIONS)?, r.clock());
    Ok(Handler::http(move |request| {
        let store = store.clone();
        async move { handle(&store, request).await }
    }))
}

pub async fn handle(store: &ReservationStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = caller(&request)?;
        let id = path_param(&request, "reservationId").ok_or(ReservationError::NotFound)?;
        let cancelled = cancel_reservation(store, &id, Some(&caller.user_id), CancelledBy::Guest, &Causation::request(&meta.correlation_id)).await?;
        json(StatusCode::OK, &ReservationDocument::from(&cancelled))
    })
    .await
}
