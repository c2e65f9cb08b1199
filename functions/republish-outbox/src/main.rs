use bnb::messaging::aws::SnsTopic;
use bnb::storage::dynamodb::DynamoTable;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let topic = SnsTopic::new(&aws, bnb::config::required("DOMAIN_EVENTS_TOPIC_ARN")?);
    let tables = DynamoTable::all_from_env(&aws, bnb::tables::WITH_OUTBOX)?;
    let clock = bnb::clock::system();
    run(service_fn(|_event: LambdaEvent<Value>| {
        let (tables, topic, clock) = (&tables, &topic, clock.clone());
        async move { republish_outbox::handle(tables, topic, clock.as_ref()).await.map(|n| serde_json::json!({ "republished": n })).map_err(Error::from) }
    }))
    .await
}
