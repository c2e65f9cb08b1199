//! Every function the local runtime links, by the binary name `template.yaml` gives it, handed
//! the resources its environment names — as Lambda would run it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use bnb::consumer::{DeadLetters, QueueDeadLetters};
use bnb::payments::invoker::{InProcessInvoker, InvokeFuture};
use bnb::payments::{BreakerConfig, CircuitBreaker, FaultConfig, PaymentHandler, PaymentService};
use bnb::reservations::{IdempotencyStore, PlaceReservation, ReservationHandler, ReservationSettings, ReservationStore};
use bnb::rooms::{RoomHandler, RoomStore};
use bnb::storage::Table;
use bnb::notifications::NotificationHandler;
use bnb::reviews::Reviews;
use bnb::tables::{TableKind, NOTIFICATIONS, PAYMENTS, RESERVATIONS, REVIEWS, ROOMS, VIEWS};
use bnb::views::ViewProjector;
use lambda_http::{Body, Request, Response};

use crate::template::{local_name, name_from_arn, FunctionDecl, Topology};
use crate::wiring::{Wiring, WiringError};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// An API function: a request in, a response out, as lambda_http runs it.
pub type HttpFunction = Arc<dyn Fn(Request) -> BoxFuture<Response<Body>> + Send + Sync>;
/// A DynamoDB Stream function.
pub type StreamFunction = Arc<dyn Fn(StreamEvent) -> BoxFuture<DynamoDbEventResponse> + Send + Sync>;
/// An SQS function.
pub type SqsFunction = Arc<dyn Fn(SqsEvent) -> BoxFuture<SqsBatchResponse> + Send + Sync>;

/// A function invoked synchronously (or on a schedule): a JSON payload in, JSON out.
pub type InvokeFunction = Arc<dyn Fn(serde_json::Value) -> InvokeFuture + Send + Sync>;

/// A linked function.
#[derive(Clone)]
pub enum Handler {
    Http(HttpFunction),
    Stream(StreamFunction),
    Sqs(SqsFunction),
    Invoke(InvokeFunction),
}

/// Every binary the workspace builds and this runtime links.
pub const LINKED: &[&str] = &[
    reservation_status::NAME,
    my_reservations::NAME,
    host_dashboard::NAME,
    notification_handler::NAME,
    my_notifications::NAME,
    update_profile::NAME,
    write_review::NAME,
    list_reviews::NAME,
    process_payment::NAME,
    place_reservation::NAME,
    cancel_reservation::NAME,
    payment_handler::NAME,
    reservation_handler::NAME,
    expire_holds::NAME,
    republish_outbox::NAME,
    register_room::NAME,
    get_room::NAME,
    modify_room::NAME,
    delete_room::NAME,
    search_rooms::NAME,
    room_handler::NAME,
    publish_events::NAME,
    view_projector::NAME,
];

fn table(decl: &FunctionDecl, kind: TableKind, wiring: &Wiring) -> Result<Arc<dyn Table>, WiringError> {
    let name = decl.environment.get(kind.env).ok_or_else(|| format!("function {} has no {} in its environment", decl.logical_id, kind.env))?;
    wiring.table(name)
}

/// The tables with an outbox, as the function's environment names them.
fn outbox_tables(decl: &FunctionDecl, wiring: &Wiring) -> Result<Vec<Arc<dyn Table>>, WiringError> {
    bnb::tables::WITH_OUTBOX.iter().map(|kind| table(decl, *kind, wiring)).collect()
}

/// The consumer's DLQ, from the queue URL its environment names (`!Ref` of the queue).
fn dead_letters(decl: &FunctionDecl, wiring: &Wiring) -> Result<Arc<dyn DeadLetters>, WiringError> {
    let url = env(decl, "DEAD_LETTER_QUEUE_URL")?;
    let name = url.rsplit('/').next().unwrap_or_default();
    Ok(Arc::new(QueueDeadLetters(wiring.queue(name)?)))
}

fn env<'a>(decl: &'a FunctionDecl, var: &str) -> Result<&'a str, WiringError> {
    decl.environment.get(var).map(String::as_str).ok_or_else(|| format!("function {} has no {var} in its environment", decl.logical_id).into())
}

fn http<F, Fut>(f: F) -> Handler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send + 'static,
{
    Handler::Http(Arc::new(move |request| {
        let fut = f(request);
        Box::pin(async move {
            match fut.await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        })
    }))
}

fn lookup(decl: &FunctionDecl) -> impl Fn(&str) -> Option<String> + '_ {
    move |var| decl.environment.get(var).cloned()
}

