//! The view context (CQRS): read models other contexts' events keep up to date, so that what
//! guests and hosts look at never asks the core contexts.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | a host's room on their dashboard | `HOST#<hostId>` | `ROOM#<roomId>` |

mod projector;

pub use projector::ViewProjector;
