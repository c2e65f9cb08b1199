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
        reviews: Arc::new(DynamoTable::new(&aws, bnb::tables::REVIEWS.from_env()?)),
        rooms: RoomStore::new(Arc::new(DynamoTable::new(&aws, bnb::tables::ROOMS.from_env()?))),
        reservations: ReservationStore::new(Arc::new(DynamoTable::new(&aws, bnb::tables::RESERVATIONS.from_env()?)), bnb::clock::system()),
    };
    run(service_fn(|request| write_review::handle(&reviews, request))).await
}
