//! Retry policy: how many attempts, how long to wait between them, and which
//! errors are not worth retrying.

use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    Fixed,
    Linear,
    #[default]
    Exponential,
}

/// How randomness spreads retries of many tasks that failed together.
/// `full`: uniform in [0, delay]; `equal`: delay/2 + uniform in [0, delay/2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    None,
    #[default]
    Full,
    Equal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts in all, the first included: 1 means never retry.
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub initial_delay_seconds: f64,
    pub multiplier: f64,
    pub max_delay_seconds: f64,
    pub jitter: Jitter,
    #[serde(default)]
    pub non_retryable_errors: Vec<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: Backoff::Exponential,
            initial_delay_seconds: 1.0,
            multiplier: 2.0,
            max_delay_seconds: 300.0,
            jitter: Jitter::Full,
            non_retryable_errors: Vec::new(),
        }
    }
}

pub const MAX_ATTEMPTS_LIMIT: u32 = 100;
pub const MAX_DELAY_LIMIT_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

impl RetryPolicy {
    /// Problems with the policy's values, each as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.max_attempts == 0 || self.max_attempts > MAX_ATTEMPTS_LIMIT {
            problems.push((
                "maxAttempts",
                format!(
                    "must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {}",
                    self.max_attempts
                ),
            ));
        }
        if !(0.0..=MAX_DELAY_LIMIT_SECONDS).contains(&self.initial_delay_seconds) {
            problems.push((
                "initialDelaySeconds",
                format!(
                    "must be between 0 and {MAX_DELAY_LIMIT_SECONDS}, got {}",
                    self.initial_delay_seconds
                ),
            ));
        }
        if !(1.0..=10.0).contains(&self.multiplier) {
            problems.push((
                "multiplier",
                format!("must be between 1 and 10, got {}", self.multiplier),
            ));
        }
        if !(0.0..=MAX_DELAY_LIMIT_SECONDS).contains(&self.max_delay_seconds)
            || self.max_delay_seconds < self.initial_delay_seconds
        {
            problems.push((
                "maxDelaySeconds",
                format!(
                    "must be between initialDelaySeconds ({}) and {MAX_DELAY_LIMIT_SECONDS}, got {}",
                    self.initial_delay_seconds, self.max_delay_seconds
                ),
            ));
        }
        problems
    }

    /// Whether a failed attempt number `attempt` (1-based) with `code` gets another try.
    pub fn allows_retry(&self, attempt: u32, code: &str) -> bool {
        attempt < self.max_attempts && !self.non_retryable_errors.iter().any(|c| c == code)
    }

    /// The delay before the next attempt, without jitter, capped at `maxDelaySeconds`.
    pub fn base_delay(&self, failed_attempt: u32) -> Duration {
        let n = failed_attempt.max(1) - 1;
        let seconds = match self.backoff {
            Backoff::Fixed => self.initial_delay_seconds,
            Backoff::Linear => self.initial_delay_seconds * f64::from(n + 1),
            Backoff::Exponential => self.initial_delay_seconds * self.multiplier.powi(n as i32),
        };
        Duration::from_secs_f64(seconds.clamp(0.0, self.max_delay_seconds))
    }

    /// The delay before the next attempt, with jitter drawn from `unit` (a uniform sample in [0, 1)).
    pub fn delay_with(&self, failed_attempt: u32, unit: f64) -> Duration {
        let base = self.base_delay(failed_attempt).as_secs_f64();
        let unit = unit.clamp(0.0, 1.0);
        let seconds = match self.jitter {
            Jitter::None => base,
            Jitter::Full => base * unit,
            Jitter::Equal => base / 2.0 + (base / 2.0) * unit,
        };
        Duration::from_secs_f64(seconds)
    }

    pub fn delay(&self, failed_attempt: u32) -> Duration {
        self.delay_with(failed_attempt, rand::rng().random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff: Backoff, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            backoff,
            initial_delay_seconds: 2.0,
            multiplier: 3.0,
            max_delay_seconds: 50.0,
            jitter,
            non_retryable_errors: vec!["VALIDATION_ERROR".into()],
        }
    }

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn fixed_backoff_is_constant() {
        let p = policy(Backoff::Fixed, Jitter::None);
        for attempt in 1..6 {
            assert_eq!(secs(p.base_delay(attempt)), 2.0);
        }
    }

    #[test]
    fn linear_backoff_grows_by_the_initial_delay_and_is_capped() {
        let p = policy(Backoff::Linear, Jitter::None);
        let delays: Vec<f64> = (1..=4).map(|a| secs(p.base_delay(a))).collect();
        assert_eq!(delays, vec![2.0, 4.0, 6.0, 8.0]);
        assert_eq!(secs(p.base_delay(40)), 50.0);
    }

    #[test]
    fn exponential_backoff_multiplies_and_is_capped() {
        let p = policy(Backoff::Exponential, Jitter::None);
        let delays: Vec<f64> = (1..=5).map(|a| secs(p.base_delay(a))).collect();
        assert_eq!(delays, vec![2.0, 6.0, 18.0, 50.0, 50.0]);
        assert_eq!(secs(p.base_delay(1000)), 50.0);
    }

    #[test]
    fn no_jitter_returns_the_base_delay() {
        let p = policy(Backoff::Exponential, Jitter::None);
        assert_eq!(secs(p.delay_with(2, 0.0)), 6.0);
        assert_eq!(secs(p.delay_with(2, 0.99)), 6.0);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_base_delay() {
        let p = policy(Backoff::Exponential, Jitter::Full);
        assert_eq!(secs(p.delay_with(2, 0.0)), 0.0);
        assert!((secs(p.delay_with(2, 0.5)) - 3.0).abs() < 1e-9);
        assert!(secs(p.delay_with(2, 1.0)) <= 6.0);
        for _ in 0..1000 {
            let d = secs(p.delay(3));
            assert!((0.0..=18.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn equal_jitter_spans_half_to_the_base_delay() {
        let p = policy(Backoff::Exponential, Jitter::Equal);
        assert_eq!(secs(p.delay_with(2, 0.0)), 3.0);
        assert_eq!(secs(p.delay_with(2, 1.0)), 6.0);
        for _ in 0..1000 {
            let d = secs(p.delay(5));
            assert!((25.0..=50.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn retries_stop_at_max_attempts_and_on_non_retryable_codes() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..policy(Backoff::Fixed, Jitter::None)
        };
        assert!(p.allows_retry(1, "EXECUTION_ERROR"));
        assert!(p.allows_retry(2, "EXECUTION_ERROR"));
        assert!(!p.allows_retry(3, "EXECUTION_ERROR"));
        assert!(!p.allows_retry(1, "VALIDATION_ERROR"));
    }

    #[test]
    fn out_of_range_values_are_reported_per_field() {
        let p = RetryPolicy {
            max_attempts: 0,
            multiplier: 0.5,
            initial_delay_seconds: 10.0,
            max_delay_seconds: 5.0,
            ..RetryPolicy::default()
        };
        let fields: Vec<&str> = p.problems().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec!["maxAttempts", "multiplier", "maxDelaySeconds"]);
        assert!(RetryPolicy::default().problems().is_empty());
    }
}
