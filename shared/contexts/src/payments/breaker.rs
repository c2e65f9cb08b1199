//! The circuit breaker around the payment call, shared by every instance of every function:
//! its state is one item (`BREAKER#payment`) changed only by conditional writes on its version.
//!
//! Closed → open after `failure_threshold` failures or timeouts within `window`; while open
//! (`cool_down`) no call is made at all; then one caller wins a conditional write and becomes
//! the single half-open probe; its success closes the breaker, its failure opens it again.
//! Each instance caches the state for `cache_ttl` so a booking does not read the item each time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::SharedClock;
use crate::storage::{to_item, Condition, Item, Key, StorageError, Table, WriteOp};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub window: Duration,
    pub cool_down: Duration,
    /// A probe that has not reported after this long is presumed dead; another may take over.
    pub probe_timeout: Duration,
    pub cache_ttl: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            window: Duration::from_secs(30),
            cool_down: Duration::from_secs(20),
            probe_timeout: Duration::from_secs(10),
            cache_ttl: Duration::from_secs(1),
        }
    }
}

impl BreakerConfig {
    /// `BREAKER_FAILURE_THRESHOLD`, `BREAKER_WINDOW_SECONDS`, `BREAKER_COOL_DOWN_SECONDS`,
    /// `BREAKER_CACHE_MS` (template Parameters set them).
    pub fn from_env() -> Self {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let d = BreakerConfig::default();
        let num = |var: &str| lookup(var).and_then(|v| v.parse::<u64>().ok());
        BreakerConfig {
            failure_threshold: num("BREAKER_FAILURE_THRESHOLD").map(|n| n.max(1) as u32).unwrap_or(d.failure_threshold),
            window: num("BREAKER_WINDOW_SECONDS").map(Duration::from_secs).unwrap_or(d.window),
            cool_down: num("BREAKER_COOL_DOWN_SECONDS").map(Duration::from_secs).unwrap_or(d.cool_down),
            probe_timeout: d.probe_timeout,
            cache_ttl: num("BREAKER_CACHE_MS").map(Duration::from_millis).unwrap_or(d.cache_ttl),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

/// The shared item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BreakerRecord {
    pub state: BreakerState,
    pub failures: u32,
    pub window_start_ms: i64,
    pub opened_at_ms: i64,
    pub probe_started_ms: i64,
    /// 0 while the item does not exist.
    pub version: u64,
}

/// What a caller holds while it calls: an ordinary call, or the one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Closed,
    Probe,
}

/// The breaker is open: no call; try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the payment breaker is open; retry after {retry_after:?}")]
pub struct Open {
    pub retry_after: Duration,
}

pub struct CircuitBreaker {
    table: Arc<dyn Table>,
    name: String,
    config: BreakerConfig,
    /// The state as last read, and when (clock milliseconds).
    cache: Mutex<Option<(BreakerRecord, i64)>>,
    clock: SharedClock,
}

impl CircuitBreaker {
    pub fn new(table: Arc<dyn Table>, name: &str, config: BreakerConfig, clock: SharedClock) -> Self {
        CircuitBreaker { table, name: name.to_owned(), config, cache: Mutex::new(None), clock }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn key(&self) -> Key {
        Key::new(format!("BREAKER#{}", self.name), "BREAKER")
    }

    /// The shared state, read now.
    pub async fn read(&self) -> Result<BreakerRecord, StorageError> {
        let record = match self.table.get(&self.key()).await? {
            Some(item) => serde_json::from_value(Value::Object(item)).unwrap_or_default(),
            None => BreakerRecord::default(),
        };
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((record.clone(), self.now_ms()));
        }
        Ok(record)
    }

    async fn cached(&self) -> Result<BreakerRecord, StorageError> {
        let now = self.now_ms();
        let hit = self.cache.lock().ok().and_then(|c| c.as_ref().filter(|(_, at)| now - at < self.config.cache_ttl.as_millis() as i64).map(|(r, _)| r.clone()));
        match hit {
            Some(record) => Ok(record),
            None => self.read().await,
        }
    }

