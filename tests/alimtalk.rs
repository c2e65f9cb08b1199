//! KakaoTalk AlimTalk, end to end on one machine: the templates as Kakao approves them, the NHN
//! Cloud adapter over real HTTP against a server that keeps NHN's documented contract
//! (support/nhn.rs says which document each behaviour comes from), and the sender and delivery
//! check through crashes, retries, refusals and people who are not on KakaoTalk.

mod support;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use bnb_contexts::clock::{ManualClock, SharedClock};
use bnb_contexts::consumer::{ConsumerError, QueueDeadLetters, DEAD_LETTER_REASON};
use bnb_contexts::domain::notification::{DeliveryState, Locale};
use bnb_contexts::domain::Money;
use bnb_contexts::domain::{Actor, UserId};
use bnb_contexts::messaging::Queue;
use bnb_contexts::notifications::alimtalk::{CHECKS_PK, MAX_CHECKS};
use bnb_contexts::notifications::dealer::{euc_kr_bytes, LMS_MAX_BYTES};
use bnb_contexts::notifications::templates::{catalog, render, template, Facts, ALIMTALK_MAX_CHARS};
use bnb_contexts::notifications::{
    check_deliveries, update_profile, Alert, AlimTalk, AlimTalkSender, Backoff, Dealer, DealerError, Delivery, Fallback, NotificationItem, ProfileRequest,
    Sent, TextKind,
};
use bnb_contexts::secrets::{FixedSecret, Secret};
use bnb_contexts::storage::{from_item, to_item, Query, Table, WriteOp};
use bnb_nhn_bizmessage::{NhnBizmessage, NhnSettings};
use support::faults::{Fault, Process};
use support::nhn::{NhnServer, Scripted, APP_KEY, SECRET_KEY, SENDER_KEY, SEND_NO};

/// Every message a person can be sent, by name (the notification handler's recipients).
const MESSAGES: [&str; 8] =
    ["reservation-confirmed", "new-booking", "reservation-cancelled", "booking-cancelled", "payment-refunded", "booking-aborted", "room-deleted", "new-review"];

