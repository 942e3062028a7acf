//! Percentiles of a set of durations.

use std::time::Duration;

pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

pub fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let total: Duration = samples.iter().sum();
    Summary {
        count: samples.len(),
        p50: at(0.50),
        p90: at(0.90),
        p95: at(0.95),
        p99: at(0.99),
        max: *samples.last().expect("samples"),
        mean: total / samples.len() as u32,
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.3?} p90={:.3?} p95={:.3?} p99={:.3?} max={:.3?} mean={:.3?}",
            self.count, self.p50, self.p90, self.p95, self.p99, self.max, self.mean
        )
    }
}
