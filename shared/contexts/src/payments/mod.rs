//! The payment context: bnb's side of every payment (confirm with the provider, refund, and
//! reconcile what a timeout left uncertain), the provider port with its sandbox, the invoker
//! that calls `process-payment` synchronously under a timeout, the circuit breaker every
//! instance shares, and the handler that refunds what must not be kept.

pub mod breaker;
mod handler;
pub mod invoker;
pub mod provider;
pub mod sandbox;
mod service;

pub use breaker::{BreakerConfig, CircuitBreaker, Open, Permit};
pub use handler::PaymentHandler;
pub use invoker::{InvokeError, Invoker};
pub use provider::{PaymentProvider, ProviderError, ProviderKind};
pub use sandbox::{FaultConfig, Sandbox};
pub use service::{PaymentAction, PaymentError, PaymentRequest, PaymentResult, PaymentService, Reconciled, Refund, RefundPath, RECONCILE_AFTER};
