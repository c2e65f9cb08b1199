use std::sync::Arc;

use bnb::reservations::ReservationStore;
use bnb::storage::dynamodb::DynamoTable;
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let store = ReservationStore::new(Arc::new(DynamoTable::new(&aws, bnb::tables::RESERVATIONS.from_env()?)), bnb::clock::system());
    run(service_fn(|request| cancel_reservation::handle(&store, request))).await
}