#[test]
fn every_message_is_an_approved_template_in_both_languages_within_alimtalk_limits() {
    let codes: Vec<&str> = catalog().iter().map(|t| t.code.as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = codes.iter().copied().collect();
    assert_eq!(unique.len(), codes.len(), "a template code is used twice");
    assert!(codes.iter().all(|c| (1..=20).contains(&c.chars().count())), "NHN takes template codes of at most 20 characters: {codes:?}");
    // The longest values a message can carry: a title at its limit, a review far over the quote.
    let longest = Facts {
        room_title: "한".repeat(bnb_contexts::domain::room::MAX_TITLE),
        check_in: "2030-12-24".into(),
        check_out: "2030-12-26".into(),
        amount: Some(Money::new(999_999_999, "KRW").unwrap()),
        rating: 5,
        text: "좋".repeat(5000),
    };
    let plain = Facts {
        room_title: "Hanok".into(),
        check_in: "2030-12-24".into(),
        check_out: "2030-12-26".into(),
        amount: Some(Money::new(240000, "KRW").unwrap()),
        rating: 4,
        text: "Lovely".into(),
    };
    for name in MESSAGES {
        for locale in [Locale::Korean, Locale::English] {
            let t = template(name, locale).unwrap_or_else(|| panic!("no approved {locale:?} template for {name}"));
            assert!(t.text.contains("[bnb]"), "{}: every message says who it is from", t.code);
            for facts in [&longest, &plain] {
                let m = render(name, locale, facts);
                assert_eq!(m.code, t.code);
                assert!(t.matches(&m.text), "{}: the rendered text does not match its approved template: {}", t.code, m.text);
                assert_eq!(t.fill(&m.parameters).as_deref(), Some(m.text.as_str()), "{}: the dealer fills the same text from the parameters", t.code);
                assert!(m.text.chars().count() <= ALIMTALK_MAX_CHARS, "{}: {} characters", t.code, m.text.chars().count());
                let fallback = Fallback::for_text(&m.text);
                let limit = if fallback.kind == TextKind::Sms { 90 } else { LMS_MAX_BYTES };
                assert!(euc_kr_bytes(&fallback.text) <= limit, "{}: the fallback is over its {:?} limit", t.code, fallback.kind);
            }
        }
    }
    // A text changed by a word no longer matches: what Kakao refuses (-3010).
    let t = template("payment-refunded", Locale::English).unwrap();
    assert!(!t.matches("[bnb] 240000 KRW was refunded."));
}

fn nhn(server: &NhnServer) -> NhnBizmessage {
    nhn_with_secret(server, SECRET_KEY)
}

fn nhn_with_secret(server: &NhnServer, secret: &str) -> NhnBizmessage {
    NhnBizmessage::new(NhnSettings {
        endpoint: server.url.clone(),
        app_key: APP_KEY.into(),
        sender_key: SENDER_KEY.into(),
        fallback_send_no: SEND_NO.into(),
        secret_key: Arc::new(FixedSecret(Secret::new(secret))),
    })
    .unwrap()
    .with_timeout(Duration::from_millis(500))
}

fn message(reference: &str, phone: &str) -> AlimTalk {
    let m = render("payment-refunded", Locale::Korean, &Facts { amount: Some(Money::new(240000, "KRW").unwrap()), ..Facts::default() });
    AlimTalk {
        reference: reference.into(),
        template_code: m.code.clone(),
        phone_number: phone.into(),
        parameters: m.parameters.clone(),
        fallback: Fallback::for_text(&m.text),
        text: m.text,
        maybe_sent_before: false,
    }
}

#[tokio::test]
async fn the_nhn_adapter_keeps_nhns_documented_contract() {
    let server = NhnServer::start().await;
    let dealer = nhn(&server);

    // Taken: the template's code, its parameters, the domestic number, the SMS fallback.
    let receipt = dealer.send(&message("n-1:minho", "+821012345678")).await.expect("the dealer takes it");
    let taken = server.taken();
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].recipient_no.as_str(), taken[0].template_code.as_str()), ("01012345678", "BNB_REFUNDED_KO"));
    assert_eq!(taken[0].text, "[bnb] 240000 KRW 환불되었습니다.");
    assert_eq!((taken[0].resend_type.as_deref(), taken[0].resend_content.as_deref()), (Some("SMS"), Some("[bnb] 240000 KRW 환불되었습니다.")));
    assert_eq!((taken[0].idempotency_key.as_deref(), taken[0].grouping_key.as_str()), (Some("n-1:minho"), "n-1:minho"));
    assert_eq!(dealer.delivery(&receipt).await, Ok(Delivery::Delivered));

    // The same reference again: -1005 from NHN, and the adapter answers the first receipt.
    assert_eq!(dealer.send(&message("n-1:minho", "+821012345678")).await, Ok(receipt.clone()));
    assert_eq!(server.taken().len(), 1, "one message, however often it is sent");

    // Unavailable, to be retried: 5xx, 429, and no answer in time.
    server.script(&[Scripted::Status(503)]);
    assert!(matches!(dealer.send(&message("n-2:minho", "+821012345678")).await, Err(DealerError::Unavailable(_))));
    server.script(&[Scripted::Status(429)]);
    assert!(matches!(dealer.send(&message("n-2:minho", "+821012345678")).await, Err(DealerError::Unavailable(_))));
    server.script(&[Scripted::Hang(Duration::from_secs(2))]);
    assert!(matches!(dealer.send(&message("n-2:minho", "+821012345678")).await, Err(DealerError::Unavailable(_))));
    assert!(dealer.send(&message("n-2:minho", "+821012345678")).await.is_ok(), "the retry goes through");

    // Refused, never to be retried: an unknown, an unapproved, a mismatched template, a bad key.
    let mut unknown = message("n-3:minho", "+821012345678");
    unknown.template_code = "BNB_NO_SUCH".into();
    assert!(matches!(dealer.send(&unknown).await, Err(DealerError::Refused { code, .. }) if code == "-3003"));
    server.register("BNB_REFUNDED_KO", "[bnb] #{amount} 환불되었습니다.", false);
    assert!(matches!(dealer.send(&message("n-4:minho", "+821012345678")).await, Err(DealerError::Refused { code, .. }) if code == "-3005"));
    server.register("BNB_REFUNDED_KO", "[bnb] #{refund} 환불 완료.", true);
    assert!(matches!(dealer.send(&message("n-5:minho", "+821012345678")).await, Err(DealerError::Refused { code, .. }) if code == "-3049"));
    server.register("BNB_REFUNDED_KO", "[bnb] #{amount} 환불되었습니다.", true);
    // A secret key NHN refuses may have been rotated: read again, and tried again (not refused).
    let wrong_key = nhn_with_secret(&server, "wrong").send(&message("n-6:minho", "+821012345678")).await;
    assert!(matches!(&wrong_key, Err(DealerError::Unavailable(why)) if why.starts_with("-1001")), "{wrong_key:?}");

    // A number NHN cannot send to: -1031 ("all recipients failed") with the recipient's -5000.
    assert!(matches!(dealer.send(&message("n-8:bad", "+1234567890123456")).await, Err(DealerError::Refused { code, .. }) if code == "-5000"));

    // Not a KakaoTalk user: NHN answers 3019 and sends the fallback (RSC04).
    server.not_on_kakaotalk("01099998888");
    let receipt = dealer.send(&message("n-7:jisoo", "+821099998888")).await.unwrap();
    assert_eq!(dealer.delivery(&receipt).await, Ok(Delivery::FellBackToSms { code: "3019".into() }));
    // Still in flight: no result yet.
    server.in_flight(true);
    assert_eq!(dealer.delivery(&receipt).await, Ok(Delivery::Pending));
}

