//! The HTTP edge shared by every API function: problem documents, the caller's identity,
//! request parsing and the wrapper that runs a handler with its correlation id.

pub mod identity;
pub mod problem;
pub mod request;
pub mod response;

pub use identity::caller;
pub use problem::Problem;
pub use request::{correlation_id, json_body, path_param, query_param, RequestMeta};
pub use response::{json, no_content, serve};
