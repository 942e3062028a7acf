//! What a response means: a success becomes the output through the response
//! mapping; a failure is classed retryable (5xx, 408, 429) or not, paced by
//! `Retry-After`, and reported with a redacted excerpt of its body.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tracing::info;

use super::HttpRunner;
use super::auth::redact;
use super::failure::Failure;
use super::transport::DEFAULT_MAX_RESPONSE_BYTES;
use crate::RunJob;
use tel_core::domain::TaskError;
use tel_core::domain::task_error::INTEGRATION_ERROR;
use tel_core::domain::trace::traceparent;
use tel_core::integrations::Integration;
use tel_core::integrations::definition::Auth;

/// How much of an error response's body is kept in the error details.
const BODY_EXCERPT_CHARS: usize = 2_000;

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value.trim()).ok()?.into();
    (at - now).to_std().ok()
}

impl HttpRunner {
    /// One call of the task: the request built, sent (once more with a fresh
    /// token after a 401 under OAuth2), and its answer classed.
    pub(super) async fn call(
        &self,
        job: &RunJob<'_>,
        integration: &Integration,
    ) -> Result<Value, Failure> {
        let (_, request, response) = Self::spec(job)?;
        let task = job.task;
        let document = json!({
            "input": task.input,
            "context": task.context,
            "task": { "taskInstanceId": task.task_instance_id, "workflowInstanceId": task.workflow_instance_id, "stepId": task.step_id, "attempt": task.attempt },
        });
        let mut built = request.build(&document)?;
        // The call continues the task's trace, unless the mapping sets one.
        let traceparent = task.trace_id.as_deref().and_then(traceparent);
        if let Some(traceparent) = traceparent
            && !built
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("traceparent"))
        {
            built.headers.push(("traceparent".into(), traceparent));
        }
        let client = self.client(integration)?;
        let mut secrets = Vec::new();
        // The same key on every attempt of this task: the downstream can de-duplicate.
        let key = task.task_instance_id.to_string();
        let mut answer = self
            .send(integration, &client, &built, &key, &mut secrets, false)
            .await?;
        if answer.status().as_u16() == 401
            && matches!(integration.auth, Auth::Oauth2ClientCredentials { .. })
        {
            info!(integration = %integration.name, "401: refreshing the oauth2 token once");
            answer = self
                .send(integration, &client, &built, &key, &mut secrets, true)
                .await?;
        }
        let status = answer.status();
        let headers: BTreeMap<String, String> = answer
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), v.to_owned()))
            })
            .collect();
        let cap = job
            .definition
            .limits
            .max_output_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        let bytes = self.read_body(integration, answer, cap).await?;
        let text = String::from_utf8_lossy(&bytes);
        let body: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(text.to_string()));
        if status.is_success() {
            return Ok(response.output(status.as_u16(), &headers, &body)?);
        }
        let code = status.as_u16();
        let retryable = status.is_server_error() || code == 408 || code == 429;
        let excerpt: String = redact(&text, &secrets)
            .chars()
            .take(BODY_EXCERPT_CHARS)
            .collect();
        Err(Failure {
            error: TaskError::new(INTEGRATION_ERROR, format!("{} answered {status} to {} {}", integration.name, built.method, built.path))
                .with_details(json!({ "integration": integration.name, "status": code, "method": built.method, "path": built.path, "body": excerpt })),
            retryable,
            retry_after: headers.get("retry-after").and_then(|v| retry_after(v, self.clock.now())).filter(|_| retryable),
            downstream: retryable,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after("Thu, 26 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
