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
    /// Every execution its reserved concurrency allows is busy: refused at once, not run
    /// (Lambda's `TooManyRequestsException`).
    #[error("the function is throttled: its reserved concurrency is in use")]
    Throttled,
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
    /// The function's reserved concurrency, shared by every caller (none: unlimited).
    executions: Option<Arc<tokio::sync::Semaphore>>,
}

impl InProcessInvoker {
    pub fn new(function: Arc<dyn Fn(Value) -> InvokeFuture + Send + Sync>) -> Self {
        InProcessInvoker { function, executions: None }
    }

    /// At most as many executions at once as `executions` has permits, as Lambda's reserved
    /// concurrency allows: one more is throttled at once.
    pub fn with_reserved_concurrency(mut self, executions: Arc<tokio::sync::Semaphore>) -> Self {
        self.executions = Some(executions);
        self
    }
}

#[async_trait]
impl Invoker for InProcessInvoker {
    async fn invoke(&self, payload: &Value, timeout: Duration) -> Result<Value, InvokeError> {
        let permit = match &self.executions {
            Some(executions) => Some(executions.clone().try_acquire_owned().map_err(|_| InvokeError::Throttled)?),
            None => None,
        };
        // Spawned, not awaited in place: after a timeout the call runs on to its end, and holds
        // its execution until then (as a Lambda execution does).
        let call = (self.function)(payload.clone());
        let task = tokio::spawn(async move {
            let answer = call.await;
            drop(permit);
            answer
        });
        match tokio::time::timeout(timeout, task).await {
            Err(_) => Err(InvokeError::Timeout(timeout)),
            Ok(Err(join)) => Err(InvokeError::Failed(join.to_string())),
            Ok(Ok(result)) => result.map_err(InvokeError::Failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two executions reserved: two calls hang on, the third is throttled at once, and once an
    /// execution ends (even past its caller's timeout) the next call runs.
    #[tokio::test(start_paused = true)]
    async fn a_call_beyond_the_reserved_concurrency_is_throttled_at_once() {
        let (release, released) = tokio::sync::watch::channel(false);
        let function: Arc<dyn Fn(Value) -> InvokeFuture + Send + Sync> = Arc::new(move |_| {
            let mut released = released.clone();
            Box::pin(async move {
                let _ = released.wait_for(|r| *r).await;
                Ok(Value::Null)
            })
        });
        let invoker = Arc::new(InProcessInvoker::new(function).with_reserved_concurrency(Arc::new(tokio::sync::Semaphore::new(2))));
        let hanging: Vec<_> = (0..2)
            .map(|_| {
                let invoker = invoker.clone();
                tokio::spawn(async move { invoker.invoke(&Value::Null, Duration::from_secs(3)).await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert_eq!(invoker.invoke(&Value::Null, Duration::from_secs(3)).await, Err(InvokeError::Throttled));
        for call in hanging {
            assert_eq!(call.await.unwrap(), Err(InvokeError::Timeout(Duration::from_secs(3))));
        }
        // Timed out, the two executions still run: still throttled.
        assert_eq!(invoker.invoke(&Value::Null, Duration::from_secs(3)).await, Err(InvokeError::Throttled));
        release.send(true).unwrap();
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        assert_eq!(invoker.invoke(&Value::Null, Duration::from_secs(3)).await, Ok(Value::Null));
    }
}
