//! What `events/` needs to run against real resources: the data its samples refer to
//! (`bnb-local seed`), and the environment `sam local invoke --env-vars events/env.json` gives
//! each function (`bnb-local env-json`, kept in step with the template by a test).

use bnb_contexts::domain::room::{Room, RoomDetails, RoomInput};
use bnb_contexts::domain::{Actor, RoomId, UserId};
use bnb_contexts::notifications::{update_profile, NotificationItem, ProfileRequest};
use bnb_contexts::rooms::RoomStore;
use bnb_contexts::storage::{to_item, WriteOp};
use serde_json::{json, Map, Value};

use crate::template::{name_from_arn, Topology};
use crate::wiring::{Wiring, WiringError};

/// The room every sample about `01936f4e-7c1a-...` refers to: Hana's, in Seoul.
pub const SAMPLE_ROOM: &str = "01936f4e-7c1a-7d3e-9b2f-4a5c6d7e8f90";

/// Writes the data the samples refer to: the room, and Minho's confirmation with his phone
/// number (what `alimtalk-sender`'s sample sends).
pub async fn seed(wiring: &Wiring) -> Result<(), WiringError> {
    let details = RoomDetails::validate(RoomInput {
        title: "Hanok".into(),
        city: "Seoul".into(),
        address: "1 Bukchon-ro".into(),
        capacity: 2,
        price_amount: 120_000,
        price_currency: "KRW".into(),
        ..Default::default()
    })
    .map_err(|e| format!("the sample room: {e:?}"))?;
    let mut room = Room::register(UserId::new("host-hana"), details, time::OffsetDateTime::now_utc());
    room.id = RoomId::parse(SAMPLE_ROOM).ok_or("the sample room id is not a room id")?;
    wiring.table("rooms")?.write(vec![WriteOp::put(RoomStore::to_item(&room)?)]).await?;

    let notifications = wiring.table("notifications")?;
    let minho = Actor::new(UserId::new("guest-minho"), vec!["guest".into()]);
    let phone = ProfileRequest { phone_number: Some("+821012345678".into()), locale: Some("ko".into()) };
    update_profile(notifications.as_ref(), &minho, phone).await.map_err(|e| format!("the sample profile: {e:?}"))?;
    let item: NotificationItem = serde_json::from_value(json!({
        "pk": "USER#guest-minho", "sk": "NOTIF#001795514400#01936f4e-1111-7d3e-9b2f-4a5c6d7e8f12", "kind": "notification",
        "notificationId": "01936f4e-1111-7d3e-9b2f-4a5c6d7e8f12:guest-minho", "eventId": "01936f4e-1111-7d3e-9b2f-4a5c6d7e8f12",
        "eventType": "ReservationConfirmed", "aggregateId": "01936f4e-9999-7d3e-9b2f-4a5c6d7e8f91", "template": "reservation-confirmed", "locale": "ko",
        "text": "[bnb] 예약이 확정되었습니다: Hanok stay by Gyeongbokgung, 2026-12-24 ~ 2026-12-26, 결제 240000 KRW.", "createdAt": "2026-11-24T10:00:00Z",
        "delivery": "PENDING", "alerted": true
    }))?;
    notifications.write(vec![WriteOp::put(to_item(&item)?)]).await?;
    Ok(())
}

/// Where the functions of `sam local invoke` find their resources: the names `bnb-local
/// --endpoint <endpoint> --prefix <prefix> seed` creates on that endpoint.
#[derive(Debug, Clone)]
pub struct SamplesEndpoint {
    /// As the function's container reaches it (`http://host.docker.internal:5000` for moto on
    /// the host).
    pub endpoint: String,
    pub prefix: String,
    pub account: String,
    pub region: String,
}

impl Default for SamplesEndpoint {
    fn default() -> Self {
        SamplesEndpoint {
            endpoint: "http://host.docker.internal:5000".into(),
            prefix: "bnb-local-".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
        }
    }
}

/// The `--env-vars` file: each function's environment as the template sets it, with every
/// resource named as on `at` (tables, topic ARNs, queue URLs), and the endpoint for all.
pub fn env_json(topology: &Topology, at: &SamplesEndpoint) -> Value {
    let mut out = Map::new();
    out.insert("Parameters".into(), json!({"AWS_ENDPOINT_URL": at.endpoint, "AWS_REGION": at.region}));
    for f in &topology.functions {
        let vars: Map<String, Value> = f
            .environment
            .iter()
            .map(|(k, v)| {
                let value = if k.ends_with("_TABLE") {
                    format!("{}{v}", at.prefix)
                } else if k.ends_with("_TOPIC_ARN") {
                    format!("arn:aws:sns:{}:{}:{}{}", at.region, at.account, at.prefix, name_from_arn(v))
                } else if k == "DEAD_LETTER_QUEUE_URL" {
                    format!("{}/{}/{}{}", at.endpoint, at.account, at.prefix, v.rsplit('/').next().unwrap_or_default())
                } else {
                    v.clone()
                };
                (k.clone(), Value::String(value))
            })
            .collect();
        out.insert(f.logical_id.clone(), Value::Object(vars));
    }
    Value::Object(out)
}
