//! Lambda event filtering (`FilterCriteria`) for the event-source mappings bnb-local runs: a record
//! reaches the function only if one of the mapping's patterns matches it, as on AWS. Patterns are
//! EventBridge-style JSON over the record as Lambda delivers it (`eventName`,
//! `dynamodb.Keys.pk.S`, ...): an object matches when each of its keys matches; a list of
//! conditions when any of them does. The conditions bnb-local knows are exact strings, numbers
//! and booleans, `{"prefix": ...}`, `{"exists": ...}` and `{"anything-but": [...]}`; a template
//! with another one is refused when bnb-local loads it, so the local runtime never filters
//! differently from Lambda without saying so.

use serde_json::Value;

/// One pattern of a mapping's `FilterCriteria.Filters`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern(Value);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("filter pattern is not one bnb-local can evaluate: {0}")]
pub struct InvalidPattern(String);

impl EventPattern {
    /// Parses `Pattern`, the JSON text the template gives.
    pub fn parse(text: &str) -> Result<EventPattern, InvalidPattern> {
        let pattern: Value = serde_json::from_str(text).map_err(|e| InvalidPattern(format!("not JSON: {e}")))?;
        check(&pattern, "")?;
        Ok(EventPattern(pattern))
    }

    /// Whether `record` (one record, in Lambda's JSON) passes.
    pub fn matches(&self, record: &Value) -> bool {
        object_matches(&self.0, Some(record))
    }
}

/// Whether any of a mapping's patterns lets `record` through; a mapping without filters lets
/// every record through.
pub fn admits(patterns: &[EventPattern], record: &Value) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(record))
}

fn check(pattern: &Value, at: &str) -> Result<(), InvalidPattern> {
    let object = pattern.as_object().ok_or_else(|| InvalidPattern(format!("`{at}` must be an object")))?;
    for (key, rule) in object {
        let here = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
        match rule {
            Value::Object(_) => check(rule, &here)?,
            Value::Array(conditions) if !conditions.is_empty() => {
                for c in conditions {
                    match c {
                        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {}
                        Value::Object(o) if o.len() == 1 && ["prefix", "exists", "anything-but"].iter().any(|k| o.contains_key(*k)) => {}
                        other => return Err(InvalidPattern(format!("`{here}` has a condition bnb-local does not evaluate: {other}"))),
                    }
                }
            }
            _ => return Err(InvalidPattern(format!("`{here}` must be an object or a non-empty list of conditions"))),
        }
    }
    Ok(())
}

fn object_matches(pattern: &Value, value: Option<&Value>) -> bool {
    let Some(rules) = pattern.as_object() else { return false };
    rules.iter().all(|(key, rule)| {
        let field = value.and_then(|v| v.get(key));
        match rule {
            Value::Object(_) => object_matches(rule, field),
            Value::Array(conditions) => conditions.iter().any(|c| condition_holds(c, field)),
            _ => false,
        }
    })
}

fn condition_holds(condition: &Value, field: Option<&Value>) -> bool {
    // A list in the record matches when any of its elements does.
    if let Some(Value::Array(items)) = field {
        return items.iter().any(|item| condition_holds(condition, Some(item)));
    }
    match condition {
        Value::Object(o) => {
            if let Some(exists) = o.get("exists").and_then(Value::as_bool) {
                return field.is_some() == exists;
            }
            let Some(field) = field else { return false };
            if let Some(prefix) = o.get("prefix").and_then(Value::as_str) {
                return field.as_str().is_some_and(|s| s.starts_with(prefix));
            }
            match o.get("anything-but") {
                Some(Value::Array(list)) => !list.contains(field),
                Some(single) => single != field,
                None => false,
            }
        }
        Value::Number(n) => field.and_then(Value::as_f64) == n.as_f64() || field.and_then(Value::as_str).and_then(|s| s.parse::<f64>().ok()) == n.as_f64(),
        exact => field == Some(exact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(event_name: &str, pk: &str) -> Value {
        json!({"eventName": event_name, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "X"}}}})
    }

    #[test]
    fn outbox_inserts_pass_and_nothing_else_does() {
        let p = EventPattern::parse(r#"{"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "OUTBOX#"}]}}}}"#).unwrap();
        assert!(p.matches(&record("INSERT", "OUTBOX#01936f4e")));
        assert!(!p.matches(&record("REMOVE", "OUTBOX#01936f4e")), "clearing the outbox item");
        assert!(!p.matches(&record("INSERT", "NIGHT#room#2026-12-24")));
        assert!(!p.matches(&record("MODIFY", "BREAKER#payment")));
        assert!(!p.matches(&json!({"eventName": "INSERT"})), "a missing key never matches a value");
    }

    #[test]
    fn conditions_combine_as_lambda_does() {
        let p = EventPattern::parse(r#"{"a": ["x", "y"], "b": [{"exists": false}], "c": [{"anything-but": ["no"]}], "n": [5]}"#).unwrap();
        assert!(p.matches(&json!({"a": "y", "c": "yes", "n": 5})));
        assert!(p.matches(&json!({"a": ["z", "x"], "c": "ok", "n": 5})), "a list matches by any element");
        assert!(!p.matches(&json!({"a": "x", "b": 1, "c": "yes", "n": 5})), "b must not exist");
        assert!(!p.matches(&json!({"a": "x", "c": "no", "n": 5})));
        assert!(!p.matches(&json!({"a": "x", "c": "yes", "n": 6})));
        assert!(admits(&[], &json!({})), "no filters: everything passes");
    }

    #[test]
    fn unknown_conditions_are_refused_not_ignored() {
        assert!(EventPattern::parse(r#"{"n": [{"numeric": [">", 1]}]}"#).is_err());
        assert!(EventPattern::parse(r#"{"a": []}"#).is_err());
        assert!(EventPattern::parse(r#"{"a": "x"}"#).is_err());
        assert!(EventPattern::parse("not json").is_err());
    }
}