/// A notification table with Minho's phone and one stored notification, the dealer, the clock.
struct World {
    server: NhnServer,
    dealer: Arc<dyn Dealer>,
    table: Arc<dyn Table>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

const PHONE: &str = "+821012345678";

impl World {
    async fn new() -> World {
        // The dealer's clock is the test's: its 10-minute idempotency window passes when the
        // test says so.
        let clock = ManualClock::starting_now();
        let server = NhnServer::start_with_clock(clock.clone()).await;
        let (table, dir) = support::embedded_table(bnb_contexts::tables::notifications());
        let dealer: Arc<dyn Dealer> = Arc::new(nhn(&server));
        World { server, dealer, table, clock, _dir: dir }
    }

    fn sender(&self, table: Arc<dyn Table>) -> AlimTalkSender {
        AlimTalkSender::new(table, self.dealer.clone(), self.clock.clone() as SharedClock)
            .with_backoff(Backoff { attempts: 3, first: Duration::from_millis(1) })
    }

    async fn person(&self, user: &str, phone: Option<&str>) {
        let actor = Actor::new(UserId::new(user), vec!["guest".into()]);
        update_profile(self.table.as_ref(), &actor, ProfileRequest { phone_number: phone.map(str::to_owned), locale: Some("ko".into()) }).await.unwrap();
    }

    /// A stored notification and the alert the handler publishes for it.
    async fn notification(&self, user: &str, n: u32) -> Alert {
        let m = render(
            "reservation-confirmed",
            Locale::Korean,
            &Facts {
                room_title: "Hanok".into(),
                check_in: "2030-12-24".into(),
                check_out: "2030-12-26".into(),
                amount: Some(Money::new(240000, "KRW").unwrap()),
                ..Facts::default()
            },
        );
        let event_id = format!("01936f4e-1111-7d3e-9b2f-{n:012}");
        let sk = format!("NOTIF#001795514400#{event_id}");
        let item: NotificationItem = serde_json::from_value(serde_json::json!({
            "pk": format!("USER#{user}"), "sk": sk, "kind": "notification", "notificationId": format!("{event_id}:{user}"), "eventId": event_id,
            "eventType": "ReservationConfirmed", "aggregateId": "r-1", "template": "reservation-confirmed", "locale": "ko", "text": m.text,
            "code": m.code, "parameters": m.parameters, "createdAt": "2026-11-24T10:00:00Z", "delivery": "PENDING", "alerted": true
        }))
        .unwrap();
        self.table.write(vec![WriteOp::put(to_item(&item).unwrap())]).await.unwrap();
        Alert {
            notification_id: format!("{event_id}:{user}"),
            recipient: user.into(),
            notification_sk: sk,
            template: "reservation-confirmed".into(),
            locale: Locale::Korean,
            parameters: m.parameters,
        }
    }

