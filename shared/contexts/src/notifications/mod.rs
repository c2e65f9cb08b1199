//! The notification context: every status change a person cares about becomes one message per
//! recipient — stored (what `GET /me/notifications` shows, with its delivery state), published to
//! the `alerts` topic, and taken to the person's phone as a KakaoTalk AlimTalk (an SMS when they
//! are not on KakaoTalk) by the `alimtalk-sender` through a dealer's API.

pub mod alimtalk;
pub mod dealer;
mod handler;
mod profile;
pub mod templates;

pub use alimtalk::{check_deliveries, AlimTalkSender, Backoff, Checked, Sent};
pub use dealer::{AlimTalk, Dealer, DealerError, Delivery, Fallback, Receipt, TextKind};
pub use handler::{Alert, NotificationHandler, NotificationItem};
pub use profile::{my_notifications, my_profile, update_profile, Profile, ProfileRequest};
pub use templates::{render, Message};

/// The variable that holds the `alerts` topic's ARN (`template.yaml` sets it).
pub const ALERTS_TOPIC_ARN: &str = "ALERTS_TOPIC_ARN";
