//! Every function the local runtime links, by the binary name `template.yaml` gives it, built from
//! its one declaration (its crate's `FUNCTION`) with the resources its environment names — as
//! Lambda would run it.

use std::sync::Arc;

use bnb_contexts::clock::SharedClock;
use bnb_contexts::consumer::{DeadLetters, QueueDeadLetters};
use bnb_contexts::identity::{UserDirectory, UserPools};
use bnb_contexts::messaging::Topic;
use bnb_contexts::notifications::Dealer;
use bnb_contexts::payments::invoker::InProcessInvoker;
use bnb_contexts::payments::Invoker;
use bnb_contexts::payments::{PaymentProvider, ProviderKind};
use bnb_contexts::storage::Table;
use bnb_contexts::tables::TableKind;
pub use bnb_lambda::function::{BoxFuture, Handler, HttpFunction, InvokeFunction, SqsFunction, StreamFunction};
use bnb_lambda::function::{DEAD_LETTER_QUEUE_URL, PAYMENT_FUNCTION_NAME};
use bnb_lambda::run::Declared;
use bnb_lambda::{Function, LinkError, Resources};

use crate::iam::GrantedTable;
use crate::template::{local_name, name_from_arn, FunctionDecl, Topology};
use crate::wiring::{Wiring, WiringError};

/// The registry: every function the workspace builds, each declared once, in its own crate.
pub static REGISTRY: &[&Function] = &[
    &register_room::FUNCTION,
    &get_room::FUNCTION,
    &modify_room::FUNCTION,
    &delete_room::FUNCTION,
    &search_rooms::FUNCTION,
    &room_handler::FUNCTION,
    &process_payment::FUNCTION,
    &place_reservation::FUNCTION,
    &cancel_reservation::FUNCTION,
    &payment_handler::FUNCTION,
    &reservation_handler::FUNCTION,
    &expire_holds::FUNCTION,
    &reconcile_payments::FUNCTION,
    &republish_outbox::FUNCTION,
    &reservation_status::FUNCTION,
    &my_reservations::FUNCTION,
    &host_dashboard::FUNCTION,
    &my_notifications::FUNCTION,
    &update_profile::FUNCTION,
    &my_profile::FUNCTION,
    &write_review::FUNCTION,
    &list_reviews::FUNCTION,
    &notification_handler::FUNCTION,
    &publish_events::FUNCTION,
    &view_projector::FUNCTION,
    &alimtalk_sender::FUNCTION,
    &check_deliveries::FUNCTION,
    &become_host::FUNCTION,
    &enrol_guest::FUNCTION,
];

/// The declared function named `name`.
pub fn find(name: &str) -> Option<&'static Function> {
    REGISTRY.iter().copied().find(|f| f.name == name)
}

/// The names of every linked function.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|f| f.name).collect()
}

/// A function's resources in this runtime: what its template environment points at.
struct LocalResources<'a> {
    decl: &'a FunctionDecl,
    topology: &'a Topology,
    wiring: &'a Wiring,
}

fn wiring_err(e: WiringError) -> LinkError {
    LinkError(e.to_string())
}

impl LocalResources<'_> {
    fn env(&self, var: &str) -> Result<&str, LinkError> {
        self.decl
            .environment
            .get(var)
            .map(String::as_str)
            .ok_or_else(|| LinkError(format!("function {} has no {var} in its environment", self.decl.logical_id)))
    }
}

