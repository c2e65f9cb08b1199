use std::sync::Arc;

use bnb::payments::invoker::LambdaInvoker;
use bnb::payments::{BreakerConfig, CircuitBreaker};
use bnb::reservations::{IdempotencyStore, PlaceReservation, ReservationSettings, ReservationStore};
use bnb::rooms::RoomStore;
use bnb::storage::dynamodb::DynamoTable;
use bnb::storage::Table;
use lambda_http::{run, service_fn, Error};
use place_reservation::Deps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bnb::telemetry::init_json();
    let aws = bnb::config::aws_sdk_config().await;
    let clock = bnb::clock::system();
    let settings = ReservationSettings::from_env();
    let reservations: Arc<dyn Table> = Arc::new(DynamoTable::new(&aws, bnb::tables::RESERVATIONS.from_env()?));
    let deps = Deps {
        place: PlaceReservation {
            reservations: ReservationStore::new(reservations.clone(), clock.clone()),
            rooms: RoomStore::new(Arc::new(DynamoTable::new(&aws, bnb::tables::ROOMS.from_env()?))),
            payments: Arc::new(LambdaInvoker::new(&aws, bnb::config::required("PAYMENT_FUNCTION_NAME")?)),
            breaker: Arc::new(CircuitBreaker::new(reservations.clone(), "payment", BreakerConfig::from_env(), clock.clone())),
            settings,
        },
        idempotency: IdempotencyStore::new(reservations, clock, settings.lease),
    };
    run(service_fn(|request| place_reservation::handle(&deps, request))).await
}
