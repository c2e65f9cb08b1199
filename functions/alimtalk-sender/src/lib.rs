//! `alimtalk-sender`: takes each notification on the `alerts` topic (its own queue, raw delivery)
//! to the person's phone as a KakaoTalk AlimTalk through the dealer, once; the dealer sends an
//! SMS or LMS instead to a person who is not on KakaoTalk. A dealer that is unavailable is tried
//! again (with backoff, then by the queue); a message it refuses goes to the DLQ with the reason.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb_contexts::consumer::{DeadLetters, Outcome};
use bnb_contexts::notifications::alimtalk::decode_alert;
use bnb_contexts::notifications::{AlimTalkSender, Sent};
use bnb_contexts::tables::NOTIFICATIONS;
use bnb_lambda::sqs::for_each_message;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use tracing::Instrument;

pub const NAME: &str = AlimTalkSender::NAME;

/// `alimtalk-sender`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Sqs, needs: &[Need::Table(NOTIFICATIONS), Need::Dealer, Need::DeadLetters], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let sender = Arc::new(AlimTalkSender::new(r.table(NOTIFICATIONS)?, r.dealer()?, r.clock()));
    let dead_letters = r.dead_letters()?;
    Ok(Handler::sqs(move |event| {
        let (sender, dead_letters) = (sender.clone(), dead_letters.clone());
        async move { handle(&sender, dead_letters.as_ref(), event).await }
    }))
}

pub async fn handle(sender: &AlimTalkSender, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    for_each_message(NAME, dead_letters, event, |message| async move {
        let id = message.message_id.clone().unwrap_or_default();
        let receives = message.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
        let alert = match decode_alert(message.body.as_deref().unwrap_or_default()) {
            Ok(alert) => alert,
            Err(reason) => {
                tracing::error!(message_id = %id, %reason, "undecodable alert; dead-lettered");
                return Outcome::Rejected(reason);
            }
        };
        let span = tracing::info_span!("alert", function = NAME, correlation_id = %alert.notification_id, template = %alert.template);
        async {
            match sender.send(&alert, receives).await {
                Ok(Sent::AlreadyDone(state)) => {
                    tracing::info!(message_id = %id, state = state.as_str(), "already sent");
                    Outcome::Duplicate
                }
                Ok(sent) => {
                    tracing::info!(message_id = %id, outcome = ?sent, "alert handled");
                    Outcome::Applied
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(message_id = %id, error = %e, "alert failed; it will be retried");
                    Outcome::Failed(e.to_string())
                }
                Err(e) => Outcome::Rejected(e.to_string()),
            }
        }
        .instrument(span)
        .await
    })
    .await
}
