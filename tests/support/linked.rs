//! Functions as the registry declares them, built over resources a test chooses: its tables
//! (embedded, moto, or wrapped to inject faults), its payment call, its clock and its settings.
//! A test that drives a function this way runs the wiring the Lambda main and `bnb-local` run.

use std::collections::BTreeMap;
use std::sync::Arc;

use bnb_contexts::clock::SharedClock;
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::identity::UserPools;
use bnb_contexts::messaging::Topic;
use bnb_contexts::notifications::Dealer;
use bnb_contexts::payments::{Invoker, PaymentProvider, ProviderKind};
use bnb_contexts::storage::Table;
use bnb_contexts::tables::TableKind;
use bnb_lambda::function::{Handler, HttpFunction};
use bnb_lambda::run::Declared;
use bnb_lambda::{Function, LinkError, Resources};

pub struct TestResources {
    tables: BTreeMap<&'static str, Arc<dyn Table>>,
    payments: Option<Arc<dyn Invoker>>,
    dealer: Option<Arc<dyn Dealer>>,
    user_pools: Option<Arc<dyn UserPools>>,
    provider: Option<Arc<dyn PaymentProvider>>,
    clock: SharedClock,
    vars: BTreeMap<String, String>,
}

impl TestResources {
    pub fn new(clock: SharedClock) -> Self {
        TestResources { tables: BTreeMap::new(), payments: None, dealer: None, user_pools: None, provider: None, clock, vars: BTreeMap::new() }
    }

    pub fn table(mut self, kind: TableKind, table: Arc<dyn Table>) -> Self {
        self.tables.insert(kind.env, table);
        self
    }

    pub fn payments(mut self, invoker: Arc<dyn Invoker>) -> Self {
        self.payments = Some(invoker);
        self
    }

    /// A real payment provider, taken when `PAYMENT_PROVIDER` names its kind.
    pub fn payment_provider(mut self, provider: Arc<dyn PaymentProvider>) -> Self {
        self.vars.insert("PAYMENT_PROVIDER".into(), provider.kind().as_str().into());
        self.provider = Some(provider);
        self
    }

    pub fn dealer(mut self, dealer: Arc<dyn Dealer>) -> Self {
        self.dealer = Some(dealer);
        self
    }

    pub fn user_pools(mut self, pools: Arc<dyn UserPools>) -> Self {
        self.user_pools = Some(pools);
        self
    }

    /// A setting, as `template.yaml` would set it in the function's environment.
    pub fn var(mut self, name: &str, value: impl ToString) -> Self {
        self.vars.insert(name.to_owned(), value.to_string());
        self
    }

    /// The function, built by its own `link` (which may ask only for what it declares).
    pub fn link(&self, function: &'static Function) -> Handler {
        (function.link)(&Declared { function, inner: self }).unwrap_or_else(|e| panic!("{} does not link: {e}", function.name))
    }

    /// An API function, built by its own `link`.
    pub fn http(&self, function: &'static Function) -> HttpFunction {
        match self.link(function) {
            Handler::Http(f) => f,
            _ => panic!("{} is not an API function", function.name),
        }
    }
}

fn missing(what: &str) -> LinkError {
    LinkError(format!("the test gave no {what}"))
}

impl Resources for TestResources {
    fn table(&self, kind: TableKind) -> Result<Arc<dyn Table>, LinkError> {
        self.tables.get(kind.env).cloned().ok_or_else(|| missing(kind.env))
    }
    fn topic(&self, arn_variable: &str) -> Result<Arc<dyn Topic>, LinkError> {
        Err(missing(arn_variable))
    }
    fn dealer(&self) -> Result<Arc<dyn Dealer>, LinkError> {
        self.dealer.clone().ok_or_else(|| missing("KakaoTalk dealer"))
    }
    fn user_pools(&self) -> Result<Arc<dyn UserPools>, LinkError> {
        self.user_pools.clone().ok_or_else(|| missing("user pools"))
    }
    fn dead_letters(&self) -> Result<Arc<dyn DeadLetters>, LinkError> {
        Err(missing("dead-letter queue"))
    }
    fn payments(&self) -> Result<Arc<dyn Invoker>, LinkError> {
        self.payments.clone().ok_or_else(|| missing("payment call"))
    }
    fn payment_provider(&self, kind: ProviderKind) -> Result<Arc<dyn PaymentProvider>, LinkError> {
        self.provider.clone().filter(|p| p.kind() == kind).ok_or_else(|| missing("payment provider"))
    }
    fn clock(&self) -> SharedClock {
        self.clock.clone()
    }
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}
