//! The notification handler. One notification per (event, recipient), however often the event
//! comes: the stored items are written in the transaction that records the event as processed.
//! Sending happens after that commit (and again on a redelivery, for what is not yet marked
//! sent), so a crash never loses a message. SNS has no idempotency key for SMS, so a crash
//! between a send and its mark can repeat that one SMS: at least once, never lost. Two
//! deliveries of one event at once (a queue redelivers while the first is still at work) do not
//! both send: each sending is claimed for a lease first. The alert
//! carries `notificationId`, which a KakaoTalk sender passes on as the dealer's idempotency key.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::profile::load_profile;
use super::templates::{render, Facts};
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::notification::Locale;
use crate::domain::EventId;
use crate::events::{Envelope, Event, EventType};
use crate::messaging::{Attributes, Sms, Topic};
use crate::storage::{to_item, Condition, Key, Table, Update, WriteOp};

/// How long a delivery may take to send a notification before another may try: longer than the
/// function's timeout (10 s), so a live sender is never overtaken; shorter than its queue's
/// visibility timeout (60 s), so the redelivery that follows a crash finds the claim run out.
pub const SEND_LEASE_SECONDS: i64 = 30;

pub struct NotificationHandler {
    table: Arc<dyn Table>,
    sms: Arc<dyn Sms>,
    alerts: Arc<dyn Topic>,
    kakao_codes: BTreeMap<String, String>,
    clock: crate::clock::SharedClock,
}

impl NotificationHandler {
    pub const NAME: &'static str = "notification-handler";

    pub fn new(table: Arc<dyn Table>, sms: Arc<dyn Sms>, alerts: Arc<dyn Topic>, clock: crate::clock::SharedClock) -> Self {
        NotificationHandler { table, sms, alerts, kakao_codes: BTreeMap::new(), clock }
    }

    /// bnb template → KakaoTalk template code, from `name=code,name=code` (`KAKAO_TEMPLATE_CODES`).
    pub fn with_kakao_codes(mut self, pairs: &str) -> Self {
        self.kakao_codes = pairs
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, code)| (name.trim().to_owned(), code.trim().to_owned()))
            .filter(|(name, code)| !name.is_empty() && !code.is_empty())
            .collect();
        self
    }
}

/// One stored notification: what `GET /me/notifications` shows, and whether it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub notification_id: String,
    pub event_id: EventId,
    pub event_type: EventType,
    pub aggregate_id: String,
    pub template: String,
    pub locale: Locale,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `PENDING` until sent.
    pub delivery: String,
}

/// Who hears of an event, with which template.
fn recipients(event: &Envelope) -> Vec<(String, &'static str)> {
    let list = match &event.event {
        Event::ReservationConfirmed(e) => {
            vec![(e.reservation.guest_id.to_string(), "reservation-confirmed"), (e.reservation.host_id.to_string(), "new-booking")]
        }
        Event::ReservationCancelled(e) => {
            vec![(e.reservation.guest_id.to_string(), "reservation-cancelled"), (e.reservation.host_id.to_string(), "booking-cancelled")]
        }
        Event::PaymentRefunded(p) => p.guest_id.iter().map(|g| (g.to_string(), "payment-refunded")).collect(),
        Event::ReservationAborted(e) => vec![(e.guest_id.to_string(), "booking-aborted")],
        Event::RoomDeleted(room) => vec![(room.host_id.clone(), "room-deleted")],
        Event::ReviewWritten(w) => vec![(w.host_id.to_string(), "new-review")],
        _ => vec![],
    };
    list.into_iter().filter(|(user, _)| !user.is_empty()).collect()
}

fn notification_key(event: &Envelope, recipient: &str) -> Key {
    Key::new(format!("USER#{recipient}"), format!("NOTIF#{:012}#{}", event.occurred_at.unix_timestamp(), event.event_id))
}

fn transient(e: impl std::fmt::Display) -> ConsumerError {
    ConsumerError::Transient(e.to_string())
}

