//! bnb's Lambda entry points: what stands between the Lambda runtime and a context's use cases.
//!
//! - [`function`], [`run`]: the registry's vocabulary (each function declared once) and what runs
//!   a declared function on Lambda with the AWS adapters its main links;
//! - [`http`]: problem documents (one module per context), the caller from JWT claims, request
//!   parsing and the wrapper every API function runs in;
//! - [`sqs`], [`stream_event`]: SQS batches through the consumer harness, DynamoDB stream records;
//! - [`telemetry`], [`aws`]: JSON logs, the AWS SDK configuration.
// A problem document is the whole answer of a failed request, built once: boxing it buys nothing.
#![allow(clippy::result_large_err)]

pub mod aws;
pub mod function;
pub mod http;
pub mod metrics;
pub mod run;
pub mod sqs;
pub mod stream_event;
pub mod telemetry;

pub use function::{payment_provider, Function, Handler, LinkError, Need, Resources, Trigger};
pub use run::{run, AwsAdapters, Error, ProviderSettings};
