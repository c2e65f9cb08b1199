//! `bnb-local`: bnb's functions, linked into one process and wired as `template.yaml` wires
//! them on AWS, over the embedded SQLite store.

pub mod auth;
pub mod demo;
pub mod event_filter;
pub mod functions;
pub mod gateway;
pub mod iam;
pub mod ops;
pub mod pump;
pub mod runtime;
pub mod samples;
pub mod template;
pub mod web;
pub mod wiring;

pub use runtime::{start, LocalConfig, Running};
