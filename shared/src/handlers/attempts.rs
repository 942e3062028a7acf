//! What happens after a failed attempt, wherever it failed (in the executor,
//! or found dead by the sweeper): another attempt per the retry policy, or FAILED.

use std::time::Duration;

use tracing::info;

use super::services::{ApplyError, Services};
use crate::domain::{Action, RetryPolicy, RetryWait, Stage, TaskInstance};
use crate::runners::RunError;

/// The longest delay an SQS message can carry; longer waits use the deadline index.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

pub async fn retry_or_fail(
    services: &Services,
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
        return services.apply(task, Action::Fail { error }).await;
    }
    let delay = retry_after.unwrap_or_else(|| policy.delay(task.attempt));
    let retry_at = services.now() + delay;
    info!(code = %error.code, attempt = task.attempt, delay_ms = delay.as_millis() as u64, "attempt failed; retry scheduled");
    if delay <= MAX_QUEUE_DELAY {
        let action = Action::ScheduleRetry {
            error,
            retry_at,
            wait: RetryWait::Queue,
            redeliver_at: services.redeliver_after(retry_at),
        };
        let queued = services.apply(task, action).await?;
        services
            .send_stage(&queued, Stage::Execute, delay.as_secs_f64().ceil() as u32)
            .await?;
        Ok(queued)
    } else {
        let action = Action::ScheduleRetry {
            error,
            retry_at,
            wait: RetryWait::Deadline,
            redeliver_at: retry_at,
        };
        services.apply(task, action).await
    }
}
