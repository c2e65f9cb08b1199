//! The notification context: every status change a person cares about becomes one message per
//! recipient — stored (what `GET /me/notifications` shows), sent as SMS when the person gave a
//! phone number, and published to the `alerts` topic for the KakaoTalk gateway.

mod handler;
mod profile;
mod templates;

pub use handler::NotificationHandler;
pub use profile::{my_notifications, update_profile, Profile, ProfileRequest};
pub use templates::{render, Message};

/// The variable that holds the `alerts` topic's ARN (`template.yaml` sets it).
pub const ALERTS_TOPIC_ARN: &str = "ALERTS_TOPIC_ARN";
