//! The embedded adapter: every table in one SQLite file (WAL), with sparse GSIs kept in an
//! index table and a per-table change log that plays the part of DynamoDB Streams.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use tokio::sync::{watch, Mutex as AsyncMutex};

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
    /// The one connection that writes: SQLite takes one writer at a time anyway.
    conn: Arc<AsyncMutex<Connection>>,
    /// Who goes first to the writer: the event path's work, then requests.
    writer_turns: Arc<Turns>,
    /// Connections that only read, each on its own snapshot (WAL): reads run beside the writer,
    /// and see every transaction committed before they start (as strongly consistent as
    /// DynamoDB's reads).
    readers: Arc<Vec<AsyncMutex<Connection>>>,
    next_reader: Arc<AtomicU64>,
    path: PathBuf,
    signals: Arc<Signals>,
    stats: Arc<Stats>,
}

/// What the store has done since it was opened: for benchmarks and the cost model.
#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    calls: AtomicU64,
    by_operation: Mutex<std::collections::BTreeMap<&'static str, OperationStats>>,
}

/// One operation's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OperationStats {
    /// Uses of a connection.
    pub calls: u64,
    /// Transactions that wrote.
    pub commits: u64,
    /// Time spent holding a connection, in microseconds.
    pub held_us: u64,
}

impl Stats {
    fn count(&self, operation: &'static str, commits: u64, held: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut counts) = self.by_operation.lock() {
            let entry = counts.entry(operation).or_default();
            entry.calls += 1;
            entry.commits += commits;
            entry.held_us += held.as_micros() as u64;
        }
    }
}

/// Counts since the store was opened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Transactions that wrote (SQLite's commit hook).
    pub commits: u64,
    /// Uses of the connection: reads and writes.
    pub calls: u64,
    /// Per operation of the adapters (`get`, `write`, `receive`, ...): uses and commits.
    pub by_operation: std::collections::BTreeMap<&'static str, OperationStats>,
}

impl StoreStats {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &StoreStats) -> StoreStats {
        let mut by_operation = self.by_operation.clone();
        for (op, was) in &earlier.by_operation {
            if let Some(entry) = by_operation.get_mut(op) {
                *entry = OperationStats { calls: entry.calls - was.calls, commits: entry.commits - was.commits, held_us: entry.held_us - was.held_us };
            }
        }
        StoreStats { commits: self.commits - earlier.commits, calls: self.calls - earlier.calls, by_operation }
    }
}

tokio::task_local! {
    static BACKGROUND: ();
}

/// Runs `work` as background work (what `bnb-local` runs for the event-source mappings): when
/// it waits for the writer, requests that come after it wait too.
///
/// On AWS the event path runs on its own Lambda instances and never slows a request; here
/// everything shares one SQLite writer, and a writer taken first-come-first-served lets a burst
/// of requests outrun the consumers without bound (measured: dashboards seconds behind). So the
/// event path goes first, and a burst is slowed to the rate its events are handled at.
pub async fn as_background<F: std::future::Future>(work: F) -> F::Output {
    BACKGROUND.scope((), work).await
}

/// The writer's turns: background work first.
#[derive(Default)]
struct Turns {
    background_waiting: AtomicU64,
    background_gone: tokio::sync::Notify,
}

impl Turns {
    async fn lock<'a>(&self, conn: &'a AsyncMutex<Connection>) -> tokio::sync::MutexGuard<'a, Connection> {
        if BACKGROUND.try_with(|_| ()).is_ok() {
            // Counted while it waits, and uncounted however the wait ends: taken, or the task
            // dropped (an invocation ended at its timeout) — a count left behind would hold
            // every request back for good.
            let _waiting = Waiting::new(self);
            return conn.lock().await;
        }
        loop {
            let gone = self.background_gone.notified();
            if self.background_waiting.load(Ordering::SeqCst) == 0 {
                break;
            }
            gone.await;
        }
        conn.lock().await
    }
}

/// One background task waiting for the writer.
struct Waiting<'a>(&'a Turns);

