//! The invoker port: a synchronous (request/response) call of another function under a
//! client-side timeout. On AWS, Lambda `Invoke` with `RequestResponse`; locally, the linked
//! function on its own task. Either way a timed-out call goes on running — as a real Lambda
//! does — which is why a timed-out payment is refunded by the saga, never kept.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
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

/// AWS Lambda, `InvocationType=RequestResponse`.
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
    function_name: String,
}

impl LambdaInvoker {
    pub fn new(config: &aws_config::SdkConfig, function_name: impl Into<String>) -> Self {
        LambdaInvoker { client: aws_sdk_lambda::Client::new(config), function_name: function_name.into() }
    }
}

#[async_trait]
impl Invoker for LambdaInvoker {
    async fn invoke(&self, payload: &Value, timeout: Duration) -> Result<Value, InvokeError> {
        let call = self
            .client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload.to_string()))
            .send();
        let out = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| InvokeError::Timeout(timeout))?
            .map_err(|e| InvokeError::Failed(aws_sdk_lambda::error::DisplayErrorContext(&e).to_string()))?;
        let body = out.payload.map(|b| b.into_inner()).unwrap_or_default();
        if let Some(kind) = out.function_error {
            return Err(InvokeError::Failed(format!("{kind}: {}", String::from_utf8_lossy(&body))));
        }
        serde_json::from_slice(&body).map_err(|e| InvokeError::Failed(format!("the answer is not JSON: {e}")))
    }
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
