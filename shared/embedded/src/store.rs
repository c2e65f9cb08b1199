//! The embedded adapter: every table in one SQLite file (WAL), with sparse GSIs kept in an
//! index table and a per-table change log that plays the part of DynamoDB Streams.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use bnb_contexts::storage::cursor::{Cursor, LastKey};
use bnb_contexts::storage::{
    item, validate_write, ChangeKind, Item, Key, Page, Query, SortKey, StorageError, StreamBatch, StreamPosition, StreamRecord, Table, TableSpec, Update,
    WriteOp,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_entries (
    tbl TEXT NOT NULL, idx TEXT NOT NULL, ipk TEXT NOT NULL, isk TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
    PRIMARY KEY (tbl, idx, ipk, isk, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS index_entries_by_item ON index_entries (tbl, pk, sk);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, kind TEXT NOT NULL,
    pk TEXT NOT NULL, sk TEXT NOT NULL, old_image TEXT, new_image TEXT, created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_table ON changes (tbl, seq);
";

/// One SQLite file holding every table of a bnb installation.
#[derive(Clone)]
pub struct EmbeddedStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store at `path`, in WAL mode so that readers in other
    /// processes (the `bnb-local` CLI) never block the running system.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the
        // last transactions), which is the failure the local runtime promises to survive.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(EmbeddedStore { conn: Arc::new(Mutex::new(conn)), path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle on one table of the store.
    pub fn table(&self, spec: TableSpec) -> EmbeddedTable {
        EmbeddedTable { store: self.clone(), spec: Arc::new(spec) }
    }

    /// Runs `f` on the connection on a blocking thread.
    pub async fn with_conn<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conn)?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Unavailable(format!("storage task failed: {e}")))?
    }
}

fn lock(conn: &Mutex<Connection>) -> Result<MutexGuard<'_, Connection>, StorageError> {
    conn.lock().map_err(|_| StorageError::Unavailable("storage lock poisoned".into()))
}

pub(crate) fn sql(e: rusqlite::Error) -> StorageError {
    StorageError::Unavailable(format!("sqlite: {e}"))
}

