use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use bnb::reservations::ReservationHandler;
use bnb::storage::dynamodb::DynamoTable;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let handler = ReservationHandler::new(Arc::new(DynamoTable::new(&aws, bnb::tables::reservations())));
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let handler = &handler;
        async move { Ok::<_, Error>(reservation_handler::handle(handler, event.payload).await) }
    }))
    .await
}
