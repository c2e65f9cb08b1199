//! The notification context's domain.

use serde::{Deserialize, Serialize};

use super::{EventId, NotificationId, UserId};

/// The language a person reads their messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Locale {
    #[default]
    #[serde(rename = "ko")]
    Korean,
    #[serde(rename = "en")]
    English,
}

/// One message to one person about one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub notification_id: NotificationId,
    pub recipient: UserId,
    /// With `recipient`, what makes a notification unique: one per (event, recipient).
    pub event_id: EventId,
    pub template: String,
    pub locale: Locale,
    pub text: String,
}
