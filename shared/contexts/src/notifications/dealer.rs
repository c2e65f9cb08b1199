//! The port to a KakaoTalk dealer: the business messaging company that sends AlimTalk for bnb
//! (NHN Cloud KakaoTalk Bizmessage first; Naver Cloud SENS fits the same shape) and, when a
//! person cannot get it, sends their phone an SMS or LMS instead (the dealer's fallback, 대체발송).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A Korean SMS holds 90 bytes of EUC-KR (45 Hangul or 90 Latin characters); a longer text goes
/// as LMS, up to 2,000 bytes with a 40-byte title (NHN Cloud SMS API guide, "Caution").
pub const SMS_MAX_BYTES: usize = 90;
pub const LMS_MAX_BYTES: usize = 2000;
pub const LMS_TITLE: &str = "[bnb]";

/// Where a function finds its dealer: the variables `template.yaml` sets.
pub const ALIMTALK_ENDPOINT: &str = "ALIMTALK_ENDPOINT";
pub const ALIMTALK_APP_KEY: &str = "ALIMTALK_APP_KEY";
pub const ALIMTALK_SENDER_KEY: &str = "ALIMTALK_SENDER_KEY";
pub const ALIMTALK_FALLBACK_SEND_NO: &str = "ALIMTALK_FALLBACK_SEND_NO";
/// The name of the SSM SecureString parameter that holds the dealer's secret key (never the key).
pub const ALIMTALK_SECRET_KEY_PARAMETER: &str = "ALIMTALK_SECRET_KEY_PARAMETER";

/// How to reach the dealer, from the function's environment. The secret key is not here: only
/// the name of the parameter that keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealerSettings {
    pub endpoint: String,
    pub app_key: String,
    pub sender_key: String,
    pub fallback_send_no: String,
    pub secret_key_parameter: String,
}

/// One AlimTalk to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlimTalk {
    /// bnb's own reference (the notification id): the dealer's idempotency key and grouping key,
    /// so a retry is recognised as the same message.
    pub reference: String,
    /// The approved template's code.
    pub template_code: String,
    /// The phone number, E.164 (`+821012345678`).
    pub phone_number: String,
    /// The template's variables (NHN fills them in itself).
    pub parameters: BTreeMap<String, String>,
    /// The filled text (SENS wants the text itself; the fallback SMS says the same).
    pub text: String,
    /// What the dealer sends instead when the AlimTalk cannot be delivered.
    pub fallback: Fallback,
    /// A call with this reference was made before and its outcome is unknown (it timed out, or
    /// the sender crashed): the adapter looks for that message before it sends, since the
    /// dealer's idempotency key only holds for a while (NHN: 10 minutes).
    pub maybe_sent_before: bool,
}

/// The SMS (or LMS) the dealer sends when the AlimTalk does not arrive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fallback {
    pub kind: TextKind,
    /// An LMS's title.
    pub title: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TextKind {
    Sms,
    Lms,
}

/// Bytes of `text` in EUC-KR: one for ASCII, two for Hangul and every other character.
pub fn euc_kr_bytes(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

impl Fallback {
    /// The fallback for `text` to `phone_number`: to a Korean number an SMS or an LMS; to any
    /// other an SMS, cut to fit (NHN Cloud's guide: "international recipients must use
    /// resendType SMS").
    pub fn for_phone(phone_number: &str, text: &str) -> Fallback {
        if phone_number.starts_with("+82") {
            return Fallback::for_text(text);
        }
        Fallback { kind: TextKind::Sms, title: None, text: cut_to_bytes(text, SMS_MAX_BYTES) }
    }

    /// The fallback for `text`: an SMS when it fits in one, else an LMS (cut to its limit).
    pub fn for_text(text: &str) -> Fallback {
        if euc_kr_bytes(text) <= SMS_MAX_BYTES {
            return Fallback { kind: TextKind::Sms, title: None, text: text.to_owned() };
        }
        Fallback { kind: TextKind::Lms, title: Some(LMS_TITLE.to_owned()), text: cut_to_bytes(text, LMS_MAX_BYTES) }
    }
}

/// `text`, cut to at most `limit` bytes of EUC-KR.
fn cut_to_bytes(text: &str, limit: usize) -> String {
    let mut cut = String::new();
    let mut bytes = 0;
    for c in text.chars() {
        bytes += if c.is_ascii() { 1 } else { 2 };
        if bytes > limit {
            break;
        }
        cut.push(c);
    }
    cut
}

/// The dealer took the message: where to ask what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// NHN's `requestId`; SENS's `requestId`.
    pub request_id: String,
    /// NHN's `recipientSeq`; SENS's `messageId`.
    pub message_id: String,
}

/// What became of a message the dealer took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Not known yet (still in flight, or the fallback is under way).
    Pending,
    /// The AlimTalk arrived.
    Delivered,
    /// It could not (not a KakaoTalk user, AlimTalk blocked, ...) and the SMS/LMS went instead.
    FellBackToSms { code: String },
    /// Neither arrived.
    Failed { code: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DealerError {
    /// Worth trying again later: a 5xx, a 429, a timeout, a connection that failed.
    #[error("the dealer is unavailable: {0}")]
    Unavailable(String),
    /// It will never be taken as it is: an unknown or unapproved template, a text that does not
    /// match it, a field the dealer refuses, credentials it does not accept.
    #[error("the dealer refused the message ({code}): {reason}")]
    Refused { code: String, reason: String },
    /// No dealer is set up (a stack deployed without its keys): nothing can be sent.
    #[error("no KakaoTalk dealer is configured")]
    NotConfigured,
}

/// The dealer of a stack deployed without a dealer's keys: it sends nothing, and says so.
pub struct NoDealer;

#[async_trait]
impl Dealer for NoDealer {
    async fn send(&self, _message: &AlimTalk) -> Result<Receipt, DealerError> {
        Err(DealerError::NotConfigured)
    }

    async fn delivery(&self, _receipt: &Receipt) -> Result<Delivery, DealerError> {
        Err(DealerError::NotConfigured)
    }
}

#[async_trait]
pub trait Dealer: Send + Sync {
    /// Hands one AlimTalk to the dealer. Sending the same `reference` again (a retry after a
    /// timeout or a crash) must not send a second message: the adapter answers the first one's
    /// receipt.
    async fn send(&self, message: &AlimTalk) -> Result<Receipt, DealerError>;

    /// What became of a message it took.
    async fn delivery(&self, receipt: &Receipt) -> Result<Delivery, DealerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_go_as_lms() {
        assert_eq!(euc_kr_bytes("[bnb] 환불"), 10);
        let short = Fallback::for_text("[bnb] 120000 KRW 환불되었습니다.");
        assert_eq!(short.kind, TextKind::Sms);
        let long = Fallback::for_text(&"가".repeat(46));
        assert_eq!((long.kind, long.title.as_deref()), (TextKind::Lms, Some(LMS_TITLE)));
        assert_eq!(Fallback::for_text(&"가".repeat(1500)).text.chars().count(), 1000);
        // Abroad, always an SMS, cut to one.
        let abroad = Fallback::for_phone("+14155550100", &"a".repeat(200));
        assert_eq!((abroad.kind, abroad.text.len()), (TextKind::Sms, 90));
        assert_eq!(Fallback::for_phone("+821012345678", &"a".repeat(200)).kind, TextKind::Lms);
    }
}
