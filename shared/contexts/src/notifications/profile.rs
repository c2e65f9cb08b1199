//! Who gets told how: a small profile per person (phone number for SMS, language), kept by the
//! notification context, and the person's own notifications.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::domain::notification::Locale;
use crate::domain::Actor;
use crate::domain::Invalid;
use crate::storage::{from_item, to_item, Item, Key, Query, SortKey, StorageError, Table, WriteOp};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub locale: Locale,
}

/// `PUT /me/profile`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileRequest {
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
}

pub fn profile_key(user: &str) -> Key {
    Key::new(format!("PROFILE#{user}"), "PROFILE")
}

/// A person's profile, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(flatten)]
    pub profile: Profile,
}

/// The person's profile; the defaults (no phone, Korean) for someone who never set one.
pub async fn load_profile(table: &dyn Table, user: &str) -> Result<Profile, StorageError> {
    match table.get(&profile_key(user)).await? {
        Some(item) => from_item::<ProfileItem>(&item).map(|stored| stored.profile),
        None => Ok(Profile::default()),
    }
}

/// How the caller is told (`GET /me/profile`).
pub async fn my_profile(table: &dyn Table, caller: &Actor) -> Result<Profile, crate::views::ViewError> {
    Ok(load_profile(table, caller.user_id.as_str()).await?)
}

/// The caller sets how they are told: a phone number (E.164) for SMS, `ko` or `en`.
pub async fn update_profile(table: &dyn Table, caller: &Actor, request: ProfileRequest) -> Result<Profile, crate::views::ViewError> {
    let mut invalid = Invalid::default();
    let phone = request.phone_number.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
    if let Some(p) = &phone {
        let digits = p.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            invalid.push("phoneNumber", "must be in E.164 form, e.g. +821012345678");
        }
    }
    let locale = match request.locale.as_deref() {
        None | Some("ko") => Locale::Korean,
        Some("en") => Locale::English,
        Some(_) => {
            invalid.push("locale", "must be `ko` or `en`");
            Locale::Korean
        }
    };
    invalid.into_result()?;
    let profile = Profile { phone_number: phone, locale };
    let key = profile_key(caller.user_id.as_str());
    let item = ProfileItem { pk: key.pk, sk: key.sk, kind: "profile".into(), profile: profile.clone() };
    // An outage is a 503 to retry, not the caller's mistake.
    table.write(vec![WriteOp::put(to_item(&item)?)]).await?;
    Ok(profile)
}

fn public(item: &Item) -> Value {
    let shown = ["notificationId", "eventId", "eventType", "aggregateId", "template", "locale", "text", "createdAt", "delivery", "failure"];
    Value::Object(item.iter().filter(|(k, _)| shown.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect::<Map<_, _>>())
}

/// The caller's notifications, newest first.
pub async fn my_notifications(table: &dyn Table, caller: &Actor, cursor: Option<&str>, limit: Option<&str>) -> Result<Value, crate::views::ViewError> {
    let (cursor, limit) = crate::paging::page_params(cursor, limit)?;
    let query = Query::partition(format!("USER#{}", caller.user_id)).sort(SortKey::BeginsWith("NOTIF#".into())).descending().limit(limit).after(cursor);
    let page = table.query(&query).await?;
    Ok(json!({"items": page.items.iter().map(public).collect::<Vec<_>>(), "nextCursor": page.next.map(|c| c.as_str().to_owned())}))
}