impl<'a> Waiting<'a> {
    fn new(turns: &'a Turns) -> Self {
        turns.background_waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(turns)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.0.background_waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.background_gone.notify_waiters();
        }
    }
}

/// How much of the file each connection maps (address space, not memory: pages are the OS's).
const MMAP_BYTES: i64 = 1 << 30;

/// Reading connections: as many as there are cores to read on beside the writer.
const READERS: usize = 2;

/// A change counter per named resource (`table:<name>`, `queue:<name>`): what a poller waits
/// on instead of polling, so work is picked up as soon as it is committed.
#[derive(Default)]
struct Signals(Mutex<HashMap<String, watch::Sender<u64>>>);

impl Signals {
    fn sender(&self, name: &str) -> Option<watch::Sender<u64>> {
        let mut channels = self.0.lock().ok()?;
        Some(channels.entry(name.to_owned()).or_insert_with(|| watch::channel(0).0).clone())
    }
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
        // 64 MiB of page cache, and a WAL checkpoint every ~16 MiB instead of every 4 MiB: the
        // writer spends its time writing pages, and fewer of them are written twice.
        conn.pragma_update(None, "cache_size", -65536).map_err(sql)?;
        conn.pragma_update(None, "wal_autocheckpoint", 4000).map_err(sql)?;
        // Reads straight from the mapped file, not through read() and a second copy: a lookup in
        // a large store costs nearly what it costs in a small one.
        conn.pragma_update(None, "mmap_size", MMAP_BYTES).map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        // Every statement the adapters run stays parsed (the default keeps 16; they use ~40).
        conn.set_prepared_statement_cache_capacity(256);
        let stats = Arc::new(Stats::default());
        let counter = stats.clone();
        let mut conn = conn;
        conn.commit_hook(Some(move || {
            counter.commits.fetch_add(1, Ordering::Relaxed);
            false
        }))
        .map_err(sql)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader =
                Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(sql)?;
            reader.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
            reader.pragma_update(None, "cache_size", -16384).map_err(sql)?;
            reader.pragma_update(None, "mmap_size", MMAP_BYTES).map_err(sql)?;
            reader.set_prepared_statement_cache_capacity(256);
            readers.push(AsyncMutex::new(reader));
        }
        Ok(EmbeddedStore {
            conn: Arc::new(AsyncMutex::new(conn)),
            writer_turns: Arc::default(),
            readers: Arc::new(readers),
            next_reader: Arc::default(),
            path,
            signals: Arc::default(),
            stats,
        })
    }

    /// Transactions and connection uses so far.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            commits: self.stats.commits.load(Ordering::Relaxed),
            calls: self.stats.calls.load(Ordering::Relaxed),
            by_operation: self.stats.by_operation.lock().map(|m| m.clone()).unwrap_or_default(),
        }
    }

    /// Changes each time something is committed to the table or queue `name` (`table:<name>`,
    /// `queue:<name>`).
    pub fn watch(&self, name: &str) -> Option<watch::Receiver<u64>> {
        self.signals.sender(name).map(|s| s.subscribe())
    }

    /// Tells whoever watches `name` that it changed.
    pub(crate) fn signal(&self, name: &str) {
        if let Some(sender) = self.signals.sender(name) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle on one table of the store.
    pub fn table(&self, spec: TableSpec) -> EmbeddedTable {
        EmbeddedTable { store: self.clone(), spec: Arc::new(spec) }
    }

    /// Runs `f` on the connection.
    pub async fn with_conn<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        self.with_conn_as("other", f).await
    }

    /// Runs `f` on the connection, counted as `operation` in [`EmbeddedStore::stats`].
    ///
    /// Waits for the connection asynchronously (first come, first served, the worker thread free
    /// for other tasks meanwhile), then runs `f` on the caller's thread, not a blocking pool's:
    /// a use takes tens of microseconds, and handing each to another thread cost more than the
    /// use itself (measured: `event_throughput`, docs/benchmarks.md).
    pub async fn with_conn_as<T, F>(&self, operation: &'static str, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let mut guard = self.writer_turns.lock(&self.conn).await;
        let (commits, held) = (self.stats.commits.load(Ordering::Relaxed), std::time::Instant::now());
        let result = f(&mut guard);
        let committed = self.stats.commits.load(Ordering::Relaxed) - commits;
        drop(guard);
        self.stats.count(operation, committed, held.elapsed());
        result
    }
}

