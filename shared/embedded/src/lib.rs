//! bnb's embedded adapters: every table, topic, queue and SMS of the system on one SQLite file,
//! with the semantics the AWS services give (conditional transactions, a change stream, at-least-
//! once queues with visibility timeouts and DLQs). `bnb-local` and the tests link it; a Lambda
//! function never does.

pub mod bus;
pub mod store;

pub use bus::{EmbeddedBus, QueueSettings};
pub use store::{as_background, EmbeddedStore, OperationStats, StoreStats};
