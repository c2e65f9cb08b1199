//! The storage port: one small trait over one table, and the two adapters behind it.
//!
//! Every context owns one table keyed by `pk`/`sk` (both strings) with optional sparse global
//! secondary indexes (`gsi1pk`/`gsi1sk`, ...). Items are JSON objects; the adapters map them to
//! DynamoDB attribute values or to SQLite rows. Conditions and updates are typed values, not
//! expression strings, so the embedded adapter can evaluate them and the AWS adapter can compile
//! them, and one conformance suite keeps the two honest.

pub mod condition;
pub mod cursor;
pub mod item;
pub mod schema;

pub use condition::Condition;
pub use item::{attr_str, check_size, from_item, to_item, Item, Key};
pub use schema::{IndexSpec, TableSpec};

use async_trait::async_trait;
use serde_json::Value;

/// At most this many operations in one atomic write (DynamoDB's `TransactWriteItems` limit).
pub const MAX_WRITE_OPS: usize = 100;
/// At most this many bytes in one item (DynamoDB's limit; the embedded store enforces it too).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// A table, as the domain sees it.
#[async_trait]
pub trait Table: Send + Sync {
    /// The table's physical name.
    fn name(&self) -> &str;

    /// Reads one item by its primary key (strongly consistent).
    async fn get(&self, key: &Key) -> Result<Option<Item>, StorageError>;

    /// Queries one partition of the table or of one of its indexes, paged by an opaque cursor.
    async fn query(&self, query: &Query) -> Result<Page, StorageError>;

    /// Applies every operation or none. A failed condition names the operations it failed in.
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError>;

    /// Reads many items by key (DynamoDB `BatchGetItem`, 100 keys a request, strongly
    /// consistent): what each key holds, in the order of `keys`.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StorageError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    /// Deletes each key unconditionally, each on its own, not as one transaction (DynamoDB
    /// `BatchWriteItem`: 25 a request, at a single write's price, where a transaction costs
    /// two). For cleaning up what is already done: a crash halfway leaves some to delete again.
    async fn delete_each(&self, keys: Vec<Key>) -> Result<(), StorageError> {
        for key in keys {
            self.write(vec![WriteOp::delete(key)]).await?;
        }
        Ok(())
    }

    /// Reads the table's change stream after `from`, oldest first.
    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError>;
}

/// A sort-key condition of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Equals(String),
    BeginsWith(String),
    Between(String, String),
    LessThan(String),
    LessOrEqual(String),
    GreaterThan(String),
    GreaterOrEqual(String),
}

impl SortKey {
    /// Whether `sk` satisfies the condition, comparing by UTF-8 bytes as DynamoDB does.
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKey::Equals(v) => sk == v,
            SortKey::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortKey::Between(lo, hi) => sk >= lo.as_str() && sk <= hi.as_str(),
            SortKey::LessThan(v) => sk < v.as_str(),
            SortKey::LessOrEqual(v) => sk <= v.as_str(),
            SortKey::GreaterThan(v) => sk > v.as_str(),
            SortKey::GreaterOrEqual(v) => sk >= v.as_str(),
        }
    }
}

/// One partition's query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `None` queries the table itself; `Some(name)` one of its indexes.
    pub index: Option<String>,
    pub partition: String,
    pub sort: Option<SortKey>,
    /// Newest first when `false`.
    pub ascending: bool,
    pub limit: usize,
    pub cursor: Option<cursor::Cursor>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Query { index: None, partition: pk.into(), sort: None, ascending: true, limit: 50, cursor: None }
    }
    pub fn on_index(index: impl Into<String>, pk: impl Into<String>) -> Self {
        Query { index: Some(index.into()), ..Query::partition(pk) }
    }
    pub fn sort(mut self, sort: SortKey) -> Self {
        self.sort = Some(sort);
        self
    }
    pub fn descending(mut self) -> Self {
        self.ascending = false;
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn after(mut self, cursor: Option<cursor::Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of a query: its items and, when there may be more, where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<cursor::Cursor>,
}

/// A change to one item: part of an atomic write.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Put { item: Item, condition: Option<Condition> },
    Update(Update),
    Delete { key: Key, condition: Option<Condition> },
    ConditionCheck { key: Key, condition: Condition },
}

impl WriteOp {
    pub fn put(item: Item) -> Self {
        WriteOp::Put { item, condition: None }
    }
    pub fn put_if(item: Item, condition: Condition) -> Self {
        WriteOp::Put { item, condition: Some(condition) }
    }
    pub fn delete(key: Key) -> Self {
        WriteOp::Delete { key, condition: None }
    }
    pub fn delete_if(key: Key, condition: Condition) -> Self {
        WriteOp::Delete { key, condition: Some(condition) }
    }
    pub fn check(key: Key, condition: Condition) -> Self {
        WriteOp::ConditionCheck { key, condition }
    }

