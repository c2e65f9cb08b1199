//! The local KakaoTalk dealer: a mailbox on the store's SQLite file. `bnb-local` sends every
//! AlimTalk here instead of to a real dealer, so a whole system runs with no network and
//! `bnb-local messages` shows what each phone would have received.
//!
//! It keeps the dealer's rules that bnb depends on: a message must be one of the approved
//! templates with its text matching (else it is refused, as Kakao refuses it: -3003, -3010); the
//! same reference twice is one message; and it decides who is on KakaoTalk the one way a local
//! system can: Korean mobile numbers (`+8210…`) are, and get the AlimTalk; any other number
//! gets the fallback SMS or LMS, as the dealer's fallback (대체발송) would send it.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use crate::store::EmbeddedStore;
use bnb_contexts::notifications::templates::catalog;
use bnb_contexts::notifications::{AlimTalk, Dealer, DealerError, Delivery, Receipt, TextKind};
use bnb_contexts::storage::StorageError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mailbox (
    reference TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, phone_number TEXT NOT NULL,
    template_code TEXT NOT NULL, channel TEXT NOT NULL, text TEXT NOT NULL, sent_at INTEGER NOT NULL
);
";

/// One message a phone received, locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub sent_at_ms: i64,
    /// `ALIMTALK`, `SMS` or `LMS`.
    pub channel: String,
    pub phone_number: String,
    pub template_code: String,
    pub text: String,
    pub reference: String,
}

fn unavailable(e: StorageError) -> DealerError {
    DealerError::Unavailable(e.to_string())
}

fn sql(e: rusqlite::Error) -> StorageError {
    StorageError::Unavailable(format!("sqlite: {e}"))
}

#[derive(Clone)]
pub struct EmbeddedMailbox {
    store: EmbeddedStore,
}

impl EmbeddedMailbox {
    pub async fn open(store: EmbeddedStore) -> Result<EmbeddedMailbox, StorageError> {
        store.with_conn(|conn| conn.execute_batch(SCHEMA).map_err(sql)).await?;
        Ok(EmbeddedMailbox { store })
    }

    /// Every message received, oldest first.
    pub async fn messages(&self) -> Result<Vec<Mail>, StorageError> {
        self.store
            .with_reader_as("mailbox list", |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT sent_at, channel, phone_number, template_code, text, reference FROM mailbox ORDER BY sent_at, rowid")
                    .map_err(sql)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(Mail {
                            sent_at_ms: r.get(0)?,
                            channel: r.get(1)?,
                            phone_number: r.get(2)?,
                            template_code: r.get(3)?,
                            text: r.get(4)?,
                            reference: r.get(5)?,
                        })
                    })
                    .map_err(sql)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql)
            })
            .await
    }
}

/// Whether a local number is on KakaoTalk: Korean mobile numbers are.
pub fn on_kakaotalk(phone_number: &str) -> bool {
    phone_number.starts_with("+8210")
}

#[async_trait]
impl Dealer for EmbeddedMailbox {
    async fn send(&self, message: &AlimTalk) -> Result<Receipt, DealerError> {
        let Some(template) = catalog().iter().find(|t| t.code == message.template_code) else {
            return Err(DealerError::Refused { code: "-3003".into(), reason: format!("no approved template {}", message.template_code) });
        };
        if !template.matches(&message.text) {
            return Err(DealerError::Refused { code: "-3010".into(), reason: format!("the text does not match template {}", template.code) });
        }
        let (channel, text) = match (on_kakaotalk(&message.phone_number), message.fallback.kind) {
            (true, _) => ("ALIMTALK", message.text.clone()),
            (false, TextKind::Sms) => ("SMS", message.fallback.text.clone()),
            (false, TextKind::Lms) => ("LMS", message.fallback.text.clone()),
        };
        let m = message.clone();
        self.store
            .with_conn_as("mailbox send", move |conn| {
                let request_id = uuid::Uuid::now_v7().simple().to_string();
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
                // The same reference again is the same message (the dealer's idempotency key).
                conn.execute(
                    "INSERT INTO mailbox (reference, request_id, phone_number, template_code, channel, text, sent_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (reference) DO NOTHING",
                    params![m.reference, request_id, m.phone_number, m.template_code, channel, text, now],
                )
                .map_err(sql)?;
                let request_id: String =
                    conn.query_row("SELECT request_id FROM mailbox WHERE reference = ?1", params![m.reference], |r| r.get(0)).map_err(sql)?;
                Ok(Receipt { request_id, message_id: "1".into() })
            })
            .await
            .map_err(unavailable)
    }

    async fn delivery(&self, receipt: &Receipt) -> Result<Delivery, DealerError> {
        let request_id = receipt.request_id.clone();
        let channel: Option<String> = self
            .store
            .with_reader_as("mailbox delivery", move |conn| {
                conn.query_row("SELECT channel FROM mailbox WHERE request_id = ?1", params![request_id], |r| r.get(0)).optional().map_err(sql)
            })
            .await
            .map_err(unavailable)?;
        match channel.as_deref() {
            Some("ALIMTALK") => Ok(Delivery::Delivered),
            // What NHN reports for a person who is not on KakaoTalk and got the SMS instead.
            Some(_) => Ok(Delivery::FellBackToSms { code: "3019".into() }),
            None => Err(DealerError::Refused { code: "-1016".into(), reason: format!("no message {}", receipt.request_id) }),
        }
    }
}
