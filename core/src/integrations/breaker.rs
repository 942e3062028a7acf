//! The circuit breaker of one integration, as pure state changes. The state
//! lives in the table and every change is a conditional write, so all
//! executors share one breaker per integration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::definition::BreakerSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Circuit {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

impl Circuit {
    /// As stored and as events carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "halfOpen",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BreakerState {
    pub circuit: Circuit,
    /// Start of the current counting window (closed).
    pub window_start_ms: i64,
    pub calls: u32,
    pub failures: u32,
    pub opened_at_ms: i64,
    /// When the latest half-open probe was let through; 0 when none is.
    pub probe_at_ms: i64,
    /// Probes let through, and probes that succeeded, in this half-open period.
    #[serde(default)]
    pub probes: u32,
    #[serde(default)]
    pub probe_successes: u32,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allow,
    /// Not now: the circuit is open (or a probe is in flight). Try again after this.
    Wait(Duration),
}

/// A state change worth announcing: the circuit event's kind.
pub use crate::domain::CircuitChange as Change;

/// Whether a call may go out at `now`, and the state to write if letting it
/// through changes anything (an open circuit turning half-open, or one more
/// probe). Probes older than `probe_ttl` are presumed lost: the half-open
/// period starts over.
pub fn admit(
    state: &BreakerState,
    settings: &BreakerSettings,
    now_ms: i64,
    probe_ttl: Duration,
) -> (Admission, Option<BreakerState>) {
    let cool_down_ends = state.opened_at_ms + settings.cool_down_seconds as i64 * 1000;
    match state.circuit {
        Circuit::Closed => (Admission::Allow, None),
        Circuit::Open if now_ms < cool_down_ends => (
            Admission::Wait(Duration::from_millis((cool_down_ends - now_ms) as u64)),
            None,
        ),
        Circuit::HalfOpen if probes_alive(state, now_ms, probe_ttl) => {
            if state.probes < settings.half_open_probes {
                let next = BreakerState {
                    probes: state.probes + 1,
                    probe_at_ms: now_ms,
                    version: state.version + 1,
                    ..state.clone()
                };
                return (Admission::Allow, Some(next));
            }
            let probe_ends = state.probe_at_ms + probe_ttl.as_millis() as i64;
            (
                Admission::Wait(Duration::from_millis(
                    (probe_ends - now_ms).clamp(500, 5_000) as u64,
                )),
                None,
            )
        }
        Circuit::Open | Circuit::HalfOpen => {
            let next = BreakerState {
                circuit: Circuit::HalfOpen,
                probe_at_ms: now_ms,
                probes: 1,
                probe_successes: 0,
                version: state.version + 1,
                ..state.clone()
            };
            (Admission::Allow, Some(next))
        }
    }
}

fn probes_alive(state: &BreakerState, now_ms: i64, probe_ttl: Duration) -> bool {
    state.probe_at_ms > 0 && now_ms < state.probe_at_ms + probe_ttl.as_millis() as i64
}

