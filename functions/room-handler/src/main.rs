use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use bnb::rooms::RoomHandler;
use bnb::storage::dynamodb::DynamoTable;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let handler = RoomHandler::new(Arc::new(DynamoTable::new(&aws, bnb::tables::ROOMS.from_env()?)));
    let dead_letters = bnb::messaging::aws::SqsDeadLetters::new(&aws, bnb::config::required("DEAD_LETTER_QUEUE_URL")?);
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let handler = &handler;
        let dead_letters = &dead_letters;
        async move { Ok::<_, Error>(room_handler::handle(handler, dead_letters, event.payload).await) }
    }))
    .await
}
