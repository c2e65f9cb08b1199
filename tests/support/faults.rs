//! Injected faults: a table wrapper that fails, or crashes, at the k-th write of a "process".
//!
//! A [`Process`] stands for one running function instance. Every table it is handed is wrapped
//! so that its writes are counted across all of them. `FailAt(k)` refuses the k-th write (the
//! write does not happen; the caller sees an outage). `CrashAfter(k)` lets the k-th write
//! happen and then kills the process: the caller sees an error and every later read or write of
//! that process fails too, so nothing it does after the crash reaches storage. A restart is a
//! new process over the same tables.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bnb_contexts::storage::{Item, Key, Page, Query, StorageError, StreamBatch, StreamPosition, Table, WriteOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Never,
    /// The k-th write (1-based) fails and changes nothing.
    FailAt(usize),
    /// The k-th write (1-based) is applied, then the process dies.
    CrashAfter(usize),
}

#[derive(Debug)]
pub struct Process {
    fault: Fault,
    writes: AtomicUsize,
    dead: AtomicBool,
}

impl Process {
    pub fn new(fault: Fault) -> Arc<Process> {
        Arc::new(Process { fault, writes: AtomicUsize::new(0), dead: AtomicBool::new(false) })
    }

    /// How many writes the process attempted.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn crashed(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// `inner`, as this process sees it.
    pub fn table(self: &Arc<Self>, inner: Arc<dyn Table>) -> Arc<dyn Table> {
        Arc::new(FaultyTable { inner, process: self.clone() })
    }

    fn alive(&self) -> Result<(), StorageError> {
        if self.crashed() {
            return Err(StorageError::Unavailable("injected: the process has crashed".into()));
        }
        Ok(())
    }
}

struct FaultyTable {
    inner: Arc<dyn Table>,
    process: Arc<Process>,
}

#[async_trait]
impl Table for FaultyTable {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StorageError> {
        self.process.alive()?;
        self.inner.get(key).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StorageError> {
        self.process.alive()?;
        self.inner.query(query).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        self.process.alive()?;
        let n = self.process.writes.fetch_add(1, Ordering::SeqCst) + 1;
        match self.process.fault {
            Fault::FailAt(k) if k == n => Err(StorageError::Unavailable(format!("injected: write {n} failed"))),
            Fault::CrashAfter(k) if k == n => {
                let written = self.inner.write(ops).await;
                self.process.dead.store(true, Ordering::SeqCst);
                match written {
                    Ok(()) => Err(StorageError::Unavailable(format!("injected: crashed after write {n}"))),
                    Err(e) => Err(e),
                }
            }
            _ => self.inner.write(ops).await,
        }
    }

    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError> {
        self.inner.read_stream(from, limit).await
    }
}
