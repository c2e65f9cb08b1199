use aws_lambda_events::event::dynamodb::Event;
use bnb::messaging::aws::SnsTopic;
use bnb::outbox::OutboxTables;
use bnb::storage::dynamodb::DynamoTable;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let topic = SnsTopic::new(&aws, bnb::config::required("DOMAIN_EVENTS_TOPIC_ARN")?);
    let tables = DynamoTable::all_from_env(&aws, bnb::tables::WITH_OUTBOX)?;
    let outboxes = OutboxTables::new(tables);
    run(service_fn(|event: LambdaEvent<Event>| {
        let (topic, outboxes) = (&topic, &outboxes);
        async move { Ok::<_, Error>(publish_events::handle(topic, outboxes, event.payload).await) }
    }))
    .await
}
