//! An integration's circuit opening or closing, as the event tel publishes:
//! its detail types and shape are defined here once, beside the task events,
//! and documented in the AsyncAPI document from here.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which way the circuit went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitChange {
    Opened,
    Closed,
}

impl CircuitChange {
    pub const ALL: [Self; 2] = [Self::Opened, Self::Closed];

    pub fn detail_type(self) -> &'static str {
        match self {
            Self::Opened => "integration.circuit_opened",
            Self::Closed => "integration.circuit_closed",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            Self::Opened => {
                "An integration's circuit breaker opened: its calls are refused until it cools down."
            }
            Self::Closed => {
                "An integration's circuit breaker closed again after successful probes."
            }
        }
    }
}

/// The `detail` of a circuit event.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitEvent {
    #[serde(skip)]
    pub change: CircuitChange,
    pub integration: String,
    /// The circuit after the change: `open`, `closed` (or `halfOpen`).
    pub circuit: &'static str,
    pub calls: u32,
    pub failures: u32,
    pub cool_down_seconds: u64,
    pub occurred_at: DateTime<Utc>,
}