    async fn stored(&self, alert: &Alert) -> serde_json::Value {
        serde_json::Value::Object(self.table.get(&alert.notification_key()).await.unwrap().unwrap())
    }

    async fn state(&self, alert: &Alert) -> DeliveryState {
        serde_json::from_value(self.stored(alert).await["delivery"].clone()).unwrap()
    }

    async fn checks_waiting(&self) -> usize {
        self.table.query(&Query::partition(CHECKS_PK)).await.unwrap().items.len()
    }

    /// Lets the first check come due and runs the delivery check.
    async fn check(&self) -> bnb_contexts::notifications::Checked {
        self.clock.advance(Duration::from_secs(61));
        check_deliveries(self.table.as_ref(), self.dealer.as_ref(), &(self.clock.clone() as SharedClock)).await.unwrap()
    }
}

#[tokio::test]
async fn a_notification_is_accepted_then_delivered_and_shown_so() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 1).await;
    let sent = w.sender(w.table.clone()).send(&alert, 1).await.unwrap();
    assert!(matches!(sent, Sent::Accepted(_)), "{sent:?}");
    assert_eq!(w.state(&alert).await, DeliveryState::Accepted);
    assert_eq!(w.checks_waiting().await, 1);
    // Not due yet: nothing asked.
    let early = check_deliveries(w.table.as_ref(), w.dealer.as_ref(), &(w.clock.clone() as SharedClock)).await.unwrap();
    assert_eq!(early, Default::default());
    let checked = w.check().await;
    assert_eq!(checked.delivered, 1);
    assert_eq!(w.state(&alert).await, DeliveryState::Delivered);
    assert_eq!(w.checks_waiting().await, 0, "a settled message is not asked about again");
    // What the person sees.
    let minho = Actor::new(UserId::new("minho"), vec!["guest".into()]);
    let page = bnb_contexts::notifications::my_notifications(w.table.as_ref(), &minho, None, None).await.unwrap();
    assert_eq!(page["items"][0]["delivery"], "DELIVERED");
    // Another delivery of the same alert sends nothing.
    assert_eq!(w.sender(w.table.clone()).send(&alert, 1).await.unwrap(), Sent::AlreadyDone(DeliveryState::Delivered));
    assert_eq!(w.server.taken().len(), 1);
}

#[tokio::test]
async fn a_person_not_on_kakaotalk_gets_the_sms_and_sees_so() {
    let w = World::new().await;
    w.person("jisoo", Some("+821099998888")).await;
    w.server.not_on_kakaotalk("01099998888");
    let alert = w.notification("jisoo", 2).await;
    w.sender(w.table.clone()).send(&alert, 1).await.unwrap();
    // The dealer is still falling back: pending, asked again later.
    w.server.in_flight(true);
    assert_eq!(w.check().await.still_pending, 1);
    assert_eq!(w.state(&alert).await, DeliveryState::Accepted);
    w.server.in_flight(false);
    w.clock.advance(Duration::from_secs(120));
    assert_eq!(w.check().await.fell_back_to_sms, 1);
    assert_eq!(w.state(&alert).await, DeliveryState::FellBackToSms);
    assert!(w.stored(&alert).await["failure"].as_str().unwrap().contains("3019"));
    let taken = w.server.taken();
    // 77 bytes of EUC-KR: it fits one SMS (the server refuses a fallback over its limit).
    assert_eq!(euc_kr_bytes(&taken[0].text), 77);
    assert_eq!((taken[0].resend_type.as_deref(), taken[0].resend_content.as_deref()), (Some("SMS"), Some(taken[0].text.as_str())));
}

#[tokio::test]
async fn no_phone_number_means_in_the_app_only() {
    let w = World::new().await;
    w.person("dana", None).await;
    let alert = w.notification("dana", 3).await;
    assert_eq!(w.sender(w.table.clone()).send(&alert, 1).await.unwrap(), Sent::InAppOnly);
    assert_eq!(w.state(&alert).await, DeliveryState::InAppOnly);
    assert_eq!(w.server.requests(), 0);
}

