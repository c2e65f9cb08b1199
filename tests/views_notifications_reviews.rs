//! The supporting contexts, end to end through `bnb-local` on both backends: the guest's status
//! view and the host's dashboard (CQRS), notifications (stored, SMS, KakaoTalk alerts, Korean
//! and English), reviews — and that none of them can slow or stop a booking.

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use bnb_contexts::consumer::apply_once;
use bnb_contexts::events::{Causation, Envelope, EventType};
use bnb_contexts::messaging::{Queue, Topic};
use bnb_contexts::notifications::NotificationHandler;
use bnb_contexts::storage::Item;
use bnb_contexts::views::ViewProjector;
use bnb_local::auth::Authority;
use bnb_local::{start, LocalConfig, Running};
use serde_json::{json, Value};
use support::{eventually, local_config, On};

struct Client {
    base: String,
    authority: Authority,
    http: reqwest::Client,
}

impl Client {
    fn new(running: &Running, dir: &std::path::Path) -> Client {
        Client { base: running.url(), authority: Authority::load_or_create(dir).unwrap(), http: reqwest::Client::new() }
    }

    async fn call(&self, who: Option<(&str, &str)>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some((sub, groups)) = who {
            let groups: Vec<String> = groups.split(',').map(str::to_owned).collect();
            request = request.bearer_auth(self.authority.mint(sub, &groups, None, None, 600).unwrap());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn day(days: i64) -> String {
    bnb_contexts::domain::stay::format_date(bnb_contexts::clock::Clock::today(&bnb_contexts::clock::SystemClock) + time::Duration::days(days))
}

const HOST: Option<(&str, &str)> = Some(("host-hana", "host"));
const GUEST: Option<(&str, &str)> = Some(("guest-minho", "guest"));
const OTHER_GUEST: Option<(&str, &str)> = Some(("guest-jiwoo", "guest"));
const OTHER_HOST: Option<(&str, &str)> = Some(("host-jisoo", "host"));

/// A queue that hears everything the `alerts` topic publishes, SNS-wrapped.
async fn alerts_probe(on: On, running: &Running, config: &LocalConfig) -> Arc<dyn Queue> {
    match on {
        On::Embedded => {
            let bus = running.wiring.bus.clone().unwrap();
            let q = bus
                .declare_queue(bnb_embedded::QueueSettings { name: "alerts-probe".into(), visibility_timeout_ms: 30_000, max_receive_count: None, dlq: None })
                .await
                .unwrap();
            bus.subscribe("alerts", "alerts-probe", None, false).await.unwrap();
            Arc::new(q)
        }
        On::Moto => {
            let aws = bnb_lambda::aws::aws_sdk_config_for(&support::moto_url()).await;
            let topic = bnb_aws_sns::SnsTopic::ensure(&aws, &format!("{}alerts", config.prefix)).await.unwrap();
            let q = bnb_aws_sqs::SqsQueue::ensure(&aws, &format!("{}alerts-probe", config.prefix), 30, None).await.unwrap();
            topic.subscribe_queue(&q.arn(), None, false).await.unwrap();
            Arc::new(q)
        }
    }
}

/// What every phone received (the local KakaoTalk mailbox, on either backend): (phone number, channel, text).
async fn received(running: &Running) -> Vec<(String, String, String)> {
    running.wiring.mailbox.messages().await.unwrap().into_iter().map(|m| (m.phone_number, m.channel, m.text)).collect()
}

/// A time in an answer: an RFC 3339 string.
fn assert_rfc3339(what: &str, at: &Value) {
    let text = at.as_str().unwrap_or_else(|| panic!("{what} is {at}, not an RFC 3339 string"));
    assert!(time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok(), "{what}: {text} is not RFC 3339");
}

async fn a_booking_and_its_cancellation_show_everywhere_they_should(on: On) {
    let dir = tempfile::tempdir().unwrap();
    let config = local_config(on, dir.path());
    let running = start(config.clone()).await.unwrap();
    let probe = alerts_probe(on, &running, &config).await;
    let c = Client::new(&running, dir.path());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let guest_phone = format!("+8210{}", &suffix[suffix.len() - 8..].chars().map(|c| char::from(b'0' + (c as u8 % 10))).collect::<String>());
    assert_eq!(c.call(GUEST, "PUT", "/me/profile", Some(json!({"phoneNumber": guest_phone, "locale": "en"}))).await.0, 200);
    assert_eq!(c.call(HOST, "PUT", "/me/profile", Some(json!({"locale": "ko"}))).await.0, 200);
    // Each reads back their own, and only their own.
    assert_eq!(c.call(GUEST, "GET", "/me/profile", None).await.1, json!({"phoneNumber": guest_phone, "locale": "en"}));
    assert_eq!(c.call(HOST, "GET", "/me/profile", None).await.1, json!({"phoneNumber": null, "locale": "ko"}));
    assert_eq!(c.call(OTHER_GUEST, "GET", "/me/profile", None).await.1, json!({"phoneNumber": null, "locale": "ko"}), "the defaults");
    assert_eq!(c.call(GUEST, "PUT", "/me/profile", Some(json!({"phoneNumber": "010-1234"}))).await.0, 400);
    let (_, room) = c
        .call(
            HOST,
            "POST",
            "/rooms",
            Some(json!({"title": "Hanok", "city": "Seoul", "address": "1 Bukchon-ro", "capacity": 2, "nightlyPrice": {"amount": 100000, "currency": "KRW"}})),
        )
        .await;
    let room_id = room["roomId"].as_str().unwrap().to_owned();
    let (status, booked) = c
        .call(GUEST, "POST", "/reservations", Some(json!({"roomId": room_id, "checkIn": day(3), "checkOut": day(5), "guests": 2, "cardToken": "tok_visa"})))
        .await;
    assert_eq!(status, 201, "{booked}");
    let id = booked["reservation"]["reservationId"].as_str().unwrap().to_owned();
    let status_path = format!("/reservations/{id}");
    eventually(60, "the guest's view shows the confirmed, paid booking", || async {
        let (s, v) = c.call(GUEST, "GET", &status_path, None).await;
        s == 200 && v["status"] == "CONFIRMED" && v["paymentStatus"] == "APPROVED"
    })
    .await;
    let (_, view) = c.call(GUEST, "GET", &status_path, None).await;
    assert_eq!(
        (view["roomTitle"].clone(), view["checkIn"].clone(), view["amount"].clone()),
        (json!("Hanok"), json!(day(3)), json!({"amount": 200000, "currency": "KRW"}))
    );
    // Its host reads it too; no one else does.
    assert_eq!(c.call(HOST, "GET", &status_path, None).await.0, 200);
    assert_eq!(c.call(OTHER_GUEST, "GET", &status_path, None).await.0, 404);
    assert_eq!(c.call(OTHER_HOST, "GET", &status_path, None).await.0, 404);
    let (_, dashboard) = c.call(HOST, "GET", "/host/dashboard", None).await;
    assert_eq!(dashboard["stays"].as_array().unwrap().len(), 1, "{dashboard}");
    assert_eq!(dashboard["revenue"][0]["net"], 200000);
    assert_eq!(dashboard["occupancy"]["bookedNights"], 2);
    assert_eq!(dashboard["occupancy"]["nights"], json!([{"night": day(3), "booked": 1}, {"night": day(4), "booked": 1}]), "the nights a calendar draws");
    assert_eq!((dashboard["activeRooms"].clone(), dashboard["occupancy"]["availableNights"].clone()), (json!(1), json!(30)), "{dashboard}");
    // Every time an answer carries is RFC 3339, not an epoch number.
    for (what, at) in [
        ("status view lastChangeAt", &view["lastChangeAt"]),
        ("dashboard stay lastChangeAt", &dashboard["stays"][0]["lastChangeAt"]),
        ("dashboard room updatedAt", &dashboard["rooms"][0]["updatedAt"]),
        ("dashboard latest bookedAt", &dashboard["latestReservations"][0]["bookedAt"]),
    ] {
        assert_rfc3339(what, at);
    }
    assert_eq!(c.call(GUEST, "GET", "/host/dashboard", None).await.0, 403);
    let (_, other) = c.call(OTHER_HOST, "GET", "/host/dashboard", None).await;
    assert!(other["stays"].as_array().unwrap().is_empty() && other["rooms"].as_array().unwrap().is_empty());

    // Cancel: the views follow, revenue is net of the refund.
    assert_eq!(c.call(GUEST, "POST", &format!("/reservations/{id}/cancel"), None).await.0, 200);
    eventually(60, "the view shows the cancellation and the refund", || async {
        let (_, v) = c.call(GUEST, "GET", &status_path, None).await;
        v["status"] == "CANCELLED" && v["paymentStatus"] == "REFUNDED"
    })
    .await;
    let (_, dashboard) = c.call(HOST, "GET", "/host/dashboard", None).await;
    assert_eq!(dashboard["revenue"][0], json!({"currency": "KRW", "confirmed": 200000, "refunded": 200000, "net": 0}));
    assert!(dashboard["stays"].as_array().unwrap().is_empty());
    assert_eq!(dashboard["occupancy"]["bookedNights"], 0, "the cancelled nights are given back");
    assert_eq!(dashboard["occupancy"]["nights"], json!([]));
    let (_, mine) = c.call(GUEST, "GET", "/me/reservations", None).await;
    assert_eq!(mine["items"][0]["status"], "CANCELLED");
    assert_eq!(c.call(OTHER_GUEST, "GET", "/me/reservations", None).await.1["items"], json!([]));

    // Notifications: stored for each person in their language, texted, and published for KakaoTalk.
    eventually(60, "every notification stored", || async {
        c.call(GUEST, "GET", "/me/notifications", None).await.1["items"].as_array().map(Vec::len) == Some(3)
            && c.call(HOST, "GET", "/me/notifications", None).await.1["items"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    let templates = |v: &Value| {
        let mut t: Vec<String> = v["items"].as_array().unwrap().iter().map(|n| n["template"].as_str().unwrap().to_owned()).collect();
        t.sort();
        t
    };
    let (_, guest_notes) = c.call(GUEST, "GET", "/me/notifications", None).await;
    assert_eq!(templates(&guest_notes), ["payment-refunded", "reservation-cancelled", "reservation-confirmed"]);
    assert!(guest_notes["items"].as_array().unwrap().iter().all(|n| n["locale"] == "en"));
    guest_notes["items"].as_array().unwrap().iter().for_each(|n| assert_rfc3339("notification createdAt", &n["createdAt"]));
    let (_, host_notes) = c.call(HOST, "GET", "/me/notifications", None).await;
    assert_eq!(templates(&host_notes), ["booking-cancelled", "new-booking"]);
    assert!(host_notes["items"].as_array().unwrap().iter().any(|n| n["text"].as_str().unwrap().contains("새 예약")));
    // The guest's Korean mobile is on KakaoTalk (the local mailbox's rule): three AlimTalk.
    eventually(60, "the AlimTalk went out", || async { received(&running).await.iter().filter(|(phone, _, _)| phone == &guest_phone).count() == 3 }).await;
    let got: Vec<(String, String, String)> = received(&running).await.into_iter().filter(|(p, _, _)| p == &guest_phone).collect();
    assert!(got.iter().all(|(_, channel, _)| channel == "ALIMTALK"), "{got:?}");
    assert!(got.iter().any(|(_, _, t)| t.contains("Your stay at Hanok is confirmed")), "{got:?}");
    eventually(60, "the guest's notifications are with the dealer", || async {
        c.call(GUEST, "GET", "/me/notifications", None).await.1["items"].as_array().unwrap().iter().all(|n| n["delivery"] == "ACCEPTED")
    })
    .await;
    // One alert per notification; a redelivered event may publish one twice (the sender sends
    // once per notification id: three AlimTalk above, not more).
    let mut alerts: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    for _ in 0..100 {
        for m in probe.receive(10).await.unwrap() {
            probe.delete(&m.receipt_handle).await.unwrap();
            let body = serde_json::from_str::<Value>(&m.body).unwrap();
            let id = body["MessageAttributes"]["notificationId"]["Value"].as_str().unwrap().to_owned();
            alerts.insert(id, body);
        }
        if alerts.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alerts: Vec<Value> = alerts.into_values().collect();
    assert_eq!(alerts.len(), 5, "{alerts:?}");
    let attr = |a: &Value, k: &str| a["MessageAttributes"][k]["Value"].as_str().unwrap_or("").to_owned();
    assert!(alerts.iter().all(|a| attr(a, "channel") == "kakao"));
    let alert = |a: &Value| serde_json::from_str::<bnb_contexts::notifications::Alert>(a["Message"].as_str().unwrap()).unwrap();
    let korean = alert(alerts.iter().find(|a| attr(a, "template") == "new-booking").unwrap());
    assert_eq!((korean.recipient.as_str(), korean.locale), ("host-hana", bnb_contexts::domain::notification::Locale::Korean));
    assert_eq!(korean.parameters["roomTitle"], "Hanok");
    let english = alert(alerts.iter().find(|a| attr(a, "template") == "payment-refunded").unwrap());
    assert_eq!((english.recipient.as_str(), english.locale), ("guest-minho", bnb_contexts::domain::notification::Locale::English));
    assert_eq!(english.parameters["amount"], "200000 KRW");
    running.stop().await.unwrap();
}

async fn reviews_need_a_stay_come_once_per_stay_and_move_the_rating(on: On) {
    let dir = tempfile::tempdir().unwrap();
    let clock = bnb_contexts::clock::ShiftedClock::new();
    let mut config = local_config(on, dir.path());
    config.clock = clock.clone();
    let running = start(config).await.unwrap();
    let c = Client::new(&running, dir.path());
    let (_, room) = c
        .call(
            HOST,
            "POST",
            "/rooms",
            Some(json!({"title": "Loft", "city": "Busan", "address": "2 Haeundae-ro", "capacity": 2, "nightlyPrice": {"amount": 80000, "currency": "KRW"}})),
        )
        .await;
    let room_id = room["roomId"].as_str().unwrap().to_owned();
    let reviews = format!("/rooms/{room_id}/reviews");
    let review = |rating: Value, text: &str| Some(json!({"rating": rating, "text": text}));
    assert_eq!(c.call(GUEST, "POST", &reviews, review(json!(5), "Great")).await.0, 403, "no stay, no review");
    assert_eq!(c.call(None, "POST", &reviews, review(json!(5), "Great")).await.0, 401);
    let (status, _) = c
        .call(GUEST, "POST", "/reservations", Some(json!({"roomId": room_id, "checkIn": day(2), "checkOut": day(3), "guests": 1, "cardToken": "tok_visa"})))
        .await;
    assert_eq!(status, 201);
    let (status, problem) = c.call(GUEST, "POST", &reviews, review(json!(5), "Great")).await;
    assert_eq!(status, 403, "a stay not yet over is not reviewed: {problem}");
    // Four days on (Asia/Seoul), the stay is over.
    clock.advance(std::time::Duration::from_secs(4 * 86_400));
    for (rating, text, field) in
        [(json!(0), "x", "rating"), (json!(6), "x", "rating"), (json!("five"), "x", "rating"), (json!(4), &"가".repeat(2001) as &str, "text")]
    {
        let (status, problem) = c.call(GUEST, "POST", &reviews, review(rating.clone(), text)).await;
        assert_eq!((status, problem["errors"][0]["field"].clone()), (400, json!(field)), "{rating} {problem}");
    }
    let (status, written) = c.call(GUEST, "POST", &reviews, review(json!(4), "정말 좋았어요")).await;
    assert_eq!(status, 201, "{written}");
    assert_eq!(c.call(GUEST, "POST", &reviews, review(json!(5), "Again")).await.0, 409, "one review per stay");
    let (_, listed) = c.call(None, "GET", &reviews, None).await;
    assert_eq!(listed["items"][0]["text"], "정말 좋았어요");
    assert_rfc3339("review createdAt", &listed["items"][0]["createdAt"]);
    assert_rfc3339("written review createdAt", &written["createdAt"]);
    eventually(60, "the room's rating follows", || async {
        c.call(None, "GET", &format!("/rooms/{room_id}"), None).await.1["rating"] == json!({"count": 1, "average": 4.0})
    })
    .await;
    eventually(60, "the host's dashboard and notifications follow", || async {
        let (_, d) = c.call(HOST, "GET", "/host/dashboard", None).await;
        let (_, n) = c.call(HOST, "GET", "/me/notifications", None).await;
        d["rooms"][0]["rating"] == json!({"count": 1, "average": 4.0}) && n["items"].as_array().unwrap().iter().any(|x| x["template"] == "new-review")
    })
    .await;
    running.stop().await.unwrap();
}

async fn bookings_go_on_while_views_and_notifications_are_down(on: On) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(on, dir.path());
    config.paused = vec!["view-projector".into(), "notification-handler".into()];
    let running = start(config.clone()).await.unwrap();
    let c = Client::new(&running, dir.path());
    let (_, room) = c
        .call(
            HOST,
            "POST",
            "/rooms",
            Some(json!({"title": "Cabin", "city": "Jeju", "address": "3 Jeju-ro", "capacity": 2, "nightlyPrice": {"amount": 50000, "currency": "KRW"}})),
        )
        .await;
    let room_id = room["roomId"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for i in 0..4 {
        let (status, booked) = c
            .call(
                GUEST,
                "POST",
                "/reservations",
                Some(json!({"roomId": room_id, "checkIn": day(10 + 2 * i), "checkOut": day(11 + 2 * i), "guests": 1, "cardToken": "tok_visa"})),
            )
            .await;
        assert_eq!(status, 201, "bookings succeed with the supporting consumers down");
        ids.push(booked["reservation"]["reservationId"].as_str().unwrap().to_owned());
    }
    assert_eq!(c.call(GUEST, "GET", &format!("/reservations/{}", ids[0]), None).await.0, 404, "the view has not heard yet");
    running.stop().await.unwrap();
    // They come back and catch up: nothing missing, nothing doubled.
    config.paused.clear();
    let running = start(config).await.unwrap();
    let c = Client::new(&running, dir.path());
    eventually(90, "every view and notification caught up", || async {
        let (_, mine) = c.call(GUEST, "GET", "/me/reservations", None).await;
        let (_, notes) = c.call(GUEST, "GET", "/me/notifications", None).await;
        mine["items"].as_array().map(Vec::len) == Some(4) && notes["items"].as_array().map(Vec::len) == Some(4)
    })
    .await;
    support::drained(&running, 60).await;
    let (_, host_notes) = c.call(HOST, "GET", "/me/notifications", None).await;
    assert_eq!(host_notes["items"].as_array().unwrap().len(), 4, "one per booking, none twice");
    let (_, dashboard) = c.call(HOST, "GET", "/host/dashboard", None).await;
    assert_eq!(dashboard["revenue"][0]["confirmed"], 200000);
    running.stop().await.unwrap();
}

/// Applies `events` in order with both supporting consumers and returns what they hold.
async fn project(on: On, events: &[Envelope]) -> (Vec<Item>, Vec<Item>) {
    let mut dirs = Vec::new();
    let table = |spec| async move {
        match on {
            On::Embedded => {
                let (t, d) = support::embedded_table(spec);
                (t, Some(d))
            }
            On::Moto => (support::moto_table(spec).await, None),
        }
    };
    let (views, d1) = table(bnb_contexts::tables::views()).await;
    let (notifications, d2) = table(bnb_contexts::tables::notifications()).await;
    dirs.push(d1);
    dirs.push(d2);
    let (store, d3) = support::embedded_store();
    let bus = bnb_embedded::EmbeddedBus::open(store).await.unwrap();
    let projector = ViewProjector::new(views.clone());
    let notifier = NotificationHandler::new(notifications.clone(), Arc::new(bus.topic("alerts")) as Arc<dyn Topic>);
    for e in events {
        apply_once(&projector, e).await.unwrap();
        apply_once(&notifier, e).await.unwrap();
    }
    let strip = |items: Vec<Item>| {
        let mut items: Vec<Item> = items
            .into_iter()
            .filter(|i| !i["pk"].as_str().unwrap_or("").starts_with("PROCESSED#"))
            .map(|mut i| {
                // When a sending's lease ends: wall-clock, not part of what was projected.
                i.remove("claimedUntil");
                i
            })
            .collect();
        items.sort_by(|a, b| (a["pk"].as_str(), a["sk"].as_str()).cmp(&(b["pk"].as_str(), b["sk"].as_str())));
        items
    };
    let fold = |changes: Vec<bnb_contexts::storage::StreamRecord>| {
        let mut map = std::collections::BTreeMap::new();
        for c in changes {
            match c.new_image {
                Some(i) => map.insert((c.keys.pk, c.keys.sk), i),
                None => map.remove(&(c.keys.pk, c.keys.sk)),
            };
        }
        map.into_values().collect::<Vec<_>>()
    };
    let v = strip(fold(support::all_changes(views.as_ref()).await));
    let n = strip(fold(support::all_changes(notifications.as_ref()).await));
    drop(d3);
    drop(dirs);
    (v, n)
}

async fn events_out_of_order_and_twice_project_as_once_in_order(on: On) {
    let cause = Causation::request("c-order");
    let reservation = |status: &str, version: u64| {
        json!({"reservationId": "01a20000-0000-7000-8000-0000000000aa", "roomId": "01a20000-0000-7000-8000-0000000000bb", "roomTitle": "Hanok",
               "guestId": "guest-minho", "hostId": "host-hana", "checkIn": day(7), "checkOut": day(9), "guests": 2,
               "amount": {"amount": 200000, "currency": "KRW"}, "status": status, "version": version, "cancelledBy": "guest"})
    };
    let payment = |status: &str, _version: u64| json!({"paymentId": "01a20000-0000-7000-8000-0000000000cc", "reservationId": "01a20000-0000-7000-8000-0000000000aa", "amount": {"amount": 200000, "currency": "KRW"}, "status": status, "guestId": "guest-minho"});
    let e = |t: EventType, version: u64, payload: Value| Envelope::from_payload(t, "01a20000-0000-7000-8000-0000000000aa", version, &cause, payload).unwrap();
    let in_order = vec![
        e(EventType::PaymentApproved, 1, payment("APPROVED", 1)),
        e(EventType::ReservationConfirmed, 2, reservation("CONFIRMED", 2)),
        e(EventType::ReservationCancelled, 3, reservation("CANCELLED", 3)),
        e(EventType::PaymentRefunded, 2, payment("REFUNDED", 2)),
    ];
    let shuffled: Vec<Envelope> = [3, 2, 0, 3, 1, 2, 1, 0].iter().map(|i| in_order[*i].clone()).collect();
    let once = project(on, &in_order).await;
    let messy = project(on, &shuffled).await;
    let strip_time = |items: Vec<Item>| {
        items
            .into_iter()
            .map(|mut i| {
                i.remove("lastChangeAt");
                i
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip_time(messy.0), strip_time(once.0.clone()), "the same views");
    assert_eq!(messy.1, once.1, "the same notifications");
    let view = once.0.iter().find(|i| i["pk"] == "RESERVATION#01a20000-0000-7000-8000-0000000000aa").unwrap();
    assert_eq!((view["status"].clone(), view["paymentStatus"].clone()), (json!("CANCELLED"), json!("REFUNDED")));
    assert_eq!(once.1.iter().filter(|i| i["kind"] == "notification").count(), 5);
    // The host's per-night counts took the stay and gave it back: both nights at zero.
    let nights: Vec<(Value, Value)> = once.0.iter().filter(|i| i["kind"] == "host-night").map(|i| (i["night"].clone(), i["booked"].clone())).collect();
    assert_eq!(nights, vec![(json!(day(7)), json!(0)), (json!(day(8)), json!(0))]);
    let confirmed_only = project(on, &in_order[..2]).await;
    let booked: Vec<Value> = confirmed_only.0.iter().filter(|i| i["kind"] == "host-night").map(|i| i["booked"].clone()).collect();
    assert_eq!(booked, vec![json!(1), json!(1)], "a confirmed stay takes each of its nights once");
}

/// Counts what the dashboard asks of the table.
struct Counted {
    inner: Arc<dyn bnb_contexts::storage::Table>,
    calls: std::sync::Mutex<Vec<&'static str>>,
}

#[async_trait::async_trait]
impl bnb_contexts::storage::Table for Counted {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn get(&self, key: &bnb_contexts::storage::Key) -> Result<Option<Item>, bnb_contexts::storage::StorageError> {
        self.calls.lock().unwrap().push("get");
        self.inner.get(key).await
    }
    async fn query(&self, query: &bnb_contexts::storage::Query) -> Result<bnb_contexts::storage::Page, bnb_contexts::storage::StorageError> {
        self.calls.lock().unwrap().push("query");
        let page = self.inner.query(query).await?;
        assert!(page.items.len() <= bnb_contexts::views::DASHBOARD_PAGE, "a query of at most one page");
        Ok(page)
    }
    async fn write(&self, ops: Vec<bnb_contexts::storage::WriteOp>) -> Result<(), bnb_contexts::storage::StorageError> {
        self.inner.write(ops).await
    }
    async fn read_stream(
        &self,
        from: &bnb_contexts::storage::StreamPosition,
        limit: usize,
    ) -> Result<bnb_contexts::storage::StreamBatch, bnb_contexts::storage::StorageError> {
        self.inner.read_stream(from, limit).await
    }
}

/// A host with 60 rooms, 3 deleted, and 40 one-night stays: the dashboard counts 57 active
/// rooms and books occupancy from the nightly counts, lists 50 rooms with a cursor to the rest,
/// and asks the table the same thing as for a host with one room: one lookup, five queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_costs_the_same_for_sixty_rooms_as_for_one() {
    let (views, _dir) = support::embedded_table(bnb_contexts::tables::views());
    let projector = ViewProjector::new(views.clone());
    let cause = Causation::request("c-dash");
    let room = |i: usize, status: &str, version: u64| {
        json!({"roomId": format!("01a20000-0000-7000-8000-{i:012}"), "hostId": "host-hana", "title": format!("Room {i}"), "description": "", "city": "Seoul",
               "address": "1", "capacity": 2, "nightlyPrice": {"amount": 100000, "currency": "KRW"}, "amenities": [], "status": status, "version": version,
               "rating": {"count": 0, "average": null}, "createdAt": "2026-11-20T10:00:00Z", "updatedAt": "2026-11-20T10:00:00Z"})
    };
    for i in 0..60 {
        let id = format!("01a20000-0000-7000-8000-{i:012}");
        apply_once(&projector, &Envelope::from_payload(EventType::RoomRegistered, &id, 1, &cause, room(i, "ACTIVE", 1)).unwrap()).await.unwrap();
    }
    for i in 0..3 {
        let id = format!("01a20000-0000-7000-8000-{i:012}");
        let deleted = Envelope::from_payload(EventType::RoomDeleted, &id, 2, &cause, room(i, "DELETED", 2)).unwrap();
        apply_once(&projector, &deleted).await.unwrap();
        apply_once(&projector, &deleted).await.unwrap();
    }
    for i in 0..40usize {
        let reservation = json!({"reservationId": format!("01a30000-0000-7000-8000-{i:012}"), "roomId": format!("01a20000-0000-7000-8000-{:012}", 10 + i % 20),
               "roomTitle": "Room", "guestId": "guest-minho", "hostId": "host-hana", "checkIn": day(1 + (i / 20) as i64), "checkOut": day(2 + (i / 20) as i64),
               "guests": 1, "amount": {"amount": 100000, "currency": "KRW"}, "status": "CONFIRMED", "version": 2});
        let id = format!("01a30000-0000-7000-8000-{i:012}");
        apply_once(&projector, &Envelope::from_payload(EventType::ReservationConfirmed, &id, 2, &cause, reservation).unwrap()).await.unwrap();
    }
    let counted = Counted { inner: views.clone(), calls: Default::default() };
    let host = bnb_contexts::domain::Actor::new(bnb_contexts::domain::UserId::new("host-hana"), vec!["host".into()]);
    let today = bnb_contexts::clock::Clock::today(&bnb_contexts::clock::SystemClock);
    let first = bnb_contexts::views::host_dashboard(&counted, &host, today, Default::default()).await.unwrap();
    assert_eq!(first.active_rooms, 57);
    assert_eq!((first.rooms.len(), first.occupancy.booked_nights, first.occupancy.available_nights), (50, 40, 57 * 30));
    assert_eq!(first.stays.len(), 40);
    let calls = std::mem::take(&mut *counted.calls.lock().unwrap());
    assert_eq!(calls, ["get", "query", "query", "query", "query", "query"]);
    let cursor = first.rooms_next_cursor.expect("a cursor to the other rooms");
    let cursors = bnb_contexts::views::DashboardCursors { rooms: Some(&cursor), stays: None };
    let second = bnb_contexts::views::host_dashboard(&counted, &host, today, cursors).await.unwrap();
    assert_eq!((second.rooms.len(), second.rooms_next_cursor), (10, None));
    let bad = bnb_contexts::views::DashboardCursors { rooms: Some("not-a-cursor"), stays: None };
    match bnb_contexts::views::host_dashboard(&counted, &host, today, bad).await {
        Err(bnb_contexts::views::ViewError::Invalid(invalid)) => assert_eq!(invalid.0[0].field, "roomsCursor"),
        other => panic!("a bad cursor is refused by name: {other:?}"),
    }
}

on_both_backends!(
    a_booking_and_its_cancellation_show_everywhere_they_should,
    reviews_need_a_stay_come_once_per_stay_and_move_the_rating,
    bookings_go_on_while_views_and_notifications_are_down,
    events_out_of_order_and_twice_project_as_once_in_order,
);