fn json_err(e: serde_json::Error) -> StorageError {
    StorageError::Unavailable(format!("stored item is not valid JSON: {e}"))
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// One table of an [`EmbeddedStore`].
#[derive(Clone)]
pub struct EmbeddedTable {
    store: EmbeddedStore,
    spec: Arc<TableSpec>,
}

impl EmbeddedTable {
    pub fn spec(&self) -> &TableSpec {
        &self.spec
    }
}

#[async_trait]
impl Table for EmbeddedTable {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StorageError> {
        let (tbl, key) = (self.spec.name.clone(), key.clone());
        self.store.with_conn(move |conn| load(conn, &tbl, &key)).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StorageError> {
        let (spec, query) = (self.spec.clone(), query.clone());
        self.store.with_conn(move |conn| run_query(conn, &spec, &query)).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        let spec = self.spec.clone();
        self.store.with_conn(move |conn| apply_write(conn, &spec, ops)).await
    }

    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError> {
        let (tbl, from) = (self.spec.name.clone(), from.clone());
        self.store.with_conn(move |conn| read_changes(conn, &tbl, &from, limit)).await
    }
}

fn load(conn: &Connection, tbl: &str, key: &Key) -> Result<Option<Item>, StorageError> {
    let body: Option<String> =
        conn.query_row("SELECT body FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3", params![tbl, key.pk, key.sk], |r| r.get(0)).optional().map_err(sql)?;
    body.map(|b| serde_json::from_str(&b).map_err(json_err)).transpose()
}

fn apply_write(conn: &mut Connection, spec: &TableSpec, ops: Vec<WriteOp>) -> Result<(), StorageError> {
    let keys = validate_write(&ops)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let mut current = Vec::with_capacity(keys.len());
    for key in &keys {
        current.push(load(&tx, &spec.name, key)?);
    }
    let failed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(i, op)| {
            let condition = match op {
                WriteOp::Put { condition, .. } | WriteOp::Delete { condition, .. } => condition.as_ref(),
                WriteOp::Update(u) => u.condition.as_ref(),
                WriteOp::ConditionCheck { condition, .. } => Some(condition),
            };
            condition.is_some_and(|c| !c.holds(current[*i].as_ref()))
        })
        .map(|(i, _)| i)
        .collect();
    if !failed.is_empty() {
        return Err(StorageError::ConditionFailed { failed });
    }
    let created_at = now_secs();
    for ((op, key), old) in ops.into_iter().zip(keys).zip(current) {
        let new = match op {
            WriteOp::Put { item, .. } => Some(item),
            WriteOp::Update(update) => Some(apply_update(old.clone(), update)?),
            WriteOp::Delete { .. } => None,
            WriteOp::ConditionCheck { .. } => continue,
        };
        store_change(&tx, spec, &key, old, new, created_at)?;
    }
    tx.commit().map_err(sql)
}

/// Writes one item's new state, its index entries and its change record. An unchanged item
/// writes nothing, as DynamoDB Streams records nothing for it.
pub(crate) fn store_change(conn: &Connection, spec: &TableSpec, key: &Key, old: Option<Item>, new: Option<Item>, created_at: i64) -> Result<(), StorageError> {
    if old == new {
        return Ok(());
    }
    let tbl = &spec.name;
    conn.execute("DELETE FROM index_entries WHERE tbl = ?1 AND pk = ?2 AND sk = ?3", params![tbl, key.pk, key.sk]).map_err(sql)?;
    let kind = match (&old, &new) {
        (None, _) => ChangeKind::Insert,
        (Some(_), Some(_)) => ChangeKind::Modify,
        (Some(_), None) => ChangeKind::Remove,
    };
    match &new {
        Some(item) => {
            let body = serde_json::to_string(item).map_err(json_err)?;
            conn.execute(
                "INSERT INTO items (tbl, pk, sk, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tbl, pk, sk) DO UPDATE SET body = excluded.body",
                params![tbl, key.pk, key.sk, body],
            )
            .map_err(sql)?;
            for index in &spec.indexes {
                if let (Some(ipk), Some(isk)) = (item::attr_str(item, &index.pk), item::attr_str(item, &index.sk)) {
                    conn.execute(
                        "INSERT OR REPLACE INTO index_entries (tbl, idx, ipk, isk, pk, sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![tbl, index.name, ipk, isk, key.pk, key.sk],
                    )
                    .map_err(sql)?;
                }
            }
        }
        None => {
            conn.execute("DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3", params![tbl, key.pk, key.sk]).map_err(sql)?;
        }
    }
    let image = |i: &Option<Item>| i.as_ref().map(serde_json::to_string).transpose().map_err(json_err);
    conn.execute(
        "INSERT INTO changes (tbl, kind, pk, sk, old_image, new_image, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![tbl, kind.as_str(), key.pk, key.sk, image(&old)?, image(&new)?, created_at],
    )
    .map_err(sql)?;
    Ok(())
}

fn apply_update(current: Option<Item>, update: Update) -> Result<Item, StorageError> {
    let mut item = current.unwrap_or_else(|| update.key.to_item());
    for (attr, value) in update.set {
        item.insert(attr, value);
    }
    for (attr, by) in update.add {
        let next = match item.get(&attr) {
            None => by,
            Some(Value::Number(n)) => {
                n.as_i64().and_then(|n| n.checked_add(by)).ok_or_else(|| StorageError::Invalid(format!("cannot add to `{attr}`: not an integer in range")))?
            }
            Some(_) => return Err(StorageError::Invalid(format!("cannot add to `{attr}`: not a number"))),
        };
        item.insert(attr, Value::from(next));
    }
    for attr in update.remove {
        item.remove(&attr);
    }
    item::check_size(&item)?;
    Ok(item)
}

fn run_query(conn: &Connection, spec: &TableSpec, q: &Query) -> Result<Page, StorageError> {
    let limit = q.limit.clamp(1, 1000);
    let last = q.cursor.as_ref().map(Cursor::decode).transpose()?;
    let (dir, cmp) = if q.ascending { ("ASC", ">") } else { ("DESC", "<") };
    let mut args: Vec<String> = vec![spec.name.clone()];
    let (mut sql_text, sort_col) = match &q.index {
        None => {
            args.push(q.partition.clone());
            ("SELECT i.body, i.pk, i.sk, '' , '' FROM items i WHERE i.tbl = ?1 AND i.pk = ?2".to_string(), "i.sk")
        }
        Some(name) => {
            let index = spec.index(name).ok_or_else(|| StorageError::Invalid(format!("table {} has no index {name}", spec.name)))?;
            args.push(index.name.clone());
            args.push(q.partition.clone());
            (
                "SELECT i.body, e.pk, e.sk, e.ipk, e.isk FROM index_entries e
                 JOIN items i ON i.tbl = e.tbl AND i.pk = e.pk AND i.sk = e.sk
                 WHERE e.tbl = ?1 AND e.idx = ?2 AND e.ipk = ?3"
                    .to_string(),
                "e.isk",
            )
        }
    };
    let bind = |v: &str, args: &mut Vec<String>| {
        args.push(v.to_owned());
        format!("?{}", args.len())
    };
    if let Some(sort) = &q.sort {
        let clause = match sort {
            SortKey::Equals(v) => format!("{sort_col} = {}", bind(v, &mut args)),
            SortKey::BeginsWith(p) => {
                let p = bind(p, &mut args);
                // x'F4908080' sorts after every valid UTF-8 continuation of the prefix.
                format!("{sort_col} >= {p} AND {sort_col} < ({p} || CAST(x'F4908080' AS TEXT))")
            }
            SortKey::Between(lo, hi) => format!("{sort_col} BETWEEN {} AND {}", bind(lo, &mut args), bind(hi, &mut args)),
            SortKey::LessThan(v) => format!("{sort_col} < {}", bind(v, &mut args)),
            SortKey::LessOrEqual(v) => format!("{sort_col} <= {}", bind(v, &mut args)),
            SortKey::GreaterThan(v) => format!("{sort_col} > {}", bind(v, &mut args)),
            SortKey::GreaterOrEqual(v) => format!("{sort_col} >= {}", bind(v, &mut args)),
        };
        sql_text.push_str(" AND ");
        sql_text.push_str(&clause);
    }
    if let Some(last) = &last {
        let clause = match &q.index {
            None => format!("i.sk {cmp} {}", bind(&last.sk, &mut args)),
            Some(_) => {
                let isk = last.isk.clone().ok_or_else(|| StorageError::Invalid("cursor is not valid for this index".into()))?;
                format!("(e.isk, e.pk, e.sk) {cmp} ({}, {}, {})", bind(&isk, &mut args), bind(&last.pk, &mut args), bind(&last.sk, &mut args))
            }
        };
        sql_text.push_str(" AND ");
        sql_text.push_str(&clause);
    }
    match &q.index {
        None => sql_text.push_str(&format!(" ORDER BY i.sk {dir}")),
        Some(_) => sql_text.push_str(&format!(" ORDER BY e.isk {dir}, e.pk {dir}, e.sk {dir}")),
    }
    sql_text.push_str(&format!(" LIMIT {}", limit + 1));

    let mut stmt = conn.prepare_cached(&sql_text).map_err(sql)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?))
        })
        .map_err(sql)?;
    let mut items = Vec::new();
    let mut last_key = None;
    let mut more = false;
    for row in rows {
        let (body, pk, sk, ipk, isk) = row.map_err(sql)?;
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(serde_json::from_str(&body).map_err(json_err)?);
        last_key = Some(match &q.index {
            None => LastKey { pk, sk, ipk: None, isk: None },
            Some(_) => LastKey { pk, sk, ipk: Some(ipk), isk: Some(isk) },
        });
    }
    let next = if more { last_key.as_ref().map(Cursor::encode) } else { None };
    Ok(Page { items, next })
}

