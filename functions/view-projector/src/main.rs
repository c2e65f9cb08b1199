use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use bnb::storage::dynamodb::DynamoTable;
use bnb::views::ViewProjector;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let projector = ViewProjector::new(Arc::new(DynamoTable::new(&aws, bnb::tables::views())));
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let projector = &projector;
        async move { Ok::<_, Error>(view_projector::handle(projector, event.payload).await) }
    }))
    .await
}