/// The state after a call's outcome; `failed` means the downstream is in
/// trouble (connect error, timeout, 5xx, 408, 429), not that the request was bad.
pub fn record(
    state: &BreakerState,
    settings: &BreakerSettings,
    now_ms: i64,
    failed: bool,
) -> (BreakerState, Option<Change>) {
    let mut next = BreakerState {
        version: state.version + 1,
        ..state.clone()
    };
    match state.circuit {
        Circuit::HalfOpen if failed => {
            next.circuit = Circuit::Open;
            next.opened_at_ms = now_ms;
            next.probe_at_ms = 0;
            next.probes = 0;
            next.probe_successes = 0;
            (next, Some(Change::Opened))
        }
        // Every probe of the period must succeed before the circuit closes.
        Circuit::HalfOpen if state.probe_successes + 1 < settings.half_open_probes => {
            next.probe_successes += 1;
            (next, None)
        }
        Circuit::HalfOpen => (
            BreakerState {
                circuit: Circuit::Closed,
                window_start_ms: now_ms,
                version: state.version + 1,
                ..BreakerState::default()
            },
            Some(Change::Closed),
        ),
        // A call let through before the circuit opened: it changes nothing.
        Circuit::Open => (state.clone(), None),
        Circuit::Closed => {
            if now_ms >= state.window_start_ms + settings.window_seconds as i64 * 1000 {
                next.window_start_ms = now_ms;
                next.calls = 0;
                next.failures = 0;
            }
            next.calls += 1;
            next.failures += u32::from(failed);
            let rate = f64::from(next.failures) / f64::from(next.calls);
            if next.calls >= settings.minimum_calls && rate >= settings.failure_rate_threshold {
                next.circuit = Circuit::Open;
                next.opened_at_ms = now_ms;
                return (next, Some(Change::Opened));
            }
            (next, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            failure_rate_threshold: 0.5,
            minimum_calls: 4,
            window_seconds: 60,
            cool_down_seconds: 10,
            half_open_probes: 1,
        }
    }

    #[test]
    fn it_opens_at_the_failure_rate_after_the_minimum_calls() {
        let s = settings();
        let mut state = BreakerState::default();
        let mut changes = Vec::new();
        for failed in [true, true, true] {
            let (next, change) = record(&state, &s, 1_000, failed);
            state = next;
            changes.extend(change);
        }
        assert_eq!(
            state.circuit,
            Circuit::Closed,
            "three calls are under the minimum of four"
        );
        let (state, change) = record(&state, &s, 1_000, false);
        assert_eq!(
            (state.circuit, change),
            (Circuit::Open, Some(Change::Opened)),
            "3 of 4 failed"
        );
        assert_eq!(
            admit(&state, &s, 5_000, Duration::from_secs(30)).0,
            Admission::Wait(Duration::from_secs(6))
        );
    }

    #[test]
    fn a_new_window_forgets_old_failures() {
        let s = settings();
        let (state, _) = record(&BreakerState::default(), &s, 0, true);
        let (state, _) = record(&state, &s, 61_000, false);
        assert_eq!((state.calls, state.failures), (1, 0));
    }

    #[test]
    fn after_the_cool_down_one_probe_decides() {
        let s = settings();
        let open = BreakerState {
            circuit: Circuit::Open,
            opened_at_ms: 0,
            ..Default::default()
        };
        let (admission, probing) = admit(&open, &s, 10_000, Duration::from_secs(30));
        assert_eq!(admission, Admission::Allow);
        let probing = probing.unwrap();
        assert_eq!(probing.circuit, Circuit::HalfOpen);
        assert!(
            matches!(
                admit(&probing, &s, 11_000, Duration::from_secs(30)).0,
                Admission::Wait(_)
            ),
            "one probe at a time"
        );
        assert_eq!(
            admit(&probing, &s, 41_000, Duration::from_secs(30)).0,
            Admission::Allow,
            "a lost probe is replaced"
        );
        let (closed, change) = record(&probing, &s, 12_000, false);
        assert_eq!(
            (closed.circuit, change),
            (Circuit::Closed, Some(Change::Closed))
        );
        let (reopened, change) = record(&probing, &s, 12_000, true);
        assert_eq!(
            (reopened.circuit, reopened.opened_at_ms, change),
            (Circuit::Open, 12_000, Some(Change::Opened))
        );
    }

    #[test]
    fn with_several_probes_all_must_succeed_and_no_more_go_at_once() {
        let s = BreakerSettings {
            half_open_probes: 2,
            ..settings()
        };
        let ttl = Duration::from_secs(30);
        let open = BreakerState {
            circuit: Circuit::Open,
            ..Default::default()
        };
        let (first, probing) = admit(&open, &s, 10_000, ttl);
        let probing = probing.unwrap();
        let (second, probing) = admit(&probing, &s, 10_100, ttl);
        let probing = probing.unwrap();
        assert_eq!((first, second), (Admission::Allow, Admission::Allow));
        assert_eq!((probing.circuit, probing.probes), (Circuit::HalfOpen, 2));
        assert!(
            matches!(admit(&probing, &s, 10_200, ttl).0, Admission::Wait(_)),
            "a third probe waits"
        );

        let (one_good, change) = record(&probing, &s, 10_300, false);
        assert_eq!((one_good.circuit, change), (Circuit::HalfOpen, None));
        let (closed, change) = record(&one_good, &s, 10_400, false);
        assert_eq!(
            (closed.circuit, closed.probes, change),
            (Circuit::Closed, 0, Some(Change::Closed))
        );

        let (reopened, change) = record(&one_good, &s, 10_400, true);
        assert_eq!(
            (reopened.circuit, reopened.probes, change),
            (Circuit::Open, 0, Some(Change::Opened))
        );
        let (_, restarted) = admit(&probing, &s, 41_000, ttl);
        let restarted = restarted.expect("lost probes are replaced");
        assert_eq!((restarted.probes, restarted.probe_successes), (1, 0));
    }
}
