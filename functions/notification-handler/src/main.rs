use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use bnb::messaging::aws::{SnsSms, SnsTopic};
use bnb::notifications::NotificationHandler;
use bnb::storage::dynamodb::DynamoTable;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let handler = NotificationHandler::new(
        Arc::new(DynamoTable::new(&aws, bnb::tables::NOTIFICATIONS.from_env()?)),
        Arc::new(SnsSms::new(&aws, std::env::var("SMS_SENDER_ID").ok())),
        Arc::new(SnsTopic::new(&aws, bnb::config::required("ALERTS_TOPIC_ARN")?)),
    )
    .with_kakao_codes(&std::env::var("KAKAO_TEMPLATE_CODES").unwrap_or_default());
    let dead_letters = bnb::messaging::aws::SqsDeadLetters::new(&aws, bnb::config::required("DEAD_LETTER_QUEUE_URL")?);
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let handler = &handler;
        let dead_letters = &dead_letters;
        async move { Ok::<_, Error>(notification_handler::handle(handler, dead_letters, event.payload).await) }
    }))
    .await
}
