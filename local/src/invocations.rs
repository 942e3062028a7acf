//! What Lambda would report for the local runner's functions: invocations,
//! records and time spent, by function. For benchmarks and `tel dev`.

use std::collections::BTreeMap;
use std::sync::Mutex;
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
}

impl InvocationLog {
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