/// Links the function `decl` names, handing it what its environment points at.
pub fn link(decl: &FunctionDecl, topology: &Topology, wiring: &Wiring) -> Result<Handler, WiringError> {
    Ok(match decl.binary.as_str() {
        process_payment::NAME => {
            let payments = PaymentService::new(table(decl, PAYMENTS, wiring)?, FaultConfig::from_lookup(lookup(decl)));
            Handler::Invoke(Arc::new(move |payload| {
                let payments = payments.clone();
                Box::pin(async move { process_payment::handle(&payments, payload).await.and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())) })
            }))
        }
        place_reservation::NAME => {
            let target = env(decl, "PAYMENT_FUNCTION_NAME")?;
            let payment_decl = topology
                .functions
                .iter()
                .find(|f| local_name(&f.logical_id, "AWS::Serverless::Function") == target)
                .ok_or_else(|| format!("function {}: PAYMENT_FUNCTION_NAME names {target}, which is not in the template", decl.logical_id))?;
            let Handler::Invoke(payment) = link(payment_decl, topology, wiring)? else {
                return Err(format!("function {} is not one that can be invoked", payment_decl.logical_id).into());
            };
            let reservations = table(decl, RESERVATIONS, wiring)?;
            let settings = ReservationSettings::from_lookup(lookup(decl));
            let deps = Arc::new(place_reservation::Deps {
                place: PlaceReservation {
                    reservations: ReservationStore::new(reservations.clone(), wiring.clock.clone()),
                    rooms: RoomStore::new(table(decl, ROOMS, wiring)?),
                    payments: Arc::new(InProcessInvoker::new(payment)),
                    breaker: Arc::new(CircuitBreaker::new(reservations.clone(), "payment", BreakerConfig::from_lookup(lookup(decl)), wiring.clock.clone())),
                    settings,
                },
                idempotency: IdempotencyStore::new(reservations, wiring.clock.clone(), settings.lease),
            });
            http(move |r| {
                let deps = deps.clone();
                async move { place_reservation::handle(&deps, r).await }
            })
        }
        cancel_reservation::NAME => {
            let store = ReservationStore::new(table(decl, RESERVATIONS, wiring)?, wiring.clock.clone());
            http(move |r| {
                let store = store.clone();
                async move { cancel_reservation::handle(&store, r).await }
            })
        }
        payment_handler::NAME => {
            let handler = Arc::new(PaymentHandler::new(PaymentService::new(table(decl, PAYMENTS, wiring)?, FaultConfig::default())));
            let dead_letters = dead_letters(decl, wiring)?;
            Handler::Sqs(Arc::new(move |event| {
                let (handler, dead_letters) = (handler.clone(), dead_letters.clone());
                Box::pin(async move { payment_handler::handle(&handler, dead_letters.as_ref(), event).await })
            }))
        }
        reservation_handler::NAME => {
            let handler = Arc::new(ReservationHandler::new(ReservationStore::new(table(decl, RESERVATIONS, wiring)?, wiring.clock.clone())));
            let dead_letters = dead_letters(decl, wiring)?;
            Handler::Sqs(Arc::new(move |event| {
                let (handler, dead_letters) = (handler.clone(), dead_letters.clone());
                Box::pin(async move { reservation_handler::handle(&handler, dead_letters.as_ref(), event).await })
            }))
        }
        expire_holds::NAME => {
            let store = ReservationStore::new(table(decl, RESERVATIONS, wiring)?, wiring.clock.clone());
            Handler::Invoke(Arc::new(move |_payload| {
                let store = store.clone();
                Box::pin(async move { expire_holds::handle(&store).await.map(|done| serde_json::json!(done)) })
            }))
        }
        register_room::NAME => {
            let rooms = RoomStore::new(table(decl, ROOMS, wiring)?);
            http(move |r| {
                let rooms = rooms.clone();
                async move { register_room::handle(&rooms, r).await }
            })
        }
        get_room::NAME => {
            let rooms = RoomStore::new(table(decl, ROOMS, wiring)?);
            http(move |r| {
                let rooms = rooms.clone();
                async move { get_room::handle(&rooms, r).await }
            })
        }
        modify_room::NAME => {
            let rooms = RoomStore::new(table(decl, ROOMS, wiring)?);
            http(move |r| {
                let rooms = rooms.clone();
                async move { modify_room::handle(&rooms, r).await }
            })
        }
        delete_room::NAME => {
            let rooms = RoomStore::new(table(decl, ROOMS, wiring)?);
            http(move |r| {
                let rooms = rooms.clone();
                async move { delete_room::handle(&rooms, r).await }
            })
        }
        search_rooms::NAME => {
            let rooms = RoomStore::new(table(decl, ROOMS, wiring)?);
            http(move |r| {
                let rooms = rooms.clone();
                async move { search_rooms::handle(&rooms, r).await }
            })
        }
        room_handler::NAME => {
            let handler = Arc::new(RoomHandler::new(table(decl, ROOMS, wiring)?));
            let dead_letters = dead_letters(decl, wiring)?;
            Handler::Sqs(Arc::new(move |event| {
                let (handler, dead_letters) = (handler.clone(), dead_letters.clone());
                Box::pin(async move { room_handler::handle(&handler, dead_letters.as_ref(), event).await })
            }))
        }
        reservation_status::NAME | my_reservations::NAME | host_dashboard::NAME => {
            let views = table(decl, VIEWS, wiring)?;
            let (binary, clock) = (decl.binary.clone(), wiring.clock.clone());
            http(move |r| {
                let (views, binary, clock) = (views.clone(), binary.clone(), clock.clone());
                async move {
                    match binary.as_str() {
                        reservation_status::NAME => reservation_status::handle(views.as_ref(), r).await,
                        my_reservations::NAME => my_reservations::handle(views.as_ref(), r).await,
                        _ => host_dashboard::handle(views.as_ref(), clock.as_ref(), r).await,
                    }
                }
            })
        }
        my_notifications::NAME | update_profile::NAME => {
            let notifications = table(decl, NOTIFICATIONS, wiring)?;
            let binary = decl.binary.clone();
            http(move |r| {
                let (notifications, binary) = (notifications.clone(), binary.clone());
                async move {
                    if binary == my_notifications::NAME {
                        my_notifications::handle(notifications.as_ref(), r).await
                    } else {
                        update_profile::handle(notifications.as_ref(), r).await
                    }
                }
            })
        }
        list_reviews::NAME => {
            let reviews = table(decl, REVIEWS, wiring)?;
            http(move |r| {
                let reviews = reviews.clone();
                async move { list_reviews::handle(reviews.as_ref(), r).await }
            })
        }
        write_review::NAME => {
            let reviews = Arc::new(Reviews {
                reviews: table(decl, REVIEWS, wiring)?,
                rooms: RoomStore::new(table(decl, ROOMS, wiring)?),
                reservations: ReservationStore::new(table(decl, RESERVATIONS, wiring)?, wiring.clock.clone()),
            });
            http(move |r| {
                let reviews = reviews.clone();
                async move { write_review::handle(&reviews, r).await }
            })
        }
        notification_handler::NAME => {
            let handler = Arc::new(NotificationHandler::new(
                table(decl, NOTIFICATIONS, wiring)?,
                wiring.sms.clone(),
                wiring.topic(&name_from_arn(env(decl, "ALERTS_TOPIC_ARN")?))?,
            )
            .with_kakao_codes(decl.environment.get("KAKAO_TEMPLATE_CODES").map(String::as_str).unwrap_or_default()));
            let dead_letters = dead_letters(decl, wiring)?;
            Handler::Sqs(Arc::new(move |event| {
                let (handler, dead_letters) = (handler.clone(), dead_letters.clone());
                Box::pin(async move { notification_handler::handle(&handler, dead_letters.as_ref(), event).await })
            }))
        }
        publish_events::NAME => {
            let topic = wiring.topic(&name_from_arn(env(decl, "DOMAIN_EVENTS_TOPIC_ARN")?))?;
            let outboxes = bnb::outbox::OutboxTables::new(outbox_tables(decl, wiring)?);
            Handler::Stream(Arc::new(move |event| {
                let (topic, outboxes) = (topic.clone(), outboxes.clone());
                Box::pin(async move { publish_events::handle(topic.as_ref(), &outboxes, event).await })
            }))
        }
        republish_outbox::NAME => {
            let topic = wiring.topic(&name_from_arn(env(decl, "DOMAIN_EVENTS_TOPIC_ARN")?))?;
            let tables = Arc::new(outbox_tables(decl, wiring)?);
            let clock = wiring.clock.clone();
            Handler::Invoke(Arc::new(move |_payload| {
                let (tables, topic, clock) = (tables.clone(), topic.clone(), clock.clone());
                Box::pin(async move { republish_outbox::handle(&tables, topic.as_ref(), clock.as_ref()).await.map(|n| serde_json::json!({ "republished": n })) })
            }))
        }
        view_projector::NAME => {
            let projector = Arc::new(ViewProjector::new(table(decl, VIEWS, wiring)?));
            let dead_letters = dead_letters(decl, wiring)?;
            Handler::Sqs(Arc::new(move |event| {
                let (projector, dead_letters) = (projector.clone(), dead_letters.clone());
                Box::pin(async move { view_projector::handle(&projector, dead_letters.as_ref(), event).await })
            }))
        }
        other => return Err(format!("function {} (binary {other}) is in template.yaml but bnb-local does not link it", decl.logical_id).into()),
    })
}