    /// Writes `next` if the item is still at `current.version`.
    async fn replace(&self, current: &BreakerRecord, mut next: BreakerRecord) -> Result<bool, StorageError> {
        next.version = current.version + 1;
        let mut item: Item = self.key().to_item();
        item.extend(to_item(&next)?);
        let guard = if current.version == 0 { Condition::NotExists } else { Condition::equals("version", current.version) };
        match self.table.write(vec![WriteOp::put_if(item, guard)]).await {
            Ok(()) => {
                if let Ok(mut cache) = self.cache.lock() {
                    *cache = Some((next, self.now_ms()));
                }
                Ok(true)
            }
            Err(StorageError::ConditionFailed { .. }) => {
                if let Ok(mut cache) = self.cache.lock() {
                    *cache = None;
                }
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Is the breaker open, as far as this instance knows (cached)? Changes nothing: for
    /// failing fast before any work is done.
    pub async fn acquire_peek(&self) -> Result<(), Open> {
        let Ok(record) = self.cached().await else {
            return Ok(());
        };
        let cool_down = self.config.cool_down.as_millis() as i64;
        let now = self.now_ms();
        if record.state == BreakerState::Open && now < record.opened_at_ms + cool_down {
            return Err(Open { retry_after: Duration::from_millis((record.opened_at_ms + cool_down - now).max(1000) as u64) });
        }
        Ok(())
    }

    /// May a call go ahead? While open, no: fail fast. After the cool-down, one caller gets to
    /// probe. If the state cannot be read, calls go ahead (the breaker protects; it must not
    /// be a new way to fail).
    pub async fn acquire(&self) -> Result<Permit, Open> {
        let record = match self.cached().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "breaker state unreadable; letting the call through");
                return Ok(Permit::Closed);
            }
        };
        let now = self.now_ms();
        let cool_down = self.config.cool_down.as_millis() as i64;
        match record.state {
            BreakerState::Closed => Ok(Permit::Closed),
            BreakerState::Open if now < record.opened_at_ms + cool_down => {
                Err(Open { retry_after: Duration::from_millis((record.opened_at_ms + cool_down - now).max(1000) as u64) })
            }
            BreakerState::HalfOpen if now < record.probe_started_ms + self.config.probe_timeout.as_millis() as i64 => {
                Err(Open { retry_after: Duration::from_secs(1) })
            }
            _ => {
                // Cool-down over (or the probe went silent): read fresh and try to be the probe.
                let fresh = self.read().await.map_err(|_| Open { retry_after: Duration::from_secs(1) })?;
                if fresh != record {
                    return Box::pin(self.acquire()).await;
                }
                let probe = BreakerRecord { state: BreakerState::HalfOpen, probe_started_ms: now, ..fresh.clone() };
                match self.replace(&fresh, probe).await {
                    Ok(true) => {
                        tracing::info!(breaker = %self.name, "breaker half-open: this call is the probe");
                        Ok(Permit::Probe)
                    }
                    _ => Err(Open { retry_after: Duration::from_secs(1) }),
                }
            }
        }
    }

    /// The call went through.
    pub async fn succeeded(&self, permit: Permit) {
        if permit != Permit::Probe {
            return;
        }
        for _ in 0..5 {
            let Ok(current) = self.read().await else {
                return;
            };
            if current.state != BreakerState::HalfOpen {
                return;
            }
            let closed = BreakerRecord { state: BreakerState::Closed, failures: 0, window_start_ms: 0, ..current.clone() };
            if let Ok(true) = self.replace(&current, closed).await {
                tracing::info!(breaker = %self.name, "breaker closed: the probe succeeded");
                return;
            }
        }
    }

    /// The call failed or timed out.
    pub async fn failed(&self, permit: Permit) {
        for _ in 0..5 {
            let Ok(current) = self.read().await else {
                return;
            };
            let now = self.now_ms();
            let next = match (permit, current.state) {
                (Permit::Probe, _) | (_, BreakerState::HalfOpen) => {
                    BreakerRecord { state: BreakerState::Open, opened_at_ms: now, failures: 0, ..current.clone() }
                }
                (Permit::Closed, BreakerState::Open) => return,
                (Permit::Closed, BreakerState::Closed) => {
                    let in_window = now - current.window_start_ms < self.config.window.as_millis() as i64;
                    let failures = if in_window { current.failures + 1 } else { 1 };
                    let window_start_ms = if in_window { current.window_start_ms } else { now };
                    if failures >= self.config.failure_threshold {
                        BreakerRecord { state: BreakerState::Open, opened_at_ms: now, failures, window_start_ms, ..current.clone() }
                    } else {
                        BreakerRecord { failures, window_start_ms, ..current.clone() }
                    }
                }
            };
            let opened = next.state == BreakerState::Open;
            if let Ok(true) = self.replace(&current, next).await {
                if opened {
                    tracing::warn!(breaker = %self.name, "breaker open: payment calls stop for the cool-down");
                    crate::metrics::breaker_opened();
                }
                return;
            }
        }
    }
}
