use std::cmp::Ordering;

use serde_json::Value;

use super::Item;

/// A typed write condition, evaluated against the item as it is before the write.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists.
    Exists,
    /// The item does not exist.
    NotExists,
    AttributeExists(String),
    AttributeNotExists(String),
    Equals(String, Value),
    NotEquals(String, Value),
    /// The attribute exists, is of the value's type and is less than it.
    LessThan(String, Value),
    /// The attribute exists, is of the value's type and is greater than it.
    GreaterThan(String, Value),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    pub fn equals(attr: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::Equals(attr.into(), value.into())
    }
    pub fn less_than(attr: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::LessThan(attr.into(), value.into())
    }
    pub fn greater_than(attr: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::GreaterThan(attr.into(), value.into())
    }
    pub fn and(self, other: Condition) -> Self {
        Condition::And(vec![self, other])
    }
    pub fn or(self, other: Condition) -> Self {
        Condition::Or(vec![self, other])
    }

    /// Evaluates the condition as DynamoDB would against `current` (`None` when the item is
    /// missing): comparisons with a missing attribute or a value of another type are false.
    pub fn holds(&self, current: Option<&Item>) -> bool {
        let attr = |name: &str| current.and_then(|item| item.get(name));
        match self {
            Condition::Exists => current.is_some(),
            Condition::NotExists => current.is_none(),
            Condition::AttributeExists(a) => attr(a).is_some(),
            Condition::AttributeNotExists(a) => attr(a).is_none(),
            Condition::Equals(a, v) => attr(a).is_some_and(|x| compare(x, v) == Some(Ordering::Equal)),
            Condition::NotEquals(a, v) => attr(a).is_none_or(|x| compare(x, v) != Some(Ordering::Equal)),
            Condition::LessThan(a, v) => attr(a).is_some_and(|x| compare(x, v) == Some(Ordering::Less)),
            Condition::GreaterThan(a, v) => attr(a).is_some_and(|x| compare(x, v) == Some(Ordering::Greater)),
            Condition::And(all) => all.iter().all(|c| c.holds(current)),
            Condition::Or(any) => any.iter().any(|c| c.holds(current)),
        }
    }

    /// Compiles the condition to a DynamoDB condition expression, adding its names and values
    /// to `ctx`.
    pub fn to_expression(&self, ctx: &mut ExpressionContext) -> String {
        match self {
            Condition::Exists => "attribute_exists(pk)".into(),
            Condition::NotExists => "attribute_not_exists(pk)".into(),
            Condition::AttributeExists(a) => format!("attribute_exists({})", ctx.name(a)),
            Condition::AttributeNotExists(a) => format!("attribute_not_exists({})", ctx.name(a)),
            Condition::Equals(a, v) => format!("{} = {}", ctx.name(a), ctx.value(v)),
            Condition::NotEquals(a, v) => format!("{} <> {}", ctx.name(a), ctx.value(v)),
            Condition::LessThan(a, v) => format!("{} < {}", ctx.name(a), ctx.value(v)),
            Condition::GreaterThan(a, v) => format!("{} > {}", ctx.name(a), ctx.value(v)),
            Condition::And(all) => join(all, " AND ", ctx),
            Condition::Or(any) => join(any, " OR ", ctx),
        }
    }
}

fn join(parts: &[Condition], sep: &str, ctx: &mut ExpressionContext) -> String {
    if parts.is_empty() {
        // An empty AND holds and an empty OR does not; DynamoDB has no literal for either.
        return if sep.trim() == "AND" {
            "attribute_exists(pk) OR attribute_not_exists(pk)".into()
        } else {
            "attribute_exists(pk) AND attribute_not_exists(pk)".into()
        };
    }
    let inner: Vec<String> = parts.iter().map(|c| format!("({})", c.to_expression(ctx))).collect();
    inner.join(sep)
}

/// Orders two attribute values the way DynamoDB's comparators do: numbers by value, strings by
/// UTF-8 bytes, booleans and null only for equality; values of different types don't compare.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bool(x), Value::Bool(y)) if x == y => Some(Ordering::Equal),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (x, y) if x == y => Some(Ordering::Equal),
        _ => None,
    }
}

/// Placeholder names (`#n0`) and values (`:v0`) collected while compiling expressions.
#[derive(Debug, Default)]
pub struct ExpressionContext {
    pub names: Vec<(String, String)>,
    pub values: Vec<(String, Value)>,
}

impl ExpressionContext {
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a == attr) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.push((placeholder.clone(), attr.to_owned()));
        placeholder
    }

    pub fn value(&mut self, value: &Value) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), value.clone()));
        placeholder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn comparisons_follow_dynamodb() {
        let it = item(json!({"pk": "a", "sk": "b", "version": 3, "status": "ACTIVE"}));
        assert!(Condition::less_than("version", 4).holds(Some(&it)));
        assert!(!Condition::less_than("version", 3).holds(Some(&it)));
        assert!(!Condition::less_than("version", "4").holds(Some(&it)), "types don't compare");
        assert!(!Condition::less_than("missing", 4).holds(Some(&it)));
        assert!(Condition::NotEquals("missing".into(), json!(1)).holds(Some(&it)));
        assert!(Condition::NotExists.or(Condition::less_than("version", 9)).holds(Some(&it)));
        assert!(Condition::NotExists.holds(None));
        assert!(!Condition::Exists.holds(None));
        assert!(Condition::And(vec![]).holds(None));
        assert!(!Condition::Or(vec![]).holds(None));
    }

    #[test]
    fn expressions_use_placeholders() {
        let mut ctx = ExpressionContext::default();
        let e = Condition::NotExists.or(Condition::less_than("version", 2)).to_expression(&mut ctx);
        assert_eq!(e, "(attribute_not_exists(pk)) OR (#n0 < :v0)");
        assert_eq!(ctx.names, vec![("#n0".to_string(), "version".to_string())]);
    }
}
