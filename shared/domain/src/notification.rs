//! The notification context's domain.

use serde::{Deserialize, Serialize};

/// The language a person reads their messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Locale {
    #[default]
    #[serde(rename = "ko")]
    Korean,
    #[serde(rename = "en")]
    English,
}

/// Where a notification's message is on its way to the person's phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// Stored; not yet handed to the KakaoTalk dealer.
    Pending,
    /// A sender is handing it to the dealer now (under a lease).
    Sending,
    /// The dealer took it; its result is not known yet.
    Accepted,
    /// The AlimTalk arrived. (`SENT`: what bnb recorded before it had delivery results.)
    #[serde(alias = "SENT")]
    Delivered,
    /// The person is not on KakaoTalk (or blocks AlimTalk): the dealer sent an SMS/LMS instead.
    FellBackToSms,
    /// Nothing reached the phone (the reason is kept with it).
    Failed,
    /// No phone number on the person's profile: shown in the app only.
    InAppOnly,
}

impl DeliveryState {
    /// Whether the state is where the message stays.
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryState::Delivered | DeliveryState::FellBackToSms | DeliveryState::Failed | DeliveryState::InAppOnly)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "PENDING",
            DeliveryState::Sending => "SENDING",
            DeliveryState::Accepted => "ACCEPTED",
            DeliveryState::Delivered => "DELIVERED",
            DeliveryState::FellBackToSms => "FELL_BACK_TO_SMS",
            DeliveryState::Failed => "FAILED",
            DeliveryState::InAppOnly => "IN_APP_ONLY",
        }
    }
}
