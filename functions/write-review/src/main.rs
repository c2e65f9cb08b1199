use std::sync::Arc;

use bnb::reservations::ReservationStore;
use bnb::reviews::Reviews;
use bnb::rooms::RoomStore;
use bnb::storage::dynamodb::DynamoTable;
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let reviews = Reviews {
        reviews: Arc::new(DynamoTable::new(&aws, bnb::tables::reviews())),
        rooms: RoomStore::new(Arc::new(DynamoTable::new(&aws, bnb::tables::rooms()))),
        reservations: ReservationStore::new(Arc::new(DynamoTable::new(&aws, bnb::tables::reservations()))),
    };
    run(service_fn(|request| write_review::handle(&reviews, request))).await
}
