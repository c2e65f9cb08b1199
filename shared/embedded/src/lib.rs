//! bnb's embedded adapters: every table, topic and queue of the system, the user pool's groups and a KakaoTalk mailbox on one SQLite file,
//! with the semantics the AWS services give (conditional transactions, a change stream, at-least-
//! once queues with visibility timeouts and DLQs). `bnb-local` and the tests link it; a Lambda
//! function never does.

pub mod bus;
pub mod directory;
pub mod mailbox;
pub mod store;

pub use bus::{EmbeddedBus, QueueSettings};
pub use directory::EmbeddedDirectory;
pub use mailbox::EmbeddedMailbox;
pub use store::{as_background, EmbeddedStore, OperationStats, StoreStats};
