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
        Arc::new(DynamoTable::new(&aws, bnb::tables::notifications())),
        Arc::new(SnsSms::new(&aws, std::env::var("SMS_SENDER_ID").ok())),
        Arc::new(SnsTopic::new(&aws, std::env::var("ALERTS_TOPIC_ARN")?)),
    )
    .with_kakao_codes(&std::env::var("KAKAO_TEMPLATE_CODES").unwrap_or_default());
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let handler = &handler;
        async move { Ok::<_, Error>(notification_handler::handle(handler, event.payload).await) }
    }))
    .await
}