fn read_changes(conn: &Connection, tbl: &str, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError> {
    let after: i64 =
        if from.0.is_empty() { 0 } else { from.0.parse().map_err(|_| StorageError::Invalid(format!("stream position {:?} is not valid", from.0)))? };
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, kind, pk, sk, old_image, new_image, created_at FROM changes
             WHERE tbl = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(params![tbl, after, limit.clamp(1, 10_000) as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .map_err(sql)?;
    let parse = |s: Option<String>| s.map(|s| serde_json::from_str::<Item>(&s)).transpose().map_err(json_err);
    let mut records = Vec::new();
    let mut last = after;
    for row in rows {
        let (seq, kind, pk, sk, old, new, created_at) = row.map_err(sql)?;
        let kind = match kind.as_str() {
            "INSERT" => ChangeKind::Insert,
            "MODIFY" => ChangeKind::Modify,
            _ => ChangeKind::Remove,
        };
        records.push(StreamRecord {
            sequence_number: seq.to_string(),
            kind,
            keys: Key::new(pk, sk),
            old_image: parse(old)?,
            new_image: parse(new)?,
            created_at,
            position: StreamPosition(seq.to_string()),
        });
        last = seq;
    }
    let next = if last == 0 { from.clone() } else { StreamPosition(last.to_string()) };
    Ok(StreamBatch { records, next })
}
