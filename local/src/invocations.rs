//! What Lambda would report for the local runner's functions: invocations,
//! records and time spent, by function. For benchmarks and `tel dev`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FunctionStats {
    pub invocations: u64,
    pub records: u64,
    /// Wall time inside the handler, summed over invocations.
    pub busy: Duration,
}

#[derive(Debug, Default)]
pub struct InvocationLog {
    by_function: Mutex<BTreeMap<&'static str, FunctionStats>>,
    /// Batches inside a handler now.
    in_flight: AtomicUsize,
    /// Reads of the change stream that found nothing new (the publisher is
    /// caught up with every write before the read).
    stream_caught_up: AtomicU64,
}

/// A batch inside its handler, until dropped.
pub struct InFlight<'a>(&'a InvocationLog);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl InvocationLog {
    /// A batch enters its handler; it leaves when the guard drops.
    pub fn begin(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The stream reader read every shard and found nothing new.
    pub fn stream_caught_up(&self) {
        self.stream_caught_up.fetch_add(1, Ordering::SeqCst);
    }

    /// How often the stream reader has been caught up so far.
    pub fn stream_caught_up_count(&self) -> u64 {
        self.stream_caught_up.load(Ordering::SeqCst)
    }

    pub fn record(&self, function: &'static str, records: usize, took: Duration) {
        if let Ok(mut all) = self.by_function.lock() {
            let stats = all.entry(function).or_default();
            stats.invocations += 1;
            stats.records += records as u64;
            stats.busy += took;
        }
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, FunctionStats> {
        self.by_function
            .lock()
            .map(|all| all.clone())
            .unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut all) = self.by_function.lock() {
            all.clear();
        }
    }
}
