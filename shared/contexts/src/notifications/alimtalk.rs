//! Taking notifications to people's phones: the AlimTalk sender hands each alert to the dealer
//! once, and the delivery check asks the dealer what became of what it took.
//!
//! Exactly once, through crashes and redeliveries: a sender first claims the notification for a
//! lease (`SENDING`, conditional on it being `PENDING` or its lease run out), then calls the
//! dealer with the notification id as the idempotency key, then records `ACCEPTED` with the
//! dealer's receipt and, in the same transaction, an entry in the check queue. A crash after the
//! call and before the record leaves the lease to run out; the redelivery calls again with the
//! same key, and the dealer adapter answers the first call's receipt instead of sending twice.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dealer::{AlimTalk, Dealer, DealerError, Delivery, Fallback, Receipt};
use super::handler::Alert;
use super::profile::load_profile;
use super::templates::template;
use crate::clock::SharedClock;
use crate::consumer::ConsumerError;
use crate::domain::notification::DeliveryState;
use crate::storage::{from_item, to_item, Condition, Key, Query, SortKey, StorageError, Table, Update, WriteOp};

/// How long a sender may take to hand a message to the dealer before another may try: longer
/// than the function's timeout (20 s), shorter than its queue's visibility timeout (120 s), so the
/// redelivery that follows a crash finds the lease run out.
pub const SEND_LEASE_SECONDS: i64 = 30;
/// The sender queue's `maxReceiveCount`: the delivery that fails for the last time records the
/// notification `FAILED` (a redrive from the DLQ may take it up again).
pub const MAX_RECEIVES: u32 = 5;
/// How long one run of the delivery check may ask the dealer (its function's timeout is 60 s).
pub const CHECK_RUN_BUDGET: Duration = Duration::from_secs(30);
/// The partition of the check queue: one entry per message the dealer took, sorted by when to ask.
pub const CHECKS_PK: &str = "ALIMTALK#CHECK";
/// After this many checks without a result, the message is given up as failed (~1 day).
pub const MAX_CHECKS: u32 = 60;
/// Entries a delivery check reads per run: its cost is bounded, whatever is waiting.
pub const CHECKS_PER_RUN: usize = 50;

/// How a sender retries a dealer that is unavailable, within one delivery, before it leaves the
/// message to its queue's redelivery (and, in the end, its DLQ).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub first: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { attempts: 3, first: Duration::from_millis(200) }
    }
}

pub struct AlimTalkSender {
    table: Arc<dyn Table>,
    dealer: Arc<dyn Dealer>,
    clock: SharedClock,
    backoff: Backoff,
}

/// What the sender did with an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Accepted(Receipt),
    /// Nothing to do: it was sent (or settled) before.
    AlreadyDone(DeliveryState),
    /// The person has no phone number.
    InAppOnly,
}

/// An entry of the check queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckEntry {
    pub pk: String,
    pub sk: String,
    pub notification_pk: String,
    pub notification_sk: String,
    pub notification_id: String,
    pub request_id: String,
    pub message_id: String,
    pub checks: u32,
}

fn check_key(at: i64, notification_id: &str) -> Key {
    Key::new(CHECKS_PK, format!("{at:012}#{notification_id}"))
}

/// When to ask again after `checks` checks: 1, 2, 4, ... minutes, at most 30.
fn next_check_after(checks: u32) -> i64 {
    60 * (1i64 << checks.min(5)).min(30)
}

fn state_of(item: &crate::storage::Item) -> Option<DeliveryState> {
    item.get("delivery").cloned().and_then(|v| serde_json::from_value(v).ok())
}

impl AlimTalkSender {
    pub const NAME: &'static str = "alimtalk-sender";

