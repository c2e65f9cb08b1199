//! A function on Lambda: logs, one AWS config, the adapters its main links, its handler on the
//! runtime for its trigger. A function's `main.rs` is one call to [`run`].

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use bnb_contexts::clock::SharedClock;
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::identity::UserPools;
use bnb_contexts::messaging::Topic;
use bnb_contexts::notifications::dealer::NoDealer;
use bnb_contexts::notifications::dealer::{
    DealerSettings, ALIMTALK_APP_KEY, ALIMTALK_ENDPOINT, ALIMTALK_FALLBACK_SEND_NO, ALIMTALK_SECRET_KEY_PARAMETER, ALIMTALK_SENDER_KEY,
};
use bnb_contexts::notifications::Dealer;
use bnb_contexts::payments::provider::{TOSS_ENDPOINT, TOSS_SECRET_KEY_PARAMETER};
use bnb_contexts::payments::{Invoker, PaymentProvider, ProviderKind};
use bnb_contexts::secrets::SecretSource;
use bnb_contexts::storage::{Key, Table, TableSpec};
use bnb_contexts::tables::TableKind;
use lambda_runtime::{service_fn, LambdaEvent};
use tracing::Instrument;

use crate::telemetry::invocation_span;

use crate::function::{Function, Handler, LinkError, Need, Resources, Trigger, DEAD_LETTER_QUEUE_URL, PAYMENT_FUNCTION_NAME};

pub type Error = lambda_runtime::Error;

/// The AWS adapters a function's main links: only those it needs, so a function that sends no
/// alerts does not carry the SNS client (tests/function_registry.rs checks each main against its
/// [`Function::needs`]).
#[derive(Default, Clone, Copy)]
pub struct AwsAdapters {
    pub table: Option<TableAdapter>,
    pub topic: Option<TopicAdapter>,
    pub dealer: Option<DealerAdapter>,
    pub user_pools: Option<UserPoolsAdapter>,
    pub dead_letters: Option<DeadLettersAdapter>,
    pub payments: Option<PaymentsAdapter>,
    pub payment_provider: Option<PaymentProviderAdapter>,
    pub secret: Option<SecretAdapter>,
}

/// What opens tables, by their spec, all on one client.
pub type TableAdapter = fn(&SdkConfig) -> OpenTable;
/// Opens one table.
pub type OpenTable = Box<dyn Fn(TableSpec) -> Arc<dyn Table> + Send + Sync>;
/// A topic, by ARN.
pub type TopicAdapter = fn(&SdkConfig, String) -> Arc<dyn Topic>;
/// The KakaoTalk dealer, from its settings and its secret key (or why it cannot be set up).
pub type DealerAdapter = fn(DealerSettings, Arc<dyn SecretSource>) -> Result<Arc<dyn Dealer>, String>;
/// The user pools.
pub type UserPoolsAdapter = fn(&SdkConfig) -> Arc<dyn UserPools>;
/// Dead letters, by queue URL.
pub type DeadLettersAdapter = fn(&SdkConfig, String) -> Arc<dyn DeadLetters>;
/// The payment function, by name.
pub type PaymentsAdapter = fn(&SdkConfig, String) -> Arc<dyn Invoker>;
/// A real payment provider, from its settings and its secret key (or why it cannot be set up).
pub type PaymentProviderAdapter = fn(ProviderSettings, Arc<dyn SecretSource>) -> Result<Arc<dyn PaymentProvider>, String>;
/// Where a secret is kept, by the name of the parameter that keeps it.
pub type SecretAdapter = fn(&SdkConfig, String) -> Arc<dyn SecretSource>;

/// Where a real provider is, and the name of the SSM parameter that keeps its secret key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    pub endpoint: String,
    pub secret_key_parameter: String,
}

/// A function's resources on AWS: named by its environment, served by the linked adapters.
pub struct AwsResources {
    config: SdkConfig,
    adapters: AwsAdapters,
    tables: Option<OpenTable>,
    function: &'static str,
    clock: SharedClock,
    opened: Mutex<Vec<Arc<dyn Table>>>,
    secrets: Mutex<Vec<Arc<dyn SecretSource>>>,
}

