//! bnb's shared crate: the domain core of every context, the ports the functions speak through,
//! and the adapters (AWS and embedded) behind them.
//!
//! - [`domain`]: the types of every context, knowing nothing of AWS or HTTP;
//! - [`rooms`]: the room context's use cases;
//! - [`events`], [`outbox`]: domain events and the transactional outbox;
//! - [`storage`]: the table port and its DynamoDB and SQLite adapters;
//! - [`http`]: problem documents, identity from JWT claims, request parsing;
//! - [`tables`], [`config`], [`telemetry`]: wiring.

pub mod clock;
pub mod config;
pub mod consumer;
pub mod domain;
pub mod events;
pub mod http;
pub mod messaging;
pub mod notifications;
pub mod outbox;
pub mod payments;
pub mod reservations;
pub mod reviews;
pub mod rooms;
pub mod storage;
pub mod tables;
pub mod telemetry;
pub mod views;