    pub fn new(table: Arc<dyn Table>, dealer: Arc<dyn Dealer>, clock: SharedClock) -> Self {
        AlimTalkSender { table, dealer, clock, backoff: Backoff::default() }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Hands the alert's notification to the dealer, once; `receives` is how many times its queue
    /// has delivered it (this time included). A retryable error (the dealer is unavailable,
    /// another delivery holds the lease) is `Transient`, and on the last delivery also recorded
    /// `FAILED`; a message the dealer will never take is recorded `FAILED` and `Rejected`, for
    /// the DLQ with its reason.
    pub async fn send(&self, alert: &Alert, receives: u32) -> Result<Sent, ConsumerError> {
        let key = alert.notification_key();
        let stored = self.table.get(&key).await?.ok_or_else(|| ConsumerError::Rejected(format!("notification {} is not stored", alert.notification_id)))?;
        let now = self.clock.now_utc().unix_timestamp();
        let state = state_of(&stored).unwrap_or(DeliveryState::Pending);
        let lease_over = stored.get("claimedUntil").and_then(Value::as_i64).is_none_or(|until| until < now);
        // Given up after its last delivery: a redrive from the DLQ takes it up again.
        let given_up = stored.contains_key("gaveUpAt");
        match state {
            DeliveryState::Pending => {}
            DeliveryState::Sending if lease_over => {}
            DeliveryState::Failed if given_up => {}
            DeliveryState::Sending => {
                return Err(ConsumerError::Transient(format!("notification {} is being sent by another delivery", alert.notification_id)))
            }
            settled => return Ok(Sent::AlreadyDone(settled)),
        }
        // A call to the dealer was made before and its outcome is not known (a timeout, a crash):
        // the dealer is asked for that message before it is sent again.
        let maybe_sent_before = stored.get("attempts").and_then(Value::as_i64).unwrap_or(0) > 0;
        let claimable = Condition::Or(vec![
            Condition::equals("delivery", DeliveryState::Pending.as_str()),
            Condition::And(vec![Condition::equals("delivery", DeliveryState::Sending.as_str()), Condition::less_than("claimedUntil", now)]),
            Condition::And(vec![Condition::equals("delivery", DeliveryState::Failed.as_str()), Condition::AttributeExists("gaveUpAt".into())]),
        ]);
        let profile = load_profile(self.table.as_ref(), &alert.recipient).await?;
        let Some(phone_number) = profile.phone_number else {
            let settle = Update::new(key.clone()).set("delivery", DeliveryState::InAppOnly.as_str()).remove("claimedUntil").when(claimable);
            return match self.table.write(vec![settle.into_op()]).await {
                Ok(()) | Err(StorageError::ConditionFailed { .. }) => Ok(Sent::InAppOnly),
                Err(e) => Err(e.into()),
            };
        };
        let Some((code, text, parameters)) = template(&alert.template, alert.locale)
            .and_then(|t| t.fill(&alert.parameters).map(|text| (t.code.clone(), text, t.only_variables(&alert.parameters))))
        else {
            let reason = format!("no approved {:?} template {} fits the alert's variables", alert.locale, alert.template);
            self.fail(&key, claimable, "TEMPLATE", &reason).await?;
            return Err(ConsumerError::Rejected(reason));
        };
        let claimed_until = now + SEND_LEASE_SECONDS;
        let claim = Update::new(key.clone())
            .set("delivery", DeliveryState::Sending.as_str())
            .set("claimedUntil", claimed_until)
            .add("attempts", 1)
            .remove("gaveUpAt")
            .when(claimable);
        match self.table.write(vec![claim.into_op()]).await {
            Ok(()) => {}
            Err(StorageError::ConditionFailed { .. }) => {
                return Err(ConsumerError::Transient(format!("notification {} is being sent by another delivery", alert.notification_id)));
            }
            Err(e) => return Err(e.into()),
        }
        let message = AlimTalk {
            reference: alert.notification_id.clone(),
            template_code: code,
            fallback: Fallback::for_phone(&phone_number, &text),
            phone_number,
            parameters,
            text,
            maybe_sent_before,
        };
        match self.send_with_backoff(&message).await {
            Ok(receipt) => {
                self.accept(&key, alert, &receipt, claimed_until).await?;
                tracing::info!(notification_id = %alert.notification_id, template = %message.template_code, request_id = %receipt.request_id, "the dealer took the AlimTalk");
                Ok(Sent::Accepted(receipt))
            }
            Err(DealerError::Refused { code, reason }) => {
                // A metric (a CloudWatch metric filter counts these lines): a refused template
                // needs a person, not a retry.
                tracing::error!(metric = "AlimTalkRefused", notification_id = %alert.notification_id, template = %message.template_code, code = %code, reason = %reason, "the dealer refused the AlimTalk; dead-lettered");
                self.fail(&key, Condition::equals("claimedUntil", claimed_until), &code, &reason).await?;
                Err(ConsumerError::Rejected(format!("the dealer refused template {} ({code}): {reason}", message.template_code)))
            }
            Err(DealerError::NotConfigured) => {
                let in_app = Update::new(key.clone())
                    .set("delivery", DeliveryState::InAppOnly.as_str())
                    .set("failure", "no KakaoTalk dealer is configured")
                    .remove("claimedUntil")
                    .when(Condition::equals("claimedUntil", claimed_until));
                self.table.write(vec![in_app.into_op()]).await.or_else(ignore_race)?;
                Ok(Sent::InAppOnly)
            }
            Err(DealerError::Unavailable(reason)) if receives >= MAX_RECEIVES => {
                // The queue moves it to the DLQ after this delivery: the person sees it failed.
                let gave_up = Update::new(key.clone())
                    .set("delivery", DeliveryState::Failed.as_str())
                    .set(
                        "failure",
                        format!("the dealer was unavailable through {receives} tries ({}); it waits in the DLQ", reason.chars().take(120).collect::<String>()),
                    )
                    .set("gaveUpAt", now)
                    .remove("claimedUntil")
                    .when(Condition::equals("claimedUntil", claimed_until));
                self.table.write(vec![gave_up.into_op()]).await.or_else(ignore_race)?;
                tracing::error!(metric = "AlimTalkGaveUp", notification_id = %alert.notification_id, receives, reason = %reason, "the dealer stayed unavailable; the alert goes to the DLQ");
                Err(ConsumerError::Transient(format!("the dealer is unavailable: {reason}")))
            }
            Err(DealerError::Unavailable(reason)) => {
                // Give the lease back at once, so the redelivery need not wait it out.
                let release = Update::new(key.clone())
                    .set("delivery", DeliveryState::Pending.as_str())
                    .remove("claimedUntil")
                    .when(Condition::equals("claimedUntil", claimed_until));
                if let Err(e) = self.table.write(vec![release.into_op()]).await {
                    tracing::warn!(notification_id = %alert.notification_id, error = %e, "could not give the send lease back; it runs out by itself");
                }
                Err(ConsumerError::Transient(format!("the dealer is unavailable: {reason}")))
            }
        }
    }

    async fn send_with_backoff(&self, message: &AlimTalk) -> Result<Receipt, DealerError> {
        let mut wait = self.backoff.first;
        let mut attempt = 1;
        let mut message = message.clone();
        loop {
            match self.dealer.send(&message).await {
                Err(DealerError::Unavailable(reason)) if attempt < self.backoff.attempts => {
                    tracing::warn!(attempt, reason = %reason, wait_ms = wait.as_millis() as u64, "the dealer is unavailable; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                    attempt += 1;
                    // The call may have reached the dealer before it failed.
                    message.maybe_sent_before = true;
                }
                other => return other,
            }
        }
    }

    /// `ACCEPTED`, with the receipt, and the first check queued, in one transaction.
    async fn accept(&self, key: &Key, alert: &Alert, receipt: &Receipt, claimed_until: i64) -> Result<(), ConsumerError> {
        let now = self.clock.now_utc().unix_timestamp();
        let check_at = now + next_check_after(0);
        let entry = CheckEntry {
            pk: CHECKS_PK.into(),
            sk: check_key(check_at, &alert.notification_id).sk,
            notification_pk: key.pk.clone(),
            notification_sk: key.sk.clone(),
            notification_id: alert.notification_id.clone(),
            request_id: receipt.request_id.clone(),
            message_id: receipt.message_id.clone(),
            checks: 0,
        };
        let accepted = Update::new(key.clone())
            .set("delivery", DeliveryState::Accepted.as_str())
            .set("requestId", receipt.request_id.as_str())
            .set("messageId", receipt.message_id.as_str())
            .set("acceptedAt", now)
            .remove("claimedUntil")
            .when(Condition::equals("claimedUntil", claimed_until));
        match self.table.write(vec![accepted.into_op(), WriteOp::put(to_item(&entry)?)]).await {
            Ok(()) => Ok(()),
            // The lease ran out and another delivery took over: it sent with the same key, so
            // the dealer has one message, which that delivery records.
            Err(StorageError::ConditionFailed { .. }) => {
                tracing::warn!(notification_id = %alert.notification_id, "the send lease ran out before the receipt was recorded; the delivery that took over records it");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `FAILED` with the reason, under `condition` (the sender's own lease, or the states it may
    /// claim from: never over a state another delivery or the check wrote).
    async fn fail(&self, key: &Key, condition: Condition, code: &str, reason: &str) -> Result<(), ConsumerError> {
        let failed = Update::new(key.clone())
            .set("delivery", DeliveryState::Failed.as_str())
            .set("failure", format!("{code}: {}", reason.chars().take(200).collect::<String>()))
            .remove("claimedUntil")
            .when(condition);
        match self.table.write(vec![failed.into_op()]).await {
            Ok(()) | Err(StorageError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// What one run of the delivery check found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    pub delivered: u32,
    pub fell_back_to_sms: u32,
    pub failed: u32,
    pub still_pending: u32,
    /// The dealer could not answer (or did not know the message); these are asked again later.
    pub unavailable: u32,
}

/// Asks the dealer what became of the messages it took whose time to ask has come (at most
/// [`CHECKS_PER_RUN`]), and records each result on its notification, exactly once: the
/// notification's new state and the check's removal are one transaction, conditional on the
/// notification still being `ACCEPTED`.
pub async fn check_deliveries(table: &dyn Table, dealer: &dyn Dealer, clock: &SharedClock) -> Result<Checked, StorageError> {
    let now = clock.now_utc().unix_timestamp();
    let started = tokio::time::Instant::now();
    let due = Query::partition(CHECKS_PK).sort(SortKey::LessThan(format!("{:012}$", now))).limit(CHECKS_PER_RUN);
    let mut checked = Checked::default();
    for item in table.query(&due).await?.items {
        // Within the function's timeout, whatever the dealer's pace: the rest waits a minute.
        if started.elapsed() > CHECK_RUN_BUDGET {
            break;
        }
        let entry: CheckEntry = from_item(&item)?;
        let receipt = Receipt { request_id: entry.request_id.clone(), message_id: entry.message_id.clone() };
        // No answer, or the dealer does not know the message (yet): asked again later, like a
        // message with no result, so an entry the dealer never knows cannot hold up the others
        // and is given up after its last check.
        let (delivery, answered) = match dealer.delivery(&receipt).await {
            Ok(delivery) => (delivery, true),
            Err(e) => {
                tracing::warn!(notification_id = %entry.notification_id, error = %e, "the dealer could not say; asking again later");
                (Delivery::Pending, false)
            }
        };
        let entry_key = Key::new(entry.pk.clone(), entry.sk.clone());
        let notification = Key::new(entry.notification_pk.clone(), entry.notification_sk.clone());
        let settle = |state: DeliveryState, detail: Option<String>| {
            let mut update = Update::new(notification.clone()).set("delivery", state.as_str()).set("settledAt", now);
            if let Some(detail) = detail {
                update = update.set("failure", detail);
            }
            update.when(Condition::equals("delivery", DeliveryState::Accepted.as_str()))
        };
        let settled = match delivery {
            Delivery::Pending if entry.checks + 1 >= MAX_CHECKS => {
                checked.failed += 1;
                Some(settle(DeliveryState::Failed, Some("no result from the dealer".into())))
            }
            Delivery::Pending => {
                match answered {
                    true => checked.still_pending += 1,
                    false => checked.unavailable += 1,
                }
                let later = CheckEntry {
                    sk: check_key(now + next_check_after(entry.checks + 1), &entry.notification_id).sk,
                    checks: entry.checks + 1,
                    ..entry.clone()
                };
                table.write(vec![WriteOp::delete_if(entry_key.clone(), Condition::Exists), WriteOp::put(to_item(&later)?)]).await.or_else(ignore_race)?;
                None
            }
            Delivery::Delivered => {
                checked.delivered += 1;
                Some(settle(DeliveryState::Delivered, None))
            }
            Delivery::FellBackToSms { code } => {
                checked.fell_back_to_sms += 1;
                Some(settle(DeliveryState::FellBackToSms, Some(format!("AlimTalk {code}; sent by SMS"))))
            }
            Delivery::Failed { code, reason } => {
                checked.failed += 1;
                Some(settle(DeliveryState::Failed, Some(format!("{code}: {reason}"))))
            }
        };
        if let Some(update) = settled {
            match table.write(vec![update.into_op(), WriteOp::delete(entry_key.clone())]).await {
                Ok(()) => {}
                // Settled before (a run that crashed after its write): only the entry is left.
                Err(StorageError::ConditionFailed { .. }) => table.write(vec![WriteOp::delete(entry_key)]).await?,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(checked)
}

fn ignore_race(e: StorageError) -> Result<(), StorageError> {
    match e {
        StorageError::ConditionFailed { .. } => Ok(()),
        other => Err(other),
    }
}

/// The alert a message body carries.
pub fn decode_alert(body: &str) -> Result<Alert, String> {
    serde_json::from_str(body).map_err(|e| format!("not an alert: {e}"))
}
