//! bnb's bounded contexts: each context's use cases over small ports, knowing no HTTP and no AWS.
//!
//! - [`rooms`], [`reservations`], [`payments`], [`views`], [`notifications`], [`reviews`]: the
//!   contexts of design.md, their stores, use cases and event handlers;
//! - [`storage`], [`messaging`]: the ports (a table; topics, queues, SMS) the adapters implement
//!   (`bnb-aws-*` on AWS, `bnb-embedded` on SQLite);
//! - [`events`], [`outbox`], [`consumer`]: domain events, the transactional outbox, and the
//!   exactly-once harness every consumer runs in;
//! - [`identity`]: the user pool's groups (guest, host) and how a person joins them;
//! - [`tables`], [`config`]: which table is which, and settings from the environment.
//!
//! The domain model itself is `bnb-domain`, re-exported as [`domain`] (and its clock as [`clock`]).

pub use bnb_domain as domain;
pub use bnb_domain::clock;

pub mod config;
pub mod consumer;
pub mod events;
pub mod identity;
pub mod messaging;
pub mod metrics;
pub mod notifications;
pub mod outbox;
pub mod paging;
pub mod payments;
pub mod reservations;
pub mod reviews;
pub mod rooms;
pub mod secrets;
pub mod storage;
pub mod tables;
pub mod views;
