//! The integration's circuit breaker around each call: admission (wait while
//! open, one probe at a time after the cool-down), every outcome recorded
//! with a conditional write, and each opening and closing announced on the
//! bus as a `CircuitEvent`.

use std::time::Duration;

use tracing::warn;

use super::HttpRunner;
use crate::{Admission, RunError};
use tel_core::domain::TaskError;
use tel_core::domain::circuit::CircuitEvent;
use tel_core::domain::task_error::INTEGRATION_ERROR;
use tel_core::integrations::Integration;
use tel_core::integrations::breaker::{self, Admission as Breaker, Change};
use tel_core::ports::BusEvent;

/// Breaker writes lost to another executor are retried this often.
const BREAKER_ROUNDS: usize = 4;

impl HttpRunner {
    /// `Some(wait)` while the circuit holds calls back; `None` to go on (a
    /// probe's place taken if it was the circuit's turn for one).
    pub(super) async fn pass_breaker(
        &self,
        integration: &Integration,
    ) -> Result<Option<Admission>, RunError> {
        let probe_ttl =
            Duration::from_millis(integration.timeouts.total_ms) + Duration::from_secs(5);
        for _ in 0..BREAKER_ROUNDS {
            let state = self
                .breakers
                .load(integration.name.as_str())
                .await
                .map_err(|e| {
                    RunError::retryable(TaskError::new(INTEGRATION_ERROR, e.to_string()))
                })?;
            match breaker::admit(
                &state,
                &integration.breaker,
                self.clock.now().timestamp_millis(),
                probe_ttl,
            ) {
                (Breaker::Wait(delay), _) => {
                    let reason =
                        format!("the circuit of {} is {:?}", integration.name, state.circuit);
                    return Ok(Some(Admission::Wait { delay, reason }));
                }
                (Breaker::Allow, Some(next)) => match self
                    .breakers
                    .save(integration.name.as_str(), &next, state.version)
                    .await
                {
                    Ok(true) => return Ok(None),
                    Ok(false) => continue,
                    Err(e) => {
                        return Err(RunError::retryable(TaskError::new(
                            INTEGRATION_ERROR,
                            e.to_string(),
                        )));
                    }
                },
                (Breaker::Allow, None) => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Feeds an outcome to the breaker; announces the circuit opening or closing.
    pub(super) async fn record(&self, integration: &Integration, failed: bool) {
        for _ in 0..BREAKER_ROUNDS {
            let Ok(state) = self.breakers.load(integration.name.as_str()).await else {
                return;
            };
            let (next, change) = breaker::record(
                &state,
                &integration.breaker,
                self.clock.now().timestamp_millis(),
                failed,
            );
            if next == state {
                return;
            }
            match self
                .breakers
                .save(integration.name.as_str(), &next, state.version)
                .await
            {
                Ok(true) => {
                    if let Some(change) = change {
                        self.announce(integration, change, &next).await;
                    }
                    return;
                }
                Ok(false) => continue,
                Err(e) => {
                    warn!(integration = %integration.name, error = %e, "breaker not updated");
                    return;
                }
            }
        }
    }

    async fn announce(
        &self,
        integration: &Integration,
        change: Change,
        state: &breaker::BreakerState,
    ) {
        let event = CircuitEvent {
            integration: integration.name.to_string(),
            change,
            circuit: state.circuit.as_str(),
            calls: state.calls,
            failures: state.failures,
            cool_down_seconds: integration.breaker.cool_down_seconds,
            occurred_at: self.clock.now(),
        };
        warn!(integration = %integration.name, detail_type = event.change.detail_type(), "circuit changed");
        if let Err(e) = self.publisher.publish(&[BusEvent::from(&event)]).await {
            warn!(integration = %integration.name, error = %e, "circuit event not published");
        }
    }
}
