//! Every function the local runtime links, by the binary name `template.yaml` gives it, handed
//! the resources its environment names — as Lambda would run it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use bnb::rooms::{RoomHandler, RoomStore};
use bnb::storage::Table;
use bnb::tables::{TableKind, ROOMS, VIEWS};
use bnb::views::ViewProjector;
use lambda_http::{Body, Request, Response};

use crate::template::{name_from_arn, FunctionDecl};
use crate::wiring::{Wiring, WiringError};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// An API function: a request in, a response out, as lambda_http runs it.
pub type HttpFunction = Arc<dyn Fn(Request) -> BoxFuture<Response<Body>> + Send + Sync>;
/// A DynamoDB Stream function.
pub type StreamFunction = Arc<dyn Fn(StreamEvent) -> BoxFuture<DynamoDbEventResponse> + Send + Sync>;
/// An SQS function.
pub type SqsFunction = Arc<dyn Fn(SqsEvent) -> BoxFuture<SqsBatchResponse> + Send + Sync>;

/// A linked function.
#[derive(Clone)]
pub enum Handler {
    Http(HttpFunction),
    Stream(StreamFunction),
    Sqs(SqsFunction),
}

/// Every binary the workspace builds and this runtime links.
pub const LINKED: &[&str] = &[
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

/// Links the function `decl` names, handing it what its environment points at.
pub fn link(decl: &FunctionDecl, wiring: &Wiring) -> Result<Handler, WiringError> {
    Ok(match decl.binary.as_str() {
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
            Handler::Sqs(Arc::new(move |event| {
                let handler = handler.clone();
                Box::pin(async move { room_handler::handle(&handler, event).await })
            }))
        }
        publish_events::NAME => {
            let topic = wiring.topic(&name_from_arn(env(decl, "DOMAIN_EVENTS_TOPIC_ARN")?))?;
            Handler::Stream(Arc::new(move |event| {
                let topic = topic.clone();
                Box::pin(async move { publish_events::handle(topic.as_ref(), event).await })
            }))
        }
        view_projector::NAME => {
            let projector = Arc::new(ViewProjector::new(table(decl, VIEWS, wiring)?));
            Handler::Sqs(Arc::new(move |event| {
                let projector = projector.clone();
                Box::pin(async move { view_projector::handle(&projector, event).await })
            }))
        }
        other => return Err(format!("function {} (binary {other}) is in template.yaml but bnb-local does not link it", decl.logical_id).into()),
    })
}
