use bnb::storage::dynamodb::DynamoTable;
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let table = DynamoTable::new(&aws, bnb::tables::VIEWS.from_env()?);
    run(service_fn(|request| host_dashboard::handle(&table, &bnb::clock::SystemClock, request))).await
}
