//! The invoker port over AWS Lambda: `Invoke` with `InvocationType=RequestResponse`, under the
//! caller's timeout. Only `place-reservation` links it (its synchronous payment call).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use bnb_contexts::payments::{InvokeError, Invoker};
use serde_json::Value;

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
        let out = tokio::time::timeout(timeout, call).await.map_err(|_| InvokeError::Timeout(timeout))?.map_err(|e| match e.as_service_error() {
            // The payment function's reserved concurrency is in use: refused, not run.
            Some(aws_sdk_lambda::operation::invoke::InvokeError::TooManyRequestsException(_)) => InvokeError::Throttled,
            _ => InvokeError::Failed(aws_sdk_lambda::error::DisplayErrorContext(&e).to_string()),
        })?;
        let body = out.payload.map(|b| b.into_inner()).unwrap_or_default();
        if let Some(kind) = out.function_error {
            return Err(InvokeError::Failed(format!("{kind}: {}", String::from_utf8_lossy(&body))));
        }
        serde_json::from_slice(&body).map_err(|e| InvokeError::Failed(format!("the answer is not JSON: {e}")))
    }
}

/// The payment function by name, as `place-reservation`'s main hands it to `bnb_lambda::AwsAdapters`.
pub fn payments(config: &aws_config::SdkConfig, function_name: String) -> std::sync::Arc<dyn Invoker> {
    std::sync::Arc::new(LambdaInvoker::new(config, function_name))
}
