use std::sync::Arc;

use bnb::rooms::RoomStore;
use bnb::storage::dynamodb::DynamoTable;
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let store = RoomStore::new(Arc::new(DynamoTable::new(&aws, bnb::tables::ROOMS.from_env()?)));
    run(service_fn(|request| search_rooms::handle(&store, request))).await
}
