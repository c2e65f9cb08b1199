//! The notification handler. One notification per (event, recipient), however often the event
//! comes: the stored items are written in the transaction that records the event as processed.
//! After that commit (and again on a redelivery, for what is not yet marked alerted) each
//! notification is published to the `alerts` topic, where the `alimtalk-sender` takes it to the
//! person's phone. Publishing twice is harmless: the sender sends once per notification id.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::profile::load_profile;
use super::templates::{render, Facts};
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::notification::{DeliveryState, Locale};
use crate::domain::EventId;
use crate::events::{Envelope, Event, EventType};
use crate::messaging::{Attributes, Topic};
use crate::storage::{to_item, Condition, Key, Table, Update, WriteOp};

pub struct NotificationHandler {
    table: Arc<dyn Table>,
    alerts: Arc<dyn Topic>,
}

impl NotificationHandler {
    pub const NAME: &'static str = "notification-handler";

    pub fn new(table: Arc<dyn Table>, alerts: Arc<dyn Topic>) -> Self {
        NotificationHandler { table, alerts }
    }
}

/// What the `alerts` topic carries to the AlimTalk sender: which notification, for whom, and the
/// values of its template's variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub notification_id: String,
    /// The user it is for (their profile has the phone number).
    pub recipient: String,
    /// The notification's sort key (its partition is the recipient's).
    pub notification_sk: String,
    pub template: String,
    pub locale: Locale,
    pub parameters: BTreeMap<String, String>,
}

impl Alert {
    pub fn notification_key(&self) -> Key {
        Key::new(format!("USER#{}", self.recipient), self.notification_sk.clone())
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
    /// The approved AlimTalk template's code.
    #[serde(default)]
    pub code: String,
    /// The values of its variables.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub delivery: DeliveryState,
    /// Whether the `alerts` topic has it.
    #[serde(default)]
    pub alerted: bool,
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
                code: message.code,
                parameters: message.parameters,
                created_at: event.occurred_at,
                delivery: DeliveryState::Pending,
                alerted: false,
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
            let stored: NotificationItem = crate::storage::from_item(&stored)?;
            if stored.alerted {
                continue;
            }
            let alert = Alert {
                notification_id: stored.notification_id.clone(),
                recipient: recipient.clone(),
                notification_sk: key.sk.clone(),
                template: template.to_owned(),
                locale: stored.locale,
                parameters: stored.parameters.clone(),
            };
            let body = serde_json::to_string(&alert).map_err(|e| ConsumerError::Rejected(e.to_string()))?;
            let attributes = Attributes::from([
                ("channel".to_string(), "kakao".to_string()),
                ("template".to_string(), template.to_string()),
                ("recipient".to_string(), recipient.clone()),
                ("notificationId".to_string(), stored.notification_id.clone()),
            ]);
            self.alerts.publish(&body, &attributes).await.map_err(transient)?;
            self.table.write(vec![Update::new(key.clone()).set("alerted", true).when(Condition::Exists).into_op()]).await?;
            tracing::info!(recipient = %recipient, template, "notification published to alerts");
        }
        Ok(())
    }
}
