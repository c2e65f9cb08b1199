//! What IAM lets each function do to each table, read from its `Policies` in `template.yaml`, and
//! a table that refuses the rest the way DynamoDB does (`AccessDeniedException`, which the AWS
//! adapter reports as unavailable storage). A grant the template forgot then fails here, in
//! `bnb-local` and in the suite, instead of first on AWS; and a grant the template trims cannot
//! be trimmed below what the functions really do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use bnb_contexts::storage::{Item, Key, Page, Query, StorageError, StreamBatch, StreamPosition, Table, WriteOp};
use serde_json::Value;

/// The DynamoDB actions one function may take on one table, and on its indexes (by index name,
/// or `*` for every index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableGrant {
    pub on_table: BTreeSet<String>,
    pub on_indexes: BTreeMap<String, BTreeSet<String>>,
}

/// Every table a function may touch, by the table's local name.
pub type Grants = BTreeMap<String, TableGrant>;

/// SAM's DynamoDB policy templates, as `policy_templates.json` expands them: each grants its
/// actions on the table and on every index of it.
fn sam_template(name: &str) -> Option<&'static [&'static str]> {
    const READ: &[&str] = &["GetItem", "Scan", "Query", "BatchGetItem", "DescribeTable"];
    const WRITE: &[&str] = &["PutItem", "UpdateItem", "BatchWriteItem"];
    const CRUD: &[&str] =
        &["GetItem", "DeleteItem", "PutItem", "Scan", "Query", "UpdateItem", "BatchWriteItem", "BatchGetItem", "DescribeTable", "ConditionCheckItem"];
    match name {
        "DynamoDBReadPolicy" => Some(READ),
        "DynamoDBWritePolicy" => Some(WRITE),
        "DynamoDBCrudPolicy" => Some(CRUD),
        _ => None,
    }
}

/// A table ARN's local name, and the index it names if any:
/// `arn:aws:dynamodb:local:0:table/rooms` → (`rooms`, None), `.../table/rooms/index/*` → (`rooms`, `*`).
fn table_of(arn: &str) -> Option<(String, Option<String>)> {
    let rest = arn.strip_prefix("arn:aws:dynamodb:")?.split_once(":table/")?.1;
    let mut parts = rest.split('/');
    let table = parts.next()?.to_owned();
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Some((table, None)),
        (Some("index"), Some(index), None) => Some((table, Some(index.to_owned()))),
        _ => None,
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// The DynamoDB grants in a function's resolved `Policies`: inline statements (`Allow` only;
/// bnb's template has no `Deny`) and SAM's DynamoDB templates.
pub fn grants(policies: &Value) -> Grants {
    let mut grants = Grants::new();
    let mut allow = |table: String, index: Option<&str>, action: &str| {
        let grant = grants.entry(table).or_default();
        let set = match index {
            Some(index) => grant.on_indexes.entry(index.to_owned()).or_default(),
            None => &mut grant.on_table,
        };
        set.insert(action.to_owned());
    };
    for policy in policies.as_array().cloned().unwrap_or_default() {
        let Some(policy) = policy.as_object() else { continue };
        for (name, args) in policy {
            if let Some(actions) = sam_template(name) {
                let table = args.get("TableName").and_then(Value::as_str).unwrap_or_default().to_owned();
                for action in actions {
                    allow(table.clone(), None, action);
                    allow(table.clone(), Some("*"), action);
                }
            }
            if name != "Statement" {
                continue;
            }
            for statement in args.as_array().cloned().unwrap_or_default() {
                if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                let actions = strings(statement.get("Action").unwrap_or(&Value::Null));
                for resource in strings(statement.get("Resource").unwrap_or(&Value::Null)) {
                    let Some((table, index)) = table_of(&resource) else { continue };
                    for action in actions.iter().filter_map(|a| a.strip_prefix("dynamodb:")) {
                        allow(table.clone(), index.as_deref(), action);
                    }
                }
            }
        }
    }
    grants
}

/// The IAM action each write needs (a transaction needs the action of each of its items).
fn write_action(op: &WriteOp) -> &'static str {
    match op {
        WriteOp::Put { .. } => "PutItem",
        WriteOp::Update(_) => "UpdateItem",
        WriteOp::Delete { .. } => "DeleteItem",
        WriteOp::ConditionCheck { .. } => "ConditionCheckItem",
    }
}

/// One function's view of a table: every call checked against the function's grant first.
pub struct GrantedTable {
    inner: Arc<dyn Table>,
    function: String,
    grant: TableGrant,
}

impl GrantedTable {
    pub fn new(inner: Arc<dyn Table>, function: &str, grant: TableGrant) -> Self {
        GrantedTable { inner, function: function.to_owned(), grant }
    }

    fn check(&self, action: &str, index: Option<&str>) -> Result<(), StorageError> {
        let granted = match index {
            None => self.grant.on_table.contains(action),
            Some(index) => [index, "*"].iter().any(|i| self.grant.on_indexes.get(*i).is_some_and(|a| a.contains(action))),
        };
        if granted {
            return Ok(());
        }
        let resource = match index {
            Some(index) => format!("{}/index/{index}", self.inner.name()),
            None => self.inner.name().to_owned(),
        };
        tracing::error!(function = %self.function, action = %format!("dynamodb:{action}"), %resource, "AccessDenied: template.yaml does not grant this");
        Err(StorageError::Unavailable(format!(
            "AccessDeniedException: {} is not authorized to perform dynamodb:{action} on table {resource} (template.yaml does not grant it)",
            self.function
        )))
    }
}

#[async_trait]
impl Table for GrantedTable {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StorageError> {
        self.check("GetItem", None)?;
        self.inner.get(key).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StorageError> {
        self.check("Query", query.index.as_deref())?;
        self.inner.query(query).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        for op in &ops {
            self.check(write_action(op), None)?;
        }
        self.inner.write(ops).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StorageError> {
        self.check("BatchGetItem", None)?;
        self.inner.get_many(keys).await
    }

    async fn delete_each(&self, keys: Vec<Key>) -> Result<(), StorageError> {
        self.check("BatchWriteItem", None)?;
        self.inner.delete_each(keys).await
    }

    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError> {
        self.check("GetRecords", None)?;
        self.inner.read_stream(from, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_inline_statements_and_sam_templates() {
        let policies = json!([
            {"Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": [
                    "arn:aws:dynamodb:local:000000000000:table/rooms",
                    "arn:aws:dynamodb:local:000000000000:table/rooms/index/*"]},
                {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:local:000000000000:alerts"}
            ]},
            {"DynamoDBWritePolicy": {"TableName": "views"}}
        ]);
        let grants = grants(&policies);
        assert_eq!(grants.len(), 2);
        assert_eq!(grants["rooms"].on_table, BTreeSet::from(["GetItem".to_owned(), "Query".to_owned()]));
        assert_eq!(grants["rooms"].on_indexes["*"], BTreeSet::from(["GetItem".to_owned(), "Query".to_owned()]));
        assert!(grants["views"].on_table.contains("BatchWriteItem") && !grants["views"].on_table.contains("DeleteItem"));
    }
}
