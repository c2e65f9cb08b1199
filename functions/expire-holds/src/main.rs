use std::sync::Arc;

use bnb::reservations::ReservationStore;
use bnb::storage::dynamodb::DynamoTable;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let store = ReservationStore::new(Arc::new(DynamoTable::new(&aws, bnb::tables::RESERVATIONS.from_env()?)), bnb::clock::system());
    run(service_fn(|_event: LambdaEvent<Value>| {
        let store = &store;
        async move { expire_holds::handle(store).await.map(|done| serde_json::json!(done)).map_err(Error::from) }
    }))
    .await
}