impl EmbeddedStore {
    /// Runs `f`, which only reads, on a reading connection (one that is free if there is one),
    /// counted as `operation`.
    pub async fn with_reader_as<T, F>(&self, operation: &'static str, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed) as usize;
        let n = self.readers.len();
        let free = (0..n).find_map(|i| self.readers[(start + i) % n].try_lock().ok());
        let guard = match free {
            Some(guard) => guard,
            None => self.readers[start % n].lock().await,
        };
        let held = std::time::Instant::now();
        let result = f(&guard);
        drop(guard);
        self.stats.count(operation, 0, held.elapsed());
        result
    }
}

/// Runs a statement through the connection's statement cache: parsed once, not per call.
pub(crate) fn exec<P: rusqlite::Params>(conn: &Connection, statement: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(statement)?.execute(params)
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
        self.store.with_reader_as("table get", move |conn| load(conn, &tbl, &key)).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StorageError> {
        let (spec, query) = (self.spec.clone(), query.clone());
        self.store.with_reader_as("table query", move |conn| run_query(conn, &spec, &query)).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        let spec = self.spec.clone();
        self.store.with_conn_as("table write", move |conn| apply_write(conn, &spec, ops)).await?;
        self.store.signal(&format!("table:{}", self.spec.name));
        Ok(())
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StorageError> {
        let (tbl, keys) = (self.spec.name.clone(), keys.to_vec());
        self.store.with_reader_as("table get_many", move |conn| keys.iter().map(|key| load(conn, &tbl, key)).collect()).await
    }

    /// One transaction for all of them.
    async fn delete_each(&self, keys: Vec<Key>) -> Result<(), StorageError> {
        let ops = keys.into_iter().map(WriteOp::delete).collect::<Vec<_>>();
        let spec = self.spec.clone();
        for chunk in ops.chunks(100) {
            let (spec, chunk) = (spec.clone(), chunk.to_vec());
            self.store.with_conn_as("table delete_each", move |conn| apply_write(conn, &spec, chunk)).await?;
        }
        self.store.signal(&format!("table:{}", self.spec.name));
        Ok(())
    }

    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError> {
        let (tbl, from) = (self.spec.name.clone(), from.clone());
        self.store.with_reader_as("stream read", move |conn| read_changes(conn, &tbl, &from, limit)).await
    }
}

fn load(conn: &Connection, tbl: &str, key: &Key) -> Result<Option<Item>, StorageError> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
        .map_err(sql)?
        .query_row(params![tbl, key.pk, key.sk], |r| r.get(0))
        .optional()
        .map_err(sql)?;
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
    exec(conn, "DELETE FROM index_entries WHERE tbl = ?1 AND pk = ?2 AND sk = ?3", params![tbl, key.pk, key.sk]).map_err(sql)?;
    let kind = match (&old, &new) {
        (None, _) => ChangeKind::Insert,
        (Some(_), Some(_)) => ChangeKind::Modify,
        (Some(_), None) => ChangeKind::Remove,
    };
    match &new {
        Some(item) => {
            let body = serde_json::to_string(item).map_err(json_err)?;
            exec(
                conn,
                "INSERT INTO items (tbl, pk, sk, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tbl, pk, sk) DO UPDATE SET body = excluded.body",
                params![tbl, key.pk, key.sk, body],
            )
            .map_err(sql)?;
            for index in &spec.indexes {
                if let (Some(ipk), Some(isk)) = (item::attr_str(item, &index.pk), item::attr_str(item, &index.sk)) {
                    exec(
                        conn,
                        "INSERT OR REPLACE INTO index_entries (tbl, idx, ipk, isk, pk, sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![tbl, index.name, ipk, isk, key.pk, key.sk],
                    )
                    .map_err(sql)?;
                }
            }
        }
        None => {
            exec(conn, "DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3", params![tbl, key.pk, key.sk]).map_err(sql)?;
        }
    }
    let image = |i: &Option<Item>| i.as_ref().map(serde_json::to_string).transpose().map_err(json_err);
    exec(
        conn,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Background work that is waiting for the writer goes before a request that came after it,
    /// even one that came before more background work (first come, first served would not).
    #[tokio::test]
    async fn background_work_takes_the_writer_before_later_requests() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("bnb.db")).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let turn = |name: &'static str, background: bool| {
            let (store, order) = (store.clone(), order.clone());
            let work = async move {
                store
                    .with_conn_as("test", move |_| {
                        order.lock().unwrap().push(name);
                        Ok(())
                    })
                    .await
                    .unwrap()
            };
            tokio::spawn(async move {
                if background {
                    as_background(work).await
                } else {
                    work.await
                }
            })
        };
        let held = store.conn.lock().await;
        let first = turn("event path 1", true);
        tokio::task::yield_now().await;
        let request = turn("request", false);
        tokio::task::yield_now().await;
        let second = turn("event path 2", true);
        tokio::task::yield_now().await;
        drop(held);
        for task in [first, request, second] {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["event path 1", "event path 2", "request"]);
    }

    /// Background work that stops waiting (its invocation timed out and was dropped) leaves no
    /// claim behind: a request after it gets the writer.
    #[tokio::test]
    async fn a_dropped_background_wait_does_not_hold_requests_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("bnb.db")).unwrap();
        let held = store.conn.lock().await;
        let waiting = {
            let store = store.clone();
            tokio::spawn(as_background(async move { store.with_conn_as("test", |_| Ok(())).await }))
        };
        tokio::task::yield_now().await;
        assert_eq!(store.writer_turns.background_waiting.load(Ordering::SeqCst), 1);
        waiting.abort();
        let _ = waiting.await;
        drop(held);
        assert_eq!(store.writer_turns.background_waiting.load(Ordering::SeqCst), 0);
        let request = tokio::time::timeout(Duration::from_secs(10), store.with_conn_as("request", |_| Ok(())));
        request.await.expect("the request is not held back").unwrap();
    }

    /// A write to a table and a message to a queue each change what their pollers watch.
    #[tokio::test]
    async fn commits_wake_whoever_watches_the_table_or_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("bnb.db")).unwrap();
        let mut rooms = store.watch("table:rooms").unwrap();
        let mut other = store.watch("table:other").unwrap();
        let table = store.table(TableSpec::new("rooms"));
        let mut item = Item::new();
        item.insert("pk".into(), "R#1".into());
        item.insert("sk".into(), "ROOM".into());
        table.write(vec![WriteOp::put(item)]).await.unwrap();
        assert!(rooms.has_changed().unwrap(), "a write to rooms wakes its watcher");
        assert!(!other.has_changed().unwrap(), "and no other table's");
        rooms.borrow_and_update();
        table.delete_each(vec![Key::new("R#1", "ROOM")]).await.unwrap();
        assert!(rooms.has_changed().unwrap());

        let bus = crate::EmbeddedBus::open(store.clone()).await.unwrap();
        let queue =
            bus.declare_queue(crate::QueueSettings { name: "q".into(), visibility_timeout_ms: 1000, max_receive_count: None, dlq: None }).await.unwrap();
        bus.subscribe("t", "q", None, true).await.unwrap();
        let mut q = store.watch("queue:q").unwrap();
        use bnb_contexts::messaging::{Queue, Topic};
        bus.topic("t").publish("hello", &Default::default()).await.unwrap();
        assert!(q.has_changed().unwrap(), "a publication wakes the subscribed queue's watcher");
        q.borrow_and_update();
        queue.send("again", &Default::default()).await.unwrap();
        assert!(q.has_changed().unwrap(), "so does a message sent to it");
        other.borrow_and_update();
        assert!(!other.has_changed().unwrap());
    }
}
