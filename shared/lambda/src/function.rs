//! The function registry's vocabulary. Each function crate declares itself once, as a
//! [`Function`]: its binary name, how Lambda invokes it, what it needs, and how it is built from
//! the [`Resources`] it is handed. The Lambda mains ([`crate::run`]), `bnb-local` and the tests all
//! build functions through that declaration, so there is one wiring of each.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use bnb_contexts::clock::SharedClock;
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::identity::UserPools;
use bnb_contexts::messaging::Topic;
use bnb_contexts::notifications::dealer::ALIMTALK_SECRET_KEY_PARAMETER;
use bnb_contexts::notifications::Dealer;
use bnb_contexts::payments::invoker::InvokeFuture;
use bnb_contexts::payments::provider::{PAYMENT_PROVIDER, TOSS_SECRET_KEY_PARAMETER};
use bnb_contexts::payments::Invoker;
use bnb_contexts::payments::{FaultConfig, PaymentProvider, ProviderKind, Sandbox};
use bnb_contexts::storage::Table;
use bnb_contexts::tables::TableKind;
use lambda_http::{Body, Request, Response};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// An API function: a request in, a response out (problems included), as lambda_http runs it.
pub type HttpFunction = Arc<dyn Fn(Request) -> BoxFuture<Response<Body>> + Send + Sync>;
/// A DynamoDB Streams function.
pub type StreamFunction = Arc<dyn Fn(StreamEvent) -> BoxFuture<DynamoDbEventResponse> + Send + Sync>;
/// An SQS function.
pub type SqsFunction = Arc<dyn Fn(SqsEvent) -> BoxFuture<SqsBatchResponse> + Send + Sync>;
/// A function invoked directly (synchronously, or by a schedule): JSON in, JSON or an error out.
pub type InvokeFunction = Arc<dyn Fn(serde_json::Value) -> InvokeFuture + Send + Sync>;

/// How Lambda invokes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// API Gateway (HTTP API) events.
    Http,
    /// SQS batches, answering `batchItemFailures`.
    Sqs,
    /// DynamoDB Streams batches.
    Stream,
    /// A direct `Invoke`, or an EventBridge schedule.
    Invoke,
}

/// A built function, ready for its trigger.
#[derive(Clone)]
pub enum Handler {
    Http(HttpFunction),
    Sqs(SqsFunction),
    Stream(StreamFunction),
    Invoke(InvokeFunction),
}

impl Handler {
    pub fn trigger(&self) -> Trigger {
        match self {
            Handler::Http(_) => Trigger::Http,
            Handler::Sqs(_) => Trigger::Sqs,
            Handler::Stream(_) => Trigger::Stream,
            Handler::Invoke(_) => Trigger::Invoke,
        }
    }

    /// An API function from its handler (which answers every request, problems included).
    pub fn http<F, Fut>(f: F) -> Handler
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send + 'static,
    {
        Handler::Http(Arc::new(move |request| {
            let answer = f(request);
            Box::pin(async move {
                match answer.await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            })
        }))
    }

    pub fn sqs<F, Fut>(f: F) -> Handler
    where
        F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = SqsBatchResponse> + Send + 'static,
    {
        Handler::Sqs(Arc::new(move |event| Box::pin(f(event))))
    }

    pub fn stream<F, Fut>(f: F) -> Handler
    where
        F: Fn(StreamEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = DynamoDbEventResponse> + Send + 'static,
    {
        Handler::Stream(Arc::new(move |event| Box::pin(f(event))))
    }

    pub fn invoke<F, Fut>(f: F) -> Handler
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<serde_json::Value, String>> + Send + 'static,
    {
        Handler::Invoke(Arc::new(move |payload| Box::pin(f(payload))))
    }
}

/// What a function needs from its environment. Each need names the variable `template.yaml`
/// sets for it and the adapter crate that serves it on AWS (checked by tests/function_registry.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A table, by the variable that names it (`bnb-aws-dynamodb`).
    Table(TableKind),
    /// An SNS topic, by the variable that holds its ARN (`bnb-aws-sns`).
    Topic(&'static str),
    /// The KakaoTalk dealer (`bnb-nhn-bizmessage`, its secret key from SSM by `bnb-aws-ssm`).
    Dealer,
    /// The user pools' groups (`bnb-aws-cognito`).
    UserPools,
    /// The consumer's dead-letter queue, `DEAD_LETTER_QUEUE_URL` (`bnb-aws-sqs`).
    DeadLetters,
    /// The synchronous payment call, `PAYMENT_FUNCTION_NAME` (`bnb-aws-lambda`).
    Payments,
    /// The payment provider `PAYMENT_PROVIDER` names: the sandbox (on the payments table), or
    /// Toss Payments (`bnb-toss-payments`, its secret key from SSM by `bnb-aws-ssm`).
    PaymentProvider,
}

impl Need {
    /// The environment variable that points at the resource.
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            Need::Table(kind) => Some(kind.env),
            Need::Topic(var) => Some(var),
            Need::Dealer => Some(ALIMTALK_SECRET_KEY_PARAMETER),
            Need::UserPools => None,
            Need::DeadLetters => Some(DEAD_LETTER_QUEUE_URL),
            Need::Payments => Some(PAYMENT_FUNCTION_NAME),
            // Where a real provider's secret key is kept (the sandbox's functions are given it too).
            Need::PaymentProvider => Some(TOSS_SECRET_KEY_PARAMETER),
        }
    }
}

pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";
pub const PAYMENT_FUNCTION_NAME: &str = "PAYMENT_FUNCTION_NAME";

/// The payment provider a function's `PAYMENT_PROVIDER` names: the sandbox, with its ledger on
/// the payments table and its faults from the environment, or the real one the resources give.
/// A name bnb does not know stops the function at init: it is never taken for the sandbox.
pub fn payment_provider(r: &dyn Resources) -> Result<Arc<dyn PaymentProvider>, LinkError> {
    let name = r.var(PAYMENT_PROVIDER).unwrap_or_default();
    match ProviderKind::parse(&name) {
        Some(ProviderKind::Sandbox) => Ok(Arc::new(Sandbox::new(r.table(bnb_contexts::tables::PAYMENTS)?, FaultConfig::from_lookup(|var| r.var(var))))),
        Some(kind) => r.payment_provider(kind),
        None => Err(LinkError(format!("{PAYMENT_PROVIDER}={name:?} is not a payment provider bnb knows (sandbox, toss)"))),
    }
}

/// A function, declared once.
pub struct Function {
    /// The binary's name, as `template.yaml`, `events/` and `bnb-local` know it.
    pub name: &'static str,
    pub trigger: Trigger,
    /// Everything [`Function::link`] may ask its resources for.
    pub needs: &'static [Need],
    /// Builds the handler from its resources (called once per process, at init).
    pub link: fn(&dyn Resources) -> Result<Handler, LinkError>,
}

impl Function {
    pub fn needs(&self, need: Need) -> bool {
        self.needs.contains(&need)
    }
}

/// Why a function could not be built: it stops at init, saying what is missing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LinkError(pub String);

impl From<bnb_contexts::config::MissingVariable> for LinkError {
    fn from(e: bnb_contexts::config::MissingVariable) -> Self {
        LinkError(e.to_string())
    }
}

/// What a function is handed at init: its resources, through the ports its use cases speak.
/// On Lambda the AWS adapters the main links ([`crate::run`]); in `bnb-local` and the tests, the
/// embedded ones or moto.
pub trait Resources: Send + Sync {
    fn table(&self, kind: TableKind) -> Result<Arc<dyn Table>, LinkError>;
    /// The topic whose ARN the variable `arn_variable` holds.
    fn topic(&self, arn_variable: &str) -> Result<Arc<dyn Topic>, LinkError>;
    fn dealer(&self) -> Result<Arc<dyn Dealer>, LinkError>;
    fn user_pools(&self) -> Result<Arc<dyn UserPools>, LinkError>;
    fn dead_letters(&self) -> Result<Arc<dyn DeadLetters>, LinkError>;
    fn payments(&self) -> Result<Arc<dyn Invoker>, LinkError>;
    /// A real payment provider (not the sandbox, which [`payment_provider`] builds itself).
    fn payment_provider(&self, kind: ProviderKind) -> Result<Arc<dyn PaymentProvider>, LinkError>;
    fn clock(&self) -> SharedClock;
    /// A setting from the function's environment.
    fn var(&self, name: &str) -> Option<String>;

    /// A setting the function cannot start without.
    fn required(&self, name: &str) -> Result<String, LinkError> {
        self.var(name).filter(|v| !v.is_empty()).ok_or_else(|| bnb_contexts::config::MissingVariable(name.to_owned()).into())
    }
}
