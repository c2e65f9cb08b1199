//! `POST /reservations`: a guest books and pays. `Idempotency-Key` makes a retry safe.

use std::convert::Infallible;

use bnb::events::Causation;
use bnb::http::{json, serve, Caller, Problem, RequestMeta};
use bnb::reservations::{Begin, IdempotencyStore, PlaceReservation, PlaceReservationRequest, PlacedDocument, ReservationDocument};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "place-reservation";

pub struct Deps {
    pub place: PlaceReservation,
    pub idempotency: IdempotencyStore,
}

fn idempotency_key(request: &Request) -> Result<Option<String>, Problem> {
    let Some(value) = request.headers().get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Problem::bad_request("Idempotency-Key", "must be 1 to 128 printable characters, e.g. a UUID"));
    }
    Ok(Some(key.to_owned()))
}

async fn book(deps: &Deps, caller: &Caller, body: PlaceReservationRequest, meta: &RequestMeta) -> Result<Response<Body>, Problem> {
    let placed = deps.place.place(caller, body, &Causation::request(&meta.correlation_id)).await?;
    let document = PlacedDocument { reservation: ReservationDocument::from(&placed.reservation), payment: placed.payment };
    let mut response = json(StatusCode::CREATED, &document)?;
    if let Ok(location) = HeaderValue::from_str(&format!("/reservations/{}", placed.reservation.reservation_id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn body_text(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

pub async fn handle(deps: &Deps, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = Caller::of(&request)?;
        let key = idempotency_key(&request)?;
        let body: PlaceReservationRequest = bnb::http::json_body(&request)?;
        let Some(key) = key else { return book(deps, &caller, body, &meta).await };
        let canonical = serde_json::to_string(&body).map_err(|_| Problem::internal())?;
        let scope = caller.user_id.to_string();
        match deps.idempotency.begin(&scope, &key, &canonical).await.map_err(Problem::from)? {
            Begin::Replay { status, body } => {
                let content_type = if status < 400 { "application/json" } else { bnb::http::problem::CONTENT_TYPE };
                return Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, content_type)
                    .header("idempotent-replayed", "true")
                    .body(Body::from(body))
                    .map_err(|_| Problem::internal());
            }
            Begin::Mismatch => return Err(bnb::reservations::ReservationError::IdempotencyMismatch.into()),
            Begin::InFlight => return Err(bnb::reservations::ReservationError::InFlight.into()),
            Begin::New => {}
        }
        let response = match book(deps, &caller, body, &meta).await {
            Ok(response) => response,
            Err(problem) => problem.with_correlation_id(&meta.correlation_id).to_response(),
        };
        let status = response.status().as_u16();
        // A passing failure (503, 5xx) is not remembered: the same key may try again.
        let remembered = if status >= 500 { deps.idempotency.release(&scope, &key).await } else { deps.idempotency.complete(&scope, &key, status, &body_text(&response)).await };
        if let Err(e) = remembered {
            tracing::error!(error = %e, "could not record the idempotent answer");
        }
        Ok(response)
    })
    .await
}
