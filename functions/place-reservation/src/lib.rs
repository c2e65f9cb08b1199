//! `POST /reservations`: a guest books and pays. `Idempotency-Key` makes a retry safe, even
//! after a crash: the same key always ends in the same booking and the same answer.
// A problem document is the whole answer of a failed request, built once: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::convert::Infallible;

use bnb_contexts::events::Causation;
use bnb_contexts::payments::{BreakerConfig, CircuitBreaker};
use bnb_contexts::reservations::{
    Attempt, Begin, Claim, IdempotencyStore, PlaceReservation, PlaceReservationRequest, Placed, PlacedDocument, ReservationDocument, ReservationError,
    StoredAnswer,
};
use bnb_contexts::reservations::{ReservationSettings, ReservationStore};
use bnb_contexts::rooms::RoomStore;
use bnb_contexts::storage::StorageError;
use bnb_contexts::tables::{RESERVATIONS, ROOMS};
use bnb_lambda::http::{caller, serve, Problem, RequestMeta};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

pub const NAME: &str = "place-reservation";

/// `place-reservation`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(RESERVATIONS), Need::Table(ROOMS), Need::Payments], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let reservations = r.table(RESERVATIONS)?;
    let settings = ReservationSettings::from_lookup(|var| r.var(var));
    let deps = Arc::new(Deps {
        place: PlaceReservation {
            reservations: ReservationStore::new(reservations.clone(), r.clock()),
            rooms: RoomStore::new(r.table(ROOMS)?),
            payments: r.payments()?,
            breaker: Arc::new(CircuitBreaker::new(reservations.clone(), "payment", BreakerConfig::from_lookup(|var| r.var(var)), r.clock())),
            settings,
        },
        idempotency: IdempotencyStore::new(reservations, r.clock(), settings.lease),
    });
    Ok(Handler::http(move |request| {
        let deps = deps.clone();
        async move { handle(&deps, request).await }
    }))
}

pub struct Deps {
    pub place: PlaceReservation,
    pub idempotency: IdempotencyStore,
}

fn idempotency_key(request: &Request) -> Result<Option<String>, Problem> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Problem::bad_request("Idempotency-Key", "must be 1 to 128 printable characters, e.g. a UUID"));
    }
    Ok(Some(key.to_owned()))
}

/// The answer to an outcome, as it is sent and as it is kept for replays.
fn render(outcome: &Result<Placed, ReservationError>, correlation_id: &str) -> StoredAnswer {
    let problem = |p: Problem| {
        let p = p.with_correlation_id(correlation_id);
        let mut headers = BTreeMap::from([(header::CONTENT_TYPE.to_string(), bnb_lambda::http::problem::CONTENT_TYPE.to_owned())]);
        if let Some(seconds) = p.retry_after {
            headers.insert(header::RETRY_AFTER.to_string(), seconds.to_string());
        }
        StoredAnswer { status: p.status, body: serde_json::to_string(&p).unwrap_or_else(|_| "{}".into()), headers }
    };
    match outcome {
        Ok(placed) => {
            let document = PlacedDocument { reservation: ReservationDocument::from(&placed.reservation), payment: placed.payment.clone() };
            match serde_json::to_string(&document) {
                Ok(body) => StoredAnswer {
                    status: StatusCode::CREATED.as_u16(),
                    body,
                    headers: BTreeMap::from([
                        (header::CONTENT_TYPE.to_string(), "application/json".to_owned()),
                        (header::LOCATION.to_string(), format!("/reservations/{}", placed.reservation.reservation_id)),
                    ]),
                },
                Err(_) => problem(Problem::internal()),
            }
        }
        Err(e) => problem(Problem::from(e.clone())),
    }
}

fn respond(answer: &StoredAnswer, replayed: bool) -> Result<Response<Body>, Problem> {
    let mut builder = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if replayed {
        builder = builder.header("idempotent-replayed", "true");
    }
    builder.body(Body::from(answer.body.clone())).map_err(|_| Problem::internal())
}

pub async fn handle(deps: &Deps, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = caller(&request)?;
        let key = idempotency_key(&request)?;
        let body: PlaceReservationRequest = bnb_lambda::http::json_body(&request)?;
        let cause = Causation::request(&meta.correlation_id);
        let render = |outcome: &Result<Placed, ReservationError>| render(outcome, &meta.correlation_id);
        let Some(key) = key else {
            let attempt = Attempt { cause: &cause, claim: None, render: &render };
            let outcome = deps.place.place(&caller, &body, attempt).await;
            bnb_contexts::metrics::booking(&outcome);
            return respond(&render(&outcome), false);
        };
        let canonical = serde_json::to_string(&body).map_err(|_| Problem::internal())?;
        let begun = deps.idempotency.begin(caller.user_id.as_str(), &key, &canonical).await.map_err(Problem::from)?;
        let (claim, outcome) = match begun {
            Begin::Replay(answer) => return respond(&answer, true),
            Begin::Mismatch => return Err(ReservationError::IdempotencyMismatch.into()),
            Begin::InFlight => return Err(ReservationError::InFlight.into()),
            Begin::New(claim) => {
                let outcome = deps.place.place(&caller, &body, Attempt { cause: &cause, claim: Some(&claim), render: &render }).await;
                (claim, outcome)
            }
            Begin::Resume { claim, reservation } => {
                let outcome = deps.place.resume(&caller, &reservation, &body, Attempt { cause: &cause, claim: Some(&claim), render: &render }).await;
                (claim, outcome)
            }
        };
        bnb_contexts::metrics::booking(&outcome);
        let answer = render(&outcome);
        // A booking that reached its hold was confirmed or declined in a transaction that also
        // wrote this answer (or an abort that released the key): nothing left to record.
        if !matches!(outcome, Ok(_) | Err(ReservationError::Declined(_))) {
            record(deps, &claim, &answer, &meta).await?;
        }
        respond(&answer, false)
    })
    .await
}

/// Keeps the answer of an attempt that settled no booking: a refusal (kept) or a passing
/// failure (forgotten, so the same key may try again). An answer that cannot be kept is not sent:
/// the client gets a 503 and retries, and the retry answers for real.
async fn record(deps: &Deps, claim: &Claim, answer: &StoredAnswer, meta: &RequestMeta) -> Result<(), Problem> {
    let kept = if answer.status >= 500 { deps.idempotency.release(claim).await } else { deps.idempotency.complete(claim, answer).await };
    match kept {
        // Settled (DONE already, written with the booking) or released by an abort.
        Ok(()) | Err(StorageError::ConditionFailed { .. }) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, correlation_id = %meta.correlation_id, "could not record the idempotent answer; answering 503 so the client retries");
            Err(Problem::from(e))
        }
    }
}
