use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use bnb::payments::{FaultConfig, PaymentHandler, PaymentService};
use bnb::storage::dynamodb::DynamoTable;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    // Refunds are never slowed or failed on purpose: faults are for approvals.
    let handler = PaymentHandler::new(PaymentService::new(Arc::new(DynamoTable::new(&aws, bnb::tables::payments())), FaultConfig::default()));
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let handler = &handler;
        async move { Ok::<_, Error>(payment_handler::handle(handler, event.payload).await) }
    }))
    .await
}
