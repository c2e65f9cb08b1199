use aws_lambda_events::event::dynamodb::Event;
use bnb::messaging::aws::SnsTopic;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let topic = SnsTopic::new(&aws, bnb::config::required("DOMAIN_EVENTS_TOPIC_ARN")?);
    run(service_fn(|event: LambdaEvent<Event>| {
        let topic = &topic;
        async move { Ok::<_, Error>(publish_events::handle(topic, event.payload).await) }
    }))
    .await
}