impl Resources for LocalResources<'_> {
    /// The table, behind the function's grants on it.
    fn table(&self, kind: TableKind) -> Result<Arc<dyn Table>, LinkError> {
        let name = self.env(kind.env)?;
        let table = self.wiring.table(name).map_err(wiring_err)?;
        let grant = self.decl.table_grants.get(name).cloned().unwrap_or_default();
        Ok(Arc::new(GrantedTable::new(table, &self.decl.logical_id, grant)))
    }

    fn topic(&self, arn_variable: &str) -> Result<Arc<dyn Topic>, LinkError> {
        self.wiring.topic(&name_from_arn(self.env(arn_variable)?)).map_err(wiring_err)
    }

    /// The mailbox, or the dealer `bnb-local up --alimtalk-endpoint` points at.
    fn dealer(&self) -> Result<Arc<dyn Dealer>, LinkError> {
        Ok(self.wiring.dealer.clone())
    }

    /// The local user pool, whatever pool id the function names.
    fn user_pools(&self) -> Result<Arc<dyn UserPools>, LinkError> {
        Ok(Arc::new(LocalPools(self.wiring.directory.clone())))
    }

    /// The consumer's DLQ, from the queue URL its environment names (`!Ref` of the queue).
    fn dead_letters(&self) -> Result<Arc<dyn DeadLetters>, LinkError> {
        let url = self.env(DEAD_LETTER_QUEUE_URL)?;
        let name = url.rsplit('/').next().unwrap_or_default();
        Ok(Arc::new(QueueDeadLetters(self.wiring.queue(name).map_err(wiring_err)?)))
    }

    /// The provider `bnb-local up --toss-endpoint` points at (the sandbox needs none).
    fn payment_provider(&self, kind: ProviderKind) -> Result<Arc<dyn PaymentProvider>, LinkError> {
        match &self.wiring.payment_provider {
            Some(provider) if provider.kind() == kind => Ok(provider.clone()),
            _ => Err(LinkError(format!(
                "function {} takes payments with {}: run `bnb-local up --toss-endpoint URL` (with BNB_TOSS_SECRET_KEY in the environment), or leave PaymentProvider as sandbox",
                self.decl.logical_id,
                kind.as_str()
            ))),
        }
    }

    /// The payment function, linked here and called on its own task (as Lambda `Invoke` would).
    fn payments(&self) -> Result<Arc<dyn Invoker>, LinkError> {
        let target = self.env(PAYMENT_FUNCTION_NAME)?;
        let payment_decl = self
            .topology
            .functions
            .iter()
            .find(|f| local_name(&f.logical_id, "AWS::Serverless::Function") == target)
            .ok_or_else(|| LinkError(format!("function {}: {PAYMENT_FUNCTION_NAME} names {target}, which is not in the template", self.decl.logical_id)))?;
        match link(payment_decl, self.topology, self.wiring).map_err(wiring_err)? {
            Handler::Invoke(payment) => {
                let invoker = InProcessInvoker::new(payment);
                // Its reserved concurrency, as Lambda would apply it: a call beyond it is throttled.
                Ok(Arc::new(match self.wiring.executions.get(&payment_decl.logical_id) {
                    Some(executions) => invoker.with_reserved_concurrency(executions.clone()),
                    None => invoker,
                }))
            }
            _ => Err(LinkError(format!("function {} is not one that can be invoked", payment_decl.logical_id))),
        }
    }

    fn clock(&self) -> SharedClock {
        self.wiring.clock.clone()
    }

    fn var(&self, name: &str) -> Option<String> {
        self.decl.environment.get(name).cloned()
    }
}

/// Every pool is the one local user pool.
struct LocalPools(bnb_embedded::EmbeddedDirectory);

impl UserPools for LocalPools {
    fn pool(&self, _user_pool_id: &str) -> Arc<dyn UserDirectory> {
        Arc::new(self.0.clone())
    }
}

/// Builds the function `decl` names from its declaration, handing it what its environment points
/// at; it may ask only for what it declared.
pub fn link(decl: &FunctionDecl, topology: &Topology, wiring: &Wiring) -> Result<Handler, WiringError> {
    let function = find(&decl.binary)
        .ok_or_else(|| format!("function {} (binary {}) is in template.yaml but bnb-local does not link it", decl.logical_id, decl.binary))?;
    let resources = LocalResources { decl, topology, wiring };
    Ok((function.link)(&Declared { function, inner: &resources })?)
}
