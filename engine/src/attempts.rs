//! What happens after a failed attempt, wherever it failed (in the executor,
//! or found dead by the sweeper): another attempt per the retry policy, or FAILED.

use std::time::Duration;

use tracing::info;

use crate::{ApplyError, TaskEngine};
use tel_core::domain::{Action, RetryPolicy, RetryWait, TaskInstance, Transition};
use tel_core::ports::runner::RunError;

/// The longest delay an SQS message can carry; longer waits use the deadline index.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

/// `held`: the attempt's start, when it is written with this end (`claim`).
pub async fn retry_or_fail(
    engine: &TaskEngine,
    held: Option<Transition>,
    task: &TaskInstance,
    policy: &RetryPolicy,
    failure: RunError,
) -> Result<TaskInstance, ApplyError> {
    let RunError {
        error,
        retryable,
        retry_after,
    } = failure;
    if !(retryable && policy.allows_retry(task.attempt, &error.code)) {
        info!(code = %error.code, attempt = task.attempt, "attempt failed; no retry left");
        return engine.apply_after(held, task, Action::Fail { error }).await;
    }
    let delay = retry_after.unwrap_or_else(|| policy.delay(task.attempt));
    let retry_at = engine.now() + delay;
    info!(code = %error.code, attempt = task.attempt, delay_ms = delay.as_millis() as u64, "attempt failed; retry scheduled");
    // A wait a queue can carry goes on the queue (the transition asks for the
    // delayed message); a longer one waits in the deadline index.
    let (wait, redeliver_at) = if delay <= MAX_QUEUE_DELAY {
        (RetryWait::Queue, engine.redeliver_after(retry_at))
    } else {
        (RetryWait::Deadline, retry_at)
    };
    let action = Action::ScheduleRetry {
        error,
        retry_at,
        wait,
        redeliver_at,
    };
    engine.apply_after(held, task, action).await
}
