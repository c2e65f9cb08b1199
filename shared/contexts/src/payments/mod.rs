//! The payment context: a stand-in for the third-party gateway (approve, decline, refund;
//! idempotent by reservation id), the invoker that calls it synchronously under a timeout, the
//! circuit breaker every instance shares, and the handler that refunds what must not be kept.

pub mod breaker;
mod handler;
pub mod invoker;
mod service;

pub use breaker::{BreakerConfig, CircuitBreaker, Open, Permit};
pub use handler::PaymentHandler;
pub use invoker::{InvokeError, Invoker};
pub use service::{FaultConfig, PaymentAction, PaymentError, PaymentRequest, PaymentResult, PaymentService, Refund};