impl AwsResources {
    pub fn new(config: SdkConfig, adapters: AwsAdapters, function: &'static str) -> Self {
        let tables = adapters.table.map(|open| open(&config));
        AwsResources {
            config,
            adapters,
            tables,
            function,
            clock: bnb_contexts::clock::system(),
            opened: Mutex::new(Vec::new()),
            secrets: Mutex::new(Vec::new()),
        }
    }

    fn adapter<T>(&self, adapter: Option<T>, what: &str) -> Result<T, LinkError> {
        adapter.ok_or_else(|| LinkError(format!("{} asked for {what}, but its main links no adapter for it", self.function)))
    }

    /// The tables opened so far (to warm their connection).
    fn opened_tables(&self) -> Vec<Arc<dyn Table>> {
        self.opened.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Where a secret is kept, remembered so that init can read it ([`read_secrets`]).
    fn secret(&self, parameter: String) -> Result<Arc<dyn SecretSource>, LinkError> {
        let secret = self.adapter(self.adapters.secret, "a secret")?(&self.config, parameter);
        if let Ok(mut secrets) = self.secrets.lock() {
            secrets.push(secret.clone());
        }
        Ok(secret)
    }

    /// The secrets the linked adapters hold, to be read in init.
    pub fn linked_secrets(&self) -> Vec<Arc<dyn SecretSource>> {
        self.secrets.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Resources for AwsResources {
    fn table(&self, kind: TableKind) -> Result<Arc<dyn Table>, LinkError> {
        let table = self.adapter(self.tables.as_ref(), "a table")?(kind.from_env()?);
        if let Ok(mut opened) = self.opened.lock() {
            opened.push(table.clone());
        }
        Ok(table)
    }

    fn topic(&self, arn_variable: &str) -> Result<Arc<dyn Topic>, LinkError> {
        Ok(self.adapter(self.adapters.topic, "a topic")?(&self.config, self.required(arn_variable)?))
    }

    fn dealer(&self) -> Result<Arc<dyn Dealer>, LinkError> {
        // A stack deployed without a dealer's keys sends no AlimTalk: its notifications are shown
        // in the app only, and say why.
        if self.var(ALIMTALK_APP_KEY).is_none_or(|key| key.trim().is_empty()) {
            tracing::warn!(function = self.function, "no KakaoTalk dealer is configured (the AlimTalkAppKey parameter is empty)");
            return Ok(Arc::new(NoDealer));
        }
        let settings = DealerSettings {
            endpoint: self.required(ALIMTALK_ENDPOINT)?,
            app_key: self.required(ALIMTALK_APP_KEY)?,
            sender_key: self.required(ALIMTALK_SENDER_KEY)?,
            fallback_send_no: self.required(ALIMTALK_FALLBACK_SEND_NO)?,
            secret_key_parameter: self.required(ALIMTALK_SECRET_KEY_PARAMETER)?,
        };
        let dealer = self.adapter(self.adapters.dealer, "the KakaoTalk dealer")?;
        let secret_key = self.secret(settings.secret_key_parameter.clone())?;
        dealer(settings, secret_key).map_err(LinkError)
    }

    fn user_pools(&self) -> Result<Arc<dyn UserPools>, LinkError> {
        Ok(self.adapter(self.adapters.user_pools, "the user pools")?(&self.config))
    }

    fn dead_letters(&self) -> Result<Arc<dyn DeadLetters>, LinkError> {
        Ok(self.adapter(self.adapters.dead_letters, "a dead-letter queue")?(&self.config, self.required(DEAD_LETTER_QUEUE_URL)?))
    }

    fn payments(&self) -> Result<Arc<dyn Invoker>, LinkError> {
        Ok(self.adapter(self.adapters.payments, "the payment function")?(&self.config, self.required(PAYMENT_FUNCTION_NAME)?))
    }

    fn payment_provider(&self, kind: ProviderKind) -> Result<Arc<dyn PaymentProvider>, LinkError> {
        let settings = ProviderSettings { kind, endpoint: self.required(TOSS_ENDPOINT)?, secret_key_parameter: self.required(TOSS_SECRET_KEY_PARAMETER)? };
        let provider = self.adapter(self.adapters.payment_provider, "the payment provider")?;
        let secret_key = self.secret(settings.secret_key_parameter.clone())?;
        provider(settings, secret_key).map_err(LinkError)
    }

    fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// How long init may spend opening connections before giving up on it (the first request then
/// opens its own).
const WARM_UP_TIMEOUT: Duration = Duration::from_millis(1500);

/// Runs `function` on Lambda with the AWS `adapters` its main links.
pub async fn run(function: &'static Function, adapters: AwsAdapters) -> Result<(), Error> {
    crate::telemetry::init_json();
    crate::metrics::init();
    let config = crate::aws::aws_sdk_config().await;
    let resources = AwsResources::new(config, adapters, function.name);
    let handler = (function.link)(&resources).map_err(|e| {
        tracing::error!(function = function.name, error = %e, "the function cannot start");
        e
    })?;
    if handler.trigger() == Trigger::Http {
        let started = std::time::Instant::now();
        let tables = resources.opened_tables();
        warm_up(&tables).await;
        tracing::info!(function = function.name, tables = tables.len(), warm_up_ms = started.elapsed().as_secs_f64() * 1000.0, "connections warmed in init");
    }
    read_secrets(&resources.linked_secrets()).await;
    serve(function.name, handler).await
}

/// Reads each secret a linked adapter holds (a provider's or dealer's key, from SSM) during init,
/// and keeps it, so no request waits for it. A failure only logs, naming the parameter and why
/// (never a value): the first call reads it again, and a key that cannot be read fails that call
/// as the provider being unavailable.
pub async fn read_secrets(secrets: &[Arc<dyn SecretSource>]) {
    for secret in secrets {
        match tokio::time::timeout(WARM_UP_TIMEOUT, secret.secret()).await {
            Ok(Ok(_)) => tracing::info!("secret read in init"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not read a secret in init; the first call will read it"),
            Err(_) => tracing::warn!("reading a secret in init timed out; the first call will read it"),
        }
    }
}

/// Opens each table's connection (DNS, TCP, TLS) during init, which Lambda does not bill to the
/// first request, with one cheap read of a key no item has. A failure only logs: the first request
/// will open the connection itself.
pub async fn warm_up(tables: &[Arc<dyn Table>]) {
    let probe = Key::new("WARM-UP", "WARM-UP");
    for table in tables {
        match tokio::time::timeout(WARM_UP_TIMEOUT, table.get(&probe)).await {
            Ok(Ok(_)) => tracing::debug!(table = table.name(), "connection warmed"),
            Ok(Err(e)) => {
                tracing::warn!(table = table.name(), error = %e, "could not warm the connection; the first request will open it")
            }
            Err(_) => tracing::warn!(table = table.name(), "warming the connection timed out; the first request will open it"),
        }
    }
}

/// Runs a built handler on the Lambda runtime for its trigger, each invocation in its
/// [`invocation_span`] (the Powertools fields on every line it logs), its metrics written after.
pub async fn serve(name: &'static str, handler: Handler) -> Result<(), Error> {
    match handler {
        Handler::Http(f) => {
            lambda_http::run(lambda_http::service_fn(move |request: lambda_http::Request| {
                let context = lambda_http::RequestExt::lambda_context_ref(&request).cloned().unwrap_or_default();
                let work = f(request);
                invocation(name, &context, async move { Ok::<_, std::convert::Infallible>(work.await) })
            }))
            .await
        }
        Handler::Sqs(f) => {
            lambda_runtime::run(service_fn(move |LambdaEvent { payload, context }: LambdaEvent<SqsEvent>| {
                let work = f(payload);
                invocation(name, &context, async move { Ok::<_, Error>(work.await) })
            }))
            .await
        }
        Handler::Stream(f) => {
            lambda_runtime::run(service_fn(move |LambdaEvent { payload, context }: LambdaEvent<StreamEvent>| {
                let work = f(payload);
                invocation(name, &context, async move { Ok::<_, Error>(work.await) })
            }))
            .await
        }
        Handler::Invoke(f) => {
            lambda_runtime::run(service_fn(move |LambdaEvent { payload, context }: LambdaEvent<serde_json::Value>| {
                let work = f(payload);
                invocation(name, &context, async move { work.await.map_err(Error::from) })
            }))
            .await
        }
    }
}

/// One invocation: `work` in its span, then what it recorded written as metrics.
fn invocation<T>(name: &'static str, context: &lambda_runtime::Context, work: impl Future<Output = T>) -> impl Future<Output = T> {
    let request_id = context.request_id.clone();
    let span = invocation_span(name, &request_id, context.xray_trace_id.as_deref());
    async move {
        let out = work.await;
        crate::metrics::flush(&request_id);
        out
    }
    .instrument(span)
}

/// Checks, at link time, that a function asks only for what it declared (tests and `bnb-local`
/// wrap their resources in this, so a [`Function::needs`] that lies fails there).
pub struct Declared<'a> {
    pub function: &'a Function,
    pub inner: &'a dyn Resources,
}

impl Declared<'_> {
    fn check(&self, need: Need) -> Result<(), LinkError> {
        if self.function.needs(need) {
            Ok(())
        } else {
            Err(LinkError(format!("{} asked for {need:?}, which its declaration does not list", self.function.name)))
        }
    }
}

impl Resources for Declared<'_> {
    fn table(&self, kind: TableKind) -> Result<Arc<dyn Table>, LinkError> {
        self.check(Need::Table(kind))?;
        self.inner.table(kind)
    }
    fn topic(&self, arn_variable: &str) -> Result<Arc<dyn Topic>, LinkError> {
        let need = self.function.needs.iter().find(|n| matches!(n, Need::Topic(v) if *v == arn_variable)).copied();
        self.check(need.unwrap_or(Need::Topic("(undeclared)")))?;
        self.inner.topic(arn_variable)
    }
    fn dealer(&self) -> Result<Arc<dyn Dealer>, LinkError> {
        self.check(Need::Dealer)?;
        self.inner.dealer()
    }
    fn user_pools(&self) -> Result<Arc<dyn UserPools>, LinkError> {
        self.check(Need::UserPools)?;
        self.inner.user_pools()
    }
    fn dead_letters(&self) -> Result<Arc<dyn DeadLetters>, LinkError> {
        self.check(Need::DeadLetters)?;
        self.inner.dead_letters()
    }
    fn payments(&self) -> Result<Arc<dyn Invoker>, LinkError> {
        self.check(Need::Payments)?;
        self.inner.payments()
    }
    fn payment_provider(&self, kind: ProviderKind) -> Result<Arc<dyn PaymentProvider>, LinkError> {
        self.check(Need::PaymentProvider)?;
        self.inner.payment_provider(kind)
    }
    fn clock(&self) -> SharedClock {
        self.inner.clock()
    }
    fn var(&self, name: &str) -> Option<String> {
        self.inner.var(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack deployed without the dealer's app key gets the dealer that sends nothing (and
    /// never the NHN adapter, which could not start without its keys).
    #[tokio::test]
    async fn no_app_key_means_no_dealer() {
        std::env::remove_var(ALIMTALK_APP_KEY);
        let adapters = AwsAdapters { dealer: Some(|_, _| Err("the NHN adapter must not be built without keys".into())), ..Default::default() };
        let resources = AwsResources::new(aws_config::SdkConfig::builder().build(), adapters, "alimtalk-sender");
        let dealer = resources.dealer().expect("a dealer, even unconfigured");
        let receipt = bnb_contexts::notifications::Receipt { request_id: "r".into(), message_id: "1".into() };
        assert_eq!(dealer.delivery(&receipt).await, Err(bnb_contexts::notifications::DealerError::NotConfigured));
    }
}
