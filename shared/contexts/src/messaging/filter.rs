//! SNS subscription filter policies on message attributes: what decides which queues an event
//! reaches. The embedded topic evaluates them; SNS evaluates the same JSON on AWS.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed filter policy (`{"eventType": ["A", "B"]}`, `{"eventType": [{"anything-but": ["C"]}]}`).
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy(BTreeMap<String, Vec<Value>>);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("filter policy is not valid: {0}")]
pub struct InvalidPolicy(String);

impl FilterPolicy {
    pub fn parse(policy: &Value) -> Result<FilterPolicy, InvalidPolicy> {
        let object = policy.as_object().ok_or_else(|| InvalidPolicy("must be a JSON object".into()))?;
        let mut rules = BTreeMap::new();
        for (key, conditions) in object {
            let list = match conditions {
                Value::Array(list) if !list.is_empty() => list.clone(),
                _ => return Err(InvalidPolicy(format!("`{key}` must be a non-empty list"))),
            };
            for c in &list {
                match c {
                    Value::String(_) | Value::Number(_) => {}
                    Value::Object(o) if o.len() == 1 && ["anything-but", "prefix", "exists"].iter().any(|k| o.contains_key(*k)) => {}
                    other => return Err(InvalidPolicy(format!("`{key}` has an unsupported condition {other}"))),
                }
            }
            rules.insert(key.clone(), list);
        }
        Ok(FilterPolicy(rules))
    }

    /// Whether a message with these (string) attributes passes: every key's list must have a
    /// condition that holds.
    pub fn admits(&self, attributes: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(key, conditions)| {
            let value = attributes.get(key);
            conditions.iter().any(|c| holds(c, value))
        })
    }
}

fn holds(condition: &Value, value: Option<&String>) -> bool {
    match condition {
        Value::String(s) => value == Some(s),
        Value::Number(n) => value.is_some_and(|v| v.parse::<f64>().ok() == n.as_f64()),
        Value::Object(o) => {
            if let Some(but) = o.get("anything-but") {
                let Some(value) = value else { return false };
                match but {
                    Value::Array(list) => !list.iter().any(|x| x.as_str() == Some(value.as_str())),
                    Value::String(s) => s != value,
                    Value::Object(inner) => inner.get("prefix").and_then(Value::as_str).is_some_and(|p| !value.starts_with(p)),
                    _ => false,
                }
            } else if let Some(prefix) = o.get("prefix").and_then(Value::as_str) {
                value.is_some_and(|v| v.starts_with(prefix))
            } else if let Some(exists) = o.get("exists").and_then(Value::as_bool) {
                value.is_some() == exists
            } else {
                false
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(event_type: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("eventType".to_string(), event_type.to_string())])
    }

    #[test]
    fn policies_match_like_sns() {
        let list = FilterPolicy::parse(&json!({"eventType": ["RoomDeleted", "PaymentRefunded"]})).unwrap();
        assert!(list.admits(&attrs("RoomDeleted")));
        assert!(!list.admits(&attrs("RoomRegistered")));
        assert!(!list.admits(&BTreeMap::new()));
        let but = FilterPolicy::parse(&json!({"eventType": [{"anything-but": ["PaymentDeclined"]}]})).unwrap();
        assert!(but.admits(&attrs("RoomRegistered")));
        assert!(!but.admits(&attrs("PaymentDeclined")));
        assert!(!but.admits(&BTreeMap::new()), "anything-but needs the attribute");
        let prefix = FilterPolicy::parse(&json!({"eventType": [{"prefix": "Reservation"}]})).unwrap();
        assert!(prefix.admits(&attrs("ReservationConfirmed")));
        assert!(!prefix.admits(&attrs("RoomDeleted")));
        let exists = FilterPolicy::parse(&json!({"eventType": [{"exists": false}]})).unwrap();
        assert!(exists.admits(&BTreeMap::new()));
        assert!(FilterPolicy::parse(&json!({"eventType": []})).is_err());
        assert!(FilterPolicy::parse(&json!(["x"])).is_err());
    }
}
