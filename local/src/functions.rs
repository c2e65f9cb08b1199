//! Every function the local runtime links, by the name `template.yaml` gives it, with the
//! stores it is handed.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bnb::rooms::RoomStore;
use bnb::storage::Table;
use lambda_http::{Body, Request, Response};

pub type HttpFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;
/// An API function: a request in, a response out, as lambda_http runs it.
pub type HttpFunction = Arc<dyn Fn(Request) -> HttpFuture + Send + Sync>;

/// The tables the functions are handed.
#[derive(Clone)]
pub struct Tables {
    pub rooms: Arc<dyn Table>,
}

fn http_fn<F, Fut>(f: F) -> HttpFunction
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send + 'static,
{
    Arc::new(move |request| {
        let fut = f(request);
        Box::pin(async move {
            match fut.await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        })
    })
}

/// The API functions, by logical name.
pub fn http_functions(tables: &Tables) -> BTreeMap<&'static str, HttpFunction> {
    let rooms = RoomStore::new(tables.rooms.clone());
    let mut functions: BTreeMap<&'static str, HttpFunction> = BTreeMap::new();
    {
        let rooms = rooms.clone();
        functions.insert(register_room::NAME, http_fn(move |r| {
            let rooms = rooms.clone();
            async move { register_room::handle(&rooms, r).await }
        }));
    }
    {
        let rooms = rooms.clone();
        functions.insert(get_room::NAME, http_fn(move |r| {
            let rooms = rooms.clone();
            async move { get_room::handle(&rooms, r).await }
        }));
    }
    functions
}