    /// The primary key of the item this operation touches.
    pub fn key(&self) -> Result<Key, StorageError> {
        match self {
            WriteOp::Put { item, .. } => Key::of(item),
            WriteOp::Update(u) => Ok(u.key.clone()),
            WriteOp::Delete { key, .. } | WriteOp::ConditionCheck { key, .. } => Ok(key.clone()),
        }
    }
}

/// An in-place update: set, add to numbers, remove attributes. Creates the item if missing
/// (as DynamoDB's `UpdateItem` does) unless the condition forbids it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    pub key: Key,
    pub set: Vec<(String, Value)>,
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
    pub condition: Option<Condition>,
}

impl Update {
    pub fn new(key: Key) -> Self {
        Update { key, ..Default::default() }
    }
    pub fn set(mut self, attr: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.push((attr.into(), value.into()));
        self
    }
    pub fn add(mut self, attr: impl Into<String>, by: i64) -> Self {
        self.add.push((attr.into(), by));
        self
    }
    pub fn remove(mut self, attr: impl Into<String>) -> Self {
        self.remove.push(attr.into());
        self
    }
    pub fn when(mut self, condition: Condition) -> Self {
        self.condition = Some(condition);
        self
    }
    pub fn into_op(self) -> WriteOp {
        WriteOp::Update(self)
    }

    pub fn validate(&self) -> Result<(), StorageError> {
        let touched = self.set.iter().map(|(a, _)| a).chain(self.add.iter().map(|(a, _)| a)).chain(self.remove.iter());
        for attr in touched {
            if attr == "pk" || attr == "sk" {
                return Err(StorageError::Invalid(format!("an update cannot change the key attribute `{attr}`")));
            }
        }
        Ok(())
    }
}

/// What kind of change a stream record reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "INSERT",
            ChangeKind::Modify => "MODIFY",
            ChangeKind::Remove => "REMOVE",
        }
    }
}

/// One record of a table's change stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    /// Increasing within the stream: compare with [`StreamRecord::sequence`].
    pub sequence_number: String,
    pub kind: ChangeKind,
    pub keys: Key,
    pub old_image: Option<Item>,
    pub new_image: Option<Item>,
    /// Seconds since the Unix epoch when the change was written.
    pub created_at: i64,
    /// The position just after this record: reading from it resumes with the next one.
    pub position: StreamPosition,
}

impl StreamRecord {
    /// The sequence number as a number (DynamoDB's are decimal strings up to 40 digits).
    pub fn sequence(&self) -> u128 {
        self.sequence_number.parse().unwrap_or(0)
    }
}

/// Where a reader stands in a change stream: opaque, durable, resumable.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct StreamPosition(pub String);

impl StreamPosition {
    /// The oldest record the stream still holds.
    pub fn start() -> Self {
        StreamPosition(String::new())
    }
}

/// Records read from a stream and the position after the last of them.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamBatch {
    pub records: Vec<StreamRecord>,
    pub next: StreamPosition,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum StorageError {
    /// A condition did not hold; `failed` lists the indexes of the operations whose condition
    /// failed (nothing was written).
    #[error("condition failed for operation(s) {failed:?}")]
    ConditionFailed { failed: Vec<usize> },
    /// Another transaction touched the same items at the same time; safe to retry.
    #[error("transaction conflict; retry")]
    Conflict,
    /// The request itself is not valid (too many operations, an oversized item, a bad cursor...).
    #[error("invalid storage request: {0}")]
    Invalid(String),
    /// The backend could not be reached or failed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl StorageError {
    pub fn condition_failed_at(&self, index: usize) -> bool {
        matches!(self, StorageError::ConditionFailed { failed } if failed.contains(&index))
    }
}

/// Checks what both adapters refuse before they touch anything.
pub fn validate_write(ops: &[WriteOp]) -> Result<Vec<Key>, StorageError> {
    if ops.is_empty() {
        return Err(StorageError::Invalid("an atomic write needs at least one operation".into()));
    }
    if ops.len() > MAX_WRITE_OPS {
        return Err(StorageError::Invalid(format!("an atomic write takes at most {MAX_WRITE_OPS} operations, got {}", ops.len())));
    }
    let mut keys = Vec::with_capacity(ops.len());
    for op in ops {
        let key = op.key()?;
        if keys.contains(&key) {
            return Err(StorageError::Invalid(format!("one atomic write touches {key} twice")));
        }
        match op {
            WriteOp::Put { item, .. } => item::check_size(item)?,
            WriteOp::Update(u) => u.validate()?,
            _ => {}
        }
        keys.push(key);
    }
    Ok(keys)
}