#[tokio::test]
async fn an_unavailable_dealer_is_retried_with_backoff_then_left_to_the_queue() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 4).await;
    // Two failures, then success: within one delivery's three attempts.
    w.server.script(&[Scripted::Status(503), Scripted::Status(500)]);
    assert!(matches!(w.sender(w.table.clone()).send(&alert, 1).await.unwrap(), Sent::Accepted(_)));
    // 503, 500, then (the calls may have got through) a look for the message, and the send.
    assert_eq!(w.server.requests(), 4);
    // Three failures: the delivery fails (the queue redelivers) and gives its lease back at once,
    // so the very next delivery sends, without time passing.
    let alert = w.notification("minho", 5).await;
    w.server.script(&[Scripted::Status(503), Scripted::Status(429), Scripted::Status(502)]);
    let failed = w.sender(w.table.clone()).send(&alert, 1).await;
    assert!(matches!(failed, Err(ConsumerError::Transient(_))), "{failed:?}");
    assert_eq!(w.state(&alert).await, DeliveryState::Pending);
    assert!(matches!(w.sender(w.table.clone()).send(&alert, 1).await.unwrap(), Sent::Accepted(_)));
    assert_eq!(w.server.taken().len(), 2);
}

fn sqs_event(body: &str) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some("m-1".into());
    message.body = Some(body.into());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}

#[tokio::test]
async fn a_refused_template_is_failed_dead_lettered_with_its_reason_and_counted() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 6).await;
    w.server.register("BNB_CONFIRMED_KO", "[bnb] 예약 확정: #{roomTitle}", true);
    let (store, _d) = support::embedded_store();
    let bus = bnb_embedded::EmbeddedBus::open(store).await.unwrap();
    let dlq = bus
        .declare_queue(bnb_embedded::QueueSettings { name: "alimtalk-sender-dlq".into(), visibility_timeout_ms: 30_000, max_receive_count: None, dlq: None })
        .await
        .unwrap();
    let dlq: Arc<dyn Queue> = Arc::new(dlq);
    let sender = w.sender(w.table.clone());
    let answer = alimtalk_sender::handle(&sender, &QueueDeadLetters(dlq.clone()), sqs_event(&serde_json::to_string(&alert).unwrap())).await;
    assert!(answer.batch_item_failures.is_empty(), "a refused message is not retried");
    let dead = dlq.receive(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let reason = &dead[0].attributes[DEAD_LETTER_REASON];
    assert!(reason.contains("-3049") && reason.contains("BNB_CONFIRMED_KO"), "{reason}");
    assert_eq!(w.state(&alert).await, DeliveryState::Failed);
    assert!(w.stored(&alert).await["failure"].as_str().unwrap().starts_with("-3049"));
    assert_eq!(w.checks_waiting().await, 0);
}

#[tokio::test]
async fn two_deliveries_at_once_make_one_request() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 7).await;
    // The first delivery's request hangs (and fails) while the second comes.
    w.server.script(&[Scripted::Hang(Duration::from_millis(300))]);
    let first = {
        let (sender, alert) = (w.sender(w.table.clone()), alert.clone());
        tokio::spawn(async move { sender.send(&alert, 1).await })
    };
    for _ in 0..200 {
        if w.server.requests() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = w.sender(w.table.clone()).send(&alert, 1).await;
    assert!(matches!(second, Err(ConsumerError::Transient(ref why)) if why.contains("another delivery")), "{second:?}");
    assert!(matches!(first.await.unwrap().unwrap(), Sent::Accepted(_)));
    assert_eq!(w.server.taken().len(), 1);
}

