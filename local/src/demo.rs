//! `bnb-local demo`: the whole story against a fresh data folder, each step printed with its
//! HTTP call and answer, each checked. Exits non-zero at the first step that does not do what
//! it says.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::auth::Authority;
use crate::runtime::{start, LocalConfig, Running};

pub type DemoError = Box<dyn std::error::Error + Send + Sync>;

struct Story<'a> {
    running: &'a Running,
    authority: Authority,
    http: reqwest::Client,
    out: &'a mut dyn FnMut(String),
    step: usize,
    clock: std::sync::Arc<bnb_contexts::clock::ShiftedClock>,
}

impl Story<'_> {
    fn say(&mut self, text: &str) {
        self.step += 1;
        (self.out)(format!("\n{}. {text}", self.step));
    }

    async fn call(
        &mut self,
        who: Option<(&str, &str)>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value, reqwest::header::HeaderMap), DemoError> {
        let mut request = self.http.request(method.parse()?, format!("{}{path}", self.running.url()));
        if let Some((sub, groups)) = who {
            request = request.bearer_auth(self.authority.mint(sub, &[groups.to_owned()], None, None, 3600)?);
        }
        let shown = body.as_ref().map(|b| format!(" {b}")).unwrap_or_default();
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let who = who.map(|(s, _)| s).unwrap_or("anyone");
        let mut brief = answer.to_string();
        if brief.chars().count() > 240 {
            brief = format!("{}...", brief.chars().take(240).collect::<String>());
        }
        (self.out)(format!("   {who}: {method} {path}{shown}\n   -> {status} {brief}"));
        Ok((status, answer, headers))
    }

    /// Asks until `check` holds, for at most `seconds`: the event path is asynchronous.
    async fn until(&mut self, seconds: u64, what: &str, who: Option<(&str, &str)>, path: &str, check: impl Fn(&Value) -> bool) -> Result<Value, DemoError> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let mut request = self.http.get(format!("{}{path}", self.running.url()));
            if let Some((sub, groups)) = who {
                request = request.bearer_auth(self.authority.mint(sub, &[groups.to_owned()], None, None, 3600)?);
            }
            let answer: Value = request.send().await?.json().await.unwrap_or(Value::Null);
            if check(&answer) {
                let who = who.map(|(s, _)| s).unwrap_or("anyone");
                let mut brief = answer.to_string();
                if brief.chars().count() > 400 {
                    brief = format!("{}...", brief.chars().take(400).collect::<String>());
                }
                (self.out)(format!("   {who}: GET {path}\n   -> 200 {brief}"));
                return Ok(answer);
            }
            if Instant::now() > deadline {
                return Err(format!("{what}: not within {seconds} s; last answer {answer}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn expect(ok: bool, what: &str) -> Result<(), DemoError> {
    if ok {
        Ok(())
    } else {
        Err(format!("expected {what}").into())
    }
}

fn day(days: i64) -> String {
    bnb_contexts::domain::stay::format_date(bnb_contexts::clock::Clock::today(&bnb_contexts::clock::SystemClock) + time::Duration::days(days))
}

const HANA: Option<(&str, &str)> = Some(("hana", "host"));
const MINHO: Option<(&str, &str)> = Some(("minho", "guest"));
const JIWOO: Option<(&str, &str)> = Some(("jiwoo", "guest"));

/// Runs the story on a system started from `config` (whose data folder should be fresh).
pub async fn run(mut config: LocalConfig, out: &mut dyn FnMut(String)) -> Result<(), DemoError> {
    // The story jumps ahead in time (to after a stay, for its review) instead of waiting.
    let clock = bnb_contexts::clock::ShiftedClock::new();
    config.clock = clock.clone();
    let running = start(config.clone()).await?;
    let authority = Authority::load_or_create(&config.data_dir)?;
    let mut story = Story { running: &running, authority, http: reqwest::Client::new(), out, step: 0, clock };
    let result = play(&mut story).await;
    running.stop().await?;
    result
}

async fn play(s: &mut Story<'_>) -> Result<(), DemoError> {
    let (check_in, check_out) = (day(14), day(17));

    s.say("Hana (a host, reads Korean) and Minho (a guest, reads English, has a phone) say how they want to be told");
    let (status, _, _) = s.call(HANA, "PUT", "/me/profile", Some(json!({"locale": "ko", "phoneNumber": "+821011112222"}))).await?;
    expect(status == 200, "200 for Hana's profile")?;
    let (status, _, _) = s.call(MINHO, "PUT", "/me/profile", Some(json!({"locale": "en", "phoneNumber": "+821033334444"}))).await?;
    expect(status == 200, "200 for Minho's profile")?;

    s.say("Hana registers two rooms in Seoul");
    let mut rooms = Vec::new();
    for (title, price) in [("Hanok by the palace", 120_000), ("Riverside loft", 90_000)] {
        let body = json!({"title": title, "city": "Seoul", "address": "12 Bukchon-ro", "capacity": 2, "nightlyPrice": {"amount": price, "currency": "KRW"}, "amenities": ["wifi"]});
        let (status, room, _) = s.call(HANA, "POST", "/rooms", Some(body)).await?;
        expect(status == 201, "201 for a new room")?;
        rooms.push(room["roomId"].as_str().unwrap_or_default().to_owned());
    }

    s.say("Minho searches Seoul for two guests on his dates: both rooms are free");
    let (status, page, _) = s.call(None, "GET", &format!("/rooms?city=seoul&guests=2&checkIn={check_in}&checkOut={check_out}"), None).await?;
    expect(status == 200 && page["items"].as_array().map(Vec::len) == Some(2), "two rooms found")?;

    s.say("Minho books the hanok and pays (the payment is a synchronous call behind a circuit breaker)");
    let booking = json!({"roomId": rooms[0], "checkIn": check_in, "checkOut": check_out, "guests": 2, "cardToken": "tok_visa"});
    let (status, booked, _) = s.call(MINHO, "POST", "/reservations", Some(booking.clone())).await?;
    expect(status == 201 && booked["reservation"]["status"] == "CONFIRMED" && booked["payment"]["status"] == "APPROVED", "201, confirmed and paid")?;
    let id = booked["reservation"]["reservationId"].as_str().unwrap_or_default().to_owned();

    s.say("Hana's dashboard shows the stay and the revenue (a CQRS view, fed by events)");
    s.until(30, "the dashboard shows the stay", HANA, "/host/dashboard", |d| {
        d["stays"].as_array().map(Vec::len) == Some(1) && d["revenue"][0]["net"] == 360_000
    })
    .await?;

    s.say("The notifications arrive: Minho's in English, Hana's in Korean (stored, texted, and published for KakaoTalk)");
    s.until(30, "Minho is told", MINHO, "/me/notifications", |n| n["items"][0]["text"].as_str().is_some_and(|t| t.contains("is confirmed"))).await?;
    s.until(30, "Hana is told", HANA, "/me/notifications", |n| n["items"][0]["text"].as_str().is_some_and(|t| t.contains("새 예약"))).await?;

    s.say("Jiwoo tries the same nights: 409, naming the nights");
    let (status, problem, _) = s.call(JIWOO, "POST", "/reservations", Some(booking)).await?;
    expect(status == 409 && problem["detail"].as_str().is_some_and(|d| d.contains(&check_in)), "409 naming the nights")?;

    s.say("Jiwoo books the loft while payment hangs (tok_slow): 503 + Retry-After, nothing kept");
    let slow = json!({"roomId": rooms[1], "checkIn": check_in, "checkOut": check_out, "guests": 1, "cardToken": "tok_slow"});
    let (status, problem, headers) = s.call(JIWOO, "POST", "/reservations", Some(slow)).await?;
    expect(status == 503 && headers.contains_key("retry-after"), "503 with Retry-After")?;
    expect(problem["title"] == "Payment is busy, try again shortly", "the busy-payment message")?;
    let (status, page, _) = s.call(None, "GET", &format!("/rooms?city=seoul&checkIn={check_in}&checkOut={check_out}"), None).await?;
    expect(status == 200 && page["items"].as_array().map(Vec::len) == Some(1), "the loft still free, the hanok taken")?;

    s.say("Minho cancels; the payment is refunded and his view says so");
    let (status, cancelled, _) = s.call(MINHO, "POST", &format!("/reservations/{id}/cancel"), None).await?;
    expect(status == 200 && cancelled["status"] == "CANCELLED", "200 cancelled")?;
    s.until(30, "the refund shows", MINHO, &format!("/reservations/{id}"), |v| v["status"] == "CANCELLED" && v["paymentStatus"] == "REFUNDED").await?;
    s.until(30, "Hana's revenue is net of the refund", HANA, "/host/dashboard", |d| d["revenue"][0]["net"] == 0).await?;

    s.say("Minho stays at the loft; three days later he reviews it, and its rating moves");
    let stay = json!({"roomId": rooms[1], "checkIn": day(1), "checkOut": day(2), "guests": 1, "cardToken": "tok_visa"});
    let (status, _, _) = s.call(MINHO, "POST", "/reservations", Some(stay)).await?;
    expect(status == 201, "201 for the loft")?;
    let (status, _, _) = s.call(MINHO, "POST", &format!("/rooms/{}/reviews", rooms[1]), Some(json!({"rating": 5, "text": "Lovely view of the river"}))).await?;
    expect(status == 403, "403 for a review before the stay has ended")?;
    s.clock.advance(std::time::Duration::from_secs(3 * 86_400));
    let (status, _, _) = s.call(MINHO, "POST", &format!("/rooms/{}/reviews", rooms[1]), Some(json!({"rating": 5, "text": "Lovely view of the river"}))).await?;
    expect(status == 201, "201 for the review")?;
    s.until(30, "the rating moves", None, &format!("/rooms/{}", rooms[1]), |r| r["rating"]["count"] == 1 && r["rating"]["average"] == 5.0).await?;
    (s.out)("\nThe whole story held.".into());
    Ok(())
}
