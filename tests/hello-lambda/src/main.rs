//! The smallest API function: what a Rust `lambda_http` cold start costs before any of bnb.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_request: Request| async { Ok::<_, Error>(Response::new(Body::from("hello"))) })).await
}
