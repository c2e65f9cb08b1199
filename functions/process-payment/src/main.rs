use std::sync::Arc;

use bnb::payments::{FaultConfig, PaymentService};
use bnb::storage::dynamodb::DynamoTable;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let payments = PaymentService::new(Arc::new(DynamoTable::new(&aws, bnb::tables::PAYMENTS.from_env()?)), FaultConfig::from_env());
    run(service_fn(|event: LambdaEvent<Value>| {
        let payments = &payments;
        async move { process_payment::handle(payments, event.payload).await.map_err(Error::from) }
    }))
    .await
}
