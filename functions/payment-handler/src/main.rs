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
    let handler = PaymentHandler::new(PaymentService::new(Arc::new(DynamoTable::new(&aws, bnb::tables::PAYMENTS.from_env()?)), FaultConfig::default()));
    let dead_letters = bnb::messaging::aws::SqsDeadLetters::new(&aws, bnb::config::required("DEAD_LETTER_QUEUE_URL")?);
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let handler = &handler;
        let dead_letters = &dead_letters;
        async move { Ok::<_, Error>(payment_handler::handle(handler, dead_letters, event.payload).await) }
    }))
    .await
}