/// The sender's promise under crashes: whatever write it crashes after (or fails at), the
/// redeliveries that follow (each after the queue's 60 s visibility timeout) leave exactly one
/// message with the dealer, the notification `ACCEPTED`, and one check waiting; and the delivery
/// check, crashing likewise, settles it `DELIVERED` once, with no check left behind.
#[tokio::test]
async fn a_notification_reaches_the_dealer_once_and_settles_once_whatever_write_it_crashes_after() {
    for fault in (1..=3).flat_map(|k| [Fault::CrashAfter(k), Fault::FailAt(k)]) {
        let w = World::new().await;
        w.person("minho", Some(PHONE)).await;
        let alert = w.notification("minho", 8).await;
        let mut process = Process::new(fault);
        let mut rounds = 0;
        loop {
            let outcome = w.sender(process.table(w.table.clone())).send(&alert, 1).await;
            if outcome.is_ok() {
                break;
            }
            rounds += 1;
            assert!(rounds < 5, "{fault:?}: the sender never finished: {outcome:?}");
            w.clock.advance(Duration::from_secs(60));
            process = Process::new(Fault::Never);
        }
        assert_eq!(w.server.taken().len(), 1, "{fault:?}: one message with the dealer");
        assert_eq!(w.state(&alert).await, DeliveryState::Accepted, "{fault:?}");
        assert_eq!(w.checks_waiting().await, 1, "{fault:?}");

        let process = Process::new(fault);
        w.clock.advance(Duration::from_secs(61));
        let crashed = check_deliveries(process.table(w.table.clone()).as_ref(), w.dealer.as_ref(), &(w.clock.clone() as SharedClock)).await;
        if crashed.is_err() || process.writes() > 0 {
            check_deliveries(w.table.as_ref(), w.dealer.as_ref(), &(w.clock.clone() as SharedClock)).await.unwrap();
        }
        assert_eq!(w.state(&alert).await, DeliveryState::Delivered, "{fault:?}");
        assert_eq!(w.checks_waiting().await, 0, "{fault:?}: no check left behind");
        assert_eq!(w.server.taken().len(), 1, "{fault:?}");
    }
}

#[tokio::test]
async fn a_message_with_no_result_is_given_up_after_its_last_check() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 9).await;
    w.sender(w.table.clone()).send(&alert, 1).await.unwrap();
    w.server.in_flight(true);
    let mut failed = 0;
    for _ in 0..MAX_CHECKS {
        w.clock.advance(Duration::from_secs(30 * 60));
        failed += w.check().await.failed;
    }
    assert_eq!(failed, 1);
    assert_eq!(w.state(&alert).await, DeliveryState::Failed);
    assert_eq!(w.checks_waiting().await, 0);
    let stored: NotificationItem = from_item(&w.table.get(&alert.notification_key()).await.unwrap().unwrap()).unwrap();
    assert_eq!(stored.delivery, DeliveryState::Failed);
}

/// A call that timed out after NHN took the message, retried after NHN's 10-minute idempotency
/// window: the sender looks for the first message before it sends, and does not send twice.
#[tokio::test]
async fn a_retry_after_the_idempotency_window_finds_the_first_message_instead_of_sending_again() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 10).await;
    let once = |table: Arc<dyn Table>| {
        AlimTalkSender::new(table, w.dealer.clone(), w.clock.clone() as SharedClock).with_backoff(Backoff { attempts: 1, first: Duration::from_millis(1) })
    };
    w.server.script(&[Scripted::TakeThenHang(Duration::from_secs(2))]);
    let timed_out = once(w.table.clone()).send(&alert, 1).await;
    assert!(matches!(timed_out, Err(ConsumerError::Transient(_))), "{timed_out:?}");
    assert_eq!(w.server.taken().len(), 1, "NHN took it, though the sender never heard");
    w.clock.advance(Duration::from_secs(11 * 60));
    let sent = once(w.table.clone()).send(&alert, 2).await.unwrap();
    let Sent::Accepted(receipt) = sent else { panic!("{sent:?}") };
    assert_eq!(w.server.taken().len(), 1, "one message, though the idempotency key had expired");
    assert_eq!(receipt.request_id, w.server.taken()[0].request_id);
}

/// The dealer down through every delivery: the last one records the notification FAILED (the
/// person sees it), and a redrive from the DLQ later sends it, once.
#[tokio::test]
async fn the_last_failed_delivery_records_failed_and_a_redrive_sends_it() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 11).await;
    for receives in 1..=bnb_contexts::notifications::alimtalk::MAX_RECEIVES {
        w.server.script(&[Scripted::Status(503), Scripted::Status(503), Scripted::Status(503)]);
        assert!(matches!(w.sender(w.table.clone()).send(&alert, receives).await, Err(ConsumerError::Transient(_))));
        let want = if receives < bnb_contexts::notifications::alimtalk::MAX_RECEIVES { DeliveryState::Pending } else { DeliveryState::Failed };
        assert_eq!(w.state(&alert).await, want, "after delivery {receives}");
    }
    assert!(w.stored(&alert).await["failure"].as_str().unwrap().contains("unavailable"));
    // Redriven from the DLQ, with the dealer back.
    assert!(matches!(w.sender(w.table.clone()).send(&alert, 1).await.unwrap(), Sent::Accepted(_)));
    assert_eq!(w.state(&alert).await, DeliveryState::Accepted);
    assert_eq!(w.server.taken().len(), 1);
}