#[async_trait]
impl Consumer for NotificationHandler {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    async fn apply(&self, event: &Envelope) -> Result<Vec<WriteOp>, ConsumerError> {
        let mut ops = Vec::new();
        for (recipient, template) in recipients(event) {
            let key = notification_key(event, &recipient);
            if self.table.get(&key).await?.is_some() {
                continue;
            }
            let profile = load_profile(self.table.as_ref(), &recipient).await?;
            let message = render(template, profile.locale, &Facts::of(&event.event));
            let item = NotificationItem {
                pk: key.pk,
                sk: key.sk,
                kind: "notification".into(),
                notification_id: format!("{}:{recipient}", event.event_id),
                event_id: event.event_id.clone(),
                event_type: event.event_type(),
                aggregate_id: event.aggregate_id.clone(),
                template: template.into(),
                locale: profile.locale,
                text: message.text,
                created_at: event.occurred_at,
                delivery: "PENDING".into(),
            };
            ops.push(WriteOp::put_if(to_item(&item)?, Condition::NotExists));
        }
        Ok(ops)
    }

    async fn after_commit(&self, event: &Envelope) -> Result<(), ConsumerError> {
        for (recipient, template) in recipients(event) {
            let key = notification_key(event, &recipient);
            let Some(stored) = self.table.get(&key).await? else {
                continue;
            };
            if stored.get("delivery").and_then(Value::as_str) == Some("SENT") {
                continue;
            }
            // Claim the sending for a lease first: two deliveries of the event at once (a
            // redelivery while the first is still at work) must not both send. The one that loses
            // fails, to come back after its visibility timeout and find the notification SENT, or
            // (the sender died) the lease run out and the sending its own.
            let now = self.clock.now_utc().unix_timestamp();
            let claim = Update::new(key.clone()).set("delivery", "SENDING").set("claimedUntil", now + SEND_LEASE_SECONDS).when(Condition::And(vec![
                Condition::NotEquals("delivery".into(), Value::from("SENT")),
                Condition::Or(vec![Condition::AttributeNotExists("claimedUntil".into()), Condition::LessThan("claimedUntil".into(), Value::from(now))]),
            ]));
            match self.table.write(vec![claim.into_op()]).await {
                Ok(()) => {}
                Err(crate::storage::StorageError::ConditionFailed { .. }) => {
                    return Err(ConsumerError::Transient(format!("notification {} is being sent by another delivery of its event", recipient)));
                }
                Err(e) => return Err(e.into()),
            }
            let claimed_until = now + SEND_LEASE_SECONDS;
            let sent = async {
                let text = stored.get("text").and_then(Value::as_str).unwrap_or_default();
                let profile = load_profile(self.table.as_ref(), &recipient).await?;
                if let Some(phone) = &profile.phone_number {
                    self.sms.send_sms(phone, text).await.map_err(transient)?;
                }
                let mut attributes = Attributes::from([
                    ("channel".to_string(), "kakao".to_string()),
                    ("template".to_string(), template.to_string()),
                    ("recipient".to_string(), recipient.clone()),
                    ("notificationId".to_string(), format!("{}:{recipient}", event.event_id)),
                    ("locale".to_string(), serde_json::to_value(profile.locale).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()),
                ]);
                if let Some(code) = self.kakao_codes.get(template) {
                    attributes.insert("kakaoTemplateCode".into(), code.clone());
                }
                self.alerts.publish(text, &attributes).await.map_err(transient)?;
                self.table.write(vec![Update::new(key.clone()).set("delivery", "SENT").when(Condition::Exists).into_op()]).await?;
                Ok::<bool, ConsumerError>(profile.phone_number.is_some())
            }
            .await;
            let sms = match sent {
                Ok(sms) => sms,
                Err(e) => {
                    // Give the claim back at once, so the next delivery need not wait out the
                    // lease (a short visibility timeout could otherwise spend every receive on it).
                    let release =
                        Update::new(key.clone()).set("delivery", "PENDING").remove("claimedUntil").when(Condition::equals("claimedUntil", claimed_until));
                    if let Err(release_error) = self.table.write(vec![release.into_op()]).await {
                        tracing::warn!(recipient = %recipient, error = %release_error, "could not give the send claim back; it runs out with its lease");
                    }
                    return Err(e);
                }
            };
            tracing::info!(recipient = %recipient, template, sms, "notification sent");
        }
        Ok(())
    }
}
