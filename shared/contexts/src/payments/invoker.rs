//! The invoker port: a synchronous (request/response) call of another function under a
//! client-side timeout. On AWS, Lambda `Invoke` with `RequestResponse` (crate `bnb-aws-lambda`); locally, the linked
//! function on its own task. Either way a timed-out call goes on running — as a real Lambda
//! does — which is why a timed-out payment is refunded by the saga, never kept.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum InvokeError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the function failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Invoker: Send + Sync {
    async fn invoke(&self, payload: &Value, timeout: Duration) -> Result<Value, InvokeError>;
}

pub type InvokeFuture = Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>;

/// A function linked into this process, called on its own task.
#[derive(Clone)]
pub struct InProcessInvoker {
    function: Arc<dyn Fn(Value) -> InvokeFuture + Send + Sync>,
}

impl InProcessInvoker {
    pub fn new(function: Arc<dyn Fn(Value) -> InvokeFuture + Send + Sync>) -> Self {
        InProcessInvoker { function }
    }
}

#[async_trait]
impl Invoker for InProcessInvoker {
    async fn invoke(&self, payload: &Value, timeout: Duration) -> Result<Value, InvokeError> {
        // Spawned, not awaited in place: after a timeout the call runs on to its end.
        let task = tokio::spawn((self.function)(payload.clone()));
        match tokio::time::timeout(timeout, task).await {
            Err(_) => Err(InvokeError::Timeout(timeout)),
            Ok(Err(join)) => Err(InvokeError::Failed(join.to_string())),
            Ok(Ok(result)) => result.map_err(InvokeError::Failed),
        }
    }
}