/// A check the dealer cannot answer (down, or it does not know the message) is asked again
/// later and does not hold up the others; one it never knows is given up after its last check.
#[tokio::test]
async fn a_check_the_dealer_cannot_answer_waits_its_turn_and_is_given_up_in_the_end() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 12).await;
    w.sender(w.table.clone()).send(&alert, 1).await.unwrap();
    // A message NHN has never heard of, due first.
    let unknown = w.notification("minho", 13).await;
    let entry = serde_json::json!({"pk": CHECKS_PK, "sk": "000000000001#ghost", "notificationPk": "USER#minho", "notificationSk": unknown.notification_sk,
        "notificationId": unknown.notification_id, "requestId": "no-such-request", "messageId": "1", "checks": 0});
    w.table.write(vec![WriteOp::put(entry.as_object().unwrap().clone())]).await.unwrap();
    w.table.write(vec![bnb_contexts::storage::Update::new(unknown.notification_key()).set("delivery", "ACCEPTED").into_op()]).await.unwrap();
    // NHN down: nothing settles, everything waits.
    w.server.script(&[Scripted::Status(503), Scripted::Status(503)]);
    let down = w.check().await;
    assert_eq!((down.unavailable, down.delivered), (2, 0), "{down:?}");
    assert_eq!(w.checks_waiting().await, 2);
    // NHN back: the real one is delivered; the unknown one does not hold it up.
    w.clock.advance(Duration::from_secs(120));
    let back = w.check().await;
    assert_eq!((back.delivered, back.unavailable), (1, 1), "{back:?}");
    assert_eq!(w.state(&alert).await, DeliveryState::Delivered);
    let mut failed = 0;
    for _ in 0..MAX_CHECKS {
        w.clock.advance(Duration::from_secs(30 * 60));
        failed += w.check().await.failed;
    }
    assert_eq!(failed, 1);
    assert_eq!(w.state(&unknown).await, DeliveryState::Failed);
    assert_eq!(w.checks_waiting().await, 0);
}

/// The sender's numbers agree with its deployment: the lease outlasts the function's timeout and
/// runs out before the queue redelivers, and the last delivery is the queue's last receive.
#[test]
fn the_send_lease_and_the_last_delivery_fit_the_template() {
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(support::stack_path("notifications")).unwrap()).unwrap();
    let resources = &template["Resources"];
    let function = &resources["AlimtalkSenderFunction"]["Properties"];
    let queue = &resources["AlimtalkSenderQueue"]["Properties"];
    let timeout = function["Timeout"].as_i64().unwrap();
    let visibility = queue["VisibilityTimeout"].as_i64().unwrap();
    let lease = bnb_contexts::notifications::alimtalk::SEND_LEASE_SECONDS;
    assert!(timeout < lease && lease < visibility, "timeout {timeout} s < lease {lease} s < visibility {visibility} s");
    assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"].as_u64(), Some(u64::from(bnb_contexts::notifications::alimtalk::MAX_RECEIVES)));
    assert_eq!(function["Events"]["Queue"]["Properties"]["BatchSize"].as_u64(), Some(1), "one message an invocation");
}

/// A stack deployed without a dealer's keys sends nothing and shows each notification in the app
/// only, saying why, instead of failing every delivery into the DLQ.
#[tokio::test]
async fn without_a_dealer_notifications_are_shown_in_the_app_only_and_say_why() {
    let w = World::new().await;
    w.person("minho", Some(PHONE)).await;
    let alert = w.notification("minho", 14).await;
    let sender = AlimTalkSender::new(w.table.clone(), Arc::new(bnb_contexts::notifications::dealer::NoDealer), w.clock.clone() as SharedClock);
    assert_eq!(sender.send(&alert, 1).await.unwrap(), Sent::InAppOnly);
    assert_eq!(w.state(&alert).await, DeliveryState::InAppOnly);
    assert_eq!(w.stored(&alert).await["failure"], "no KakaoTalk dealer is configured");
    assert_eq!(w.checks_waiting().await, 0);
}
