//! Deployment configuration, read once per cold start from the environment.
//! Every variable is listed in docs/operations.md (Configuration).

use std::time::Duration;

use anyhow::{Context, Result};

/// Queue URLs of the pipeline's work queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    pub requests: String,
    pub validate: String,
    pub execute: String,
    pub manual: String,
    /// Priority lanes: drained first, with more concurrency. Optional.
    pub validate_priority: Option<String>,
    pub execute_priority: Option<String>,
}

/// Timings and caps that are the deployment's, not a definition's.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// A task whose stage message has not been acted on this long gets it
    /// re-sent by the sweeper (its handler died holding it, or the send
    /// after the write was lost), unless the message's queue still holds
    /// messages waiting their turn.
    pub redeliver_after: Duration,
    /// Re-sent even though its queue still holds messages, once a stage
    /// message has waited this long.
    pub redeliver_anyway_after: Duration,
    /// Slack added to an attempt's timeout before its lease counts as expired.
    pub lease_grace: Duration,
    /// Cap on any definition's `timeoutSeconds` (keep under the executor's function timeout).
    pub max_task_timeout: Duration,
    /// Caps on the JavaScript sandbox.
    pub js_max_memory_bytes: u64,
    pub js_max_stack_bytes: u64,
    /// System-function permissions this deployment grants at most.
    pub system_permissions: Vec<String>,
    /// Queues the `queue.send` system function may write to (URLs).
    pub allowed_queues: Vec<String>,
    pub deadline_shards: u16,
    /// How task histories are written (`TEL_HISTORY_FORMAT`: `compact`, or
    /// `objects` while a stack upgraded from an older release still runs
    /// some of its code).
    pub history_format: tel_aws::dynamo::HistoryFormat,
    /// Requests with at least this priority (0-9) take the priority lanes.
    pub priority_threshold: i32,
    /// The queues' maxReceiveCount: on that delivery a failing message is
    /// given up on (its task FAILED, the reason noted) before SQS dead-letters it.
    pub max_receive_count: u32,
    /// Inputs, contexts and outputs larger than this are stored in the
    /// payload bucket and referenced (a claim check).
    pub payload_threshold_bytes: u64,
    /// The most any one payload of a task may take.
    pub max_payload_bytes: u64,
    /// How often a Step Functions step waiting on an unfinished task hears it
    /// is alive, unless its definition says (`heartbeatSeconds`). The
    /// sweeper sends them, so they are as late as its schedule at worst.
    pub heartbeat_interval: Duration,
    /// Secrets Manager names integration credentials live under: an
    /// integration's `secretRef` must be `<prefix><its name>` or under
    /// `<prefix><its name>/` (what the executor's IAM policy allows, too).
    pub integration_secrets_prefix: String,
    /// How long each sweep works on running bulk operations after its
    /// deadlines (keep well under the sweeper's function timeout).
    pub operation_budget: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redeliver_after: Duration::from_secs(30),
            redeliver_anyway_after: Duration::from_secs(600),
            lease_grace: Duration::from_secs(10),
            max_task_timeout: Duration::from_secs(840),
            js_max_memory_bytes: 64 * 1024 * 1024,
            js_max_stack_bytes: 1024 * 1024,
            system_permissions: Vec::new(),
            allowed_queues: Vec::new(),
            deadline_shards: tel_aws::dynamo::DEFAULT_DEADLINE_SHARDS,
            history_format: tel_aws::dynamo::HistoryFormat::default(),
            max_receive_count: 5,
            priority_threshold: 5,
            payload_threshold_bytes: 32 * 1024,
            max_payload_bytes: 10 * 1024 * 1024,
            heartbeat_interval: Duration::from_secs(60),
            integration_secrets_prefix: tel_core::integrations::DEFAULT_SECRETS_PREFIX.to_owned(),
            operation_budget: Duration::from_secs(40),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub table_name: String,
    pub event_bus_name: String,
    /// Where large payloads go; without it every payload stays in the task's
    /// record (and one past DynamoDB's 400 KB item limit fails the task).
    pub payload_bucket: Option<String>,
    pub queues: QueueUrls,
    pub settings: Settings,
}

fn required(name: &str) -> Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("environment variable {name} is required"))
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn seconds(name: &str, default: Duration) -> Result<Duration> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .map(Duration::from_secs_f64)
            .with_context(|| format!("{name} must be a non-negative number of seconds, got {v:?}")),
        _ => Ok(default),
    }
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .ok()
            .with_context(|| format!("{name} must be a number, got {v:?}")),
        _ => Ok(default),
    }
}

fn list(name: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Settings {
    /// The settings from `TEL_*` variables, defaults where unset.
    pub fn from_env() -> Result<Self> {
        let d = Self::default();
        Ok(Self {
            redeliver_after: seconds("TEL_REDELIVER_AFTER_SECONDS", d.redeliver_after)?,
            redeliver_anyway_after: seconds(
                "TEL_REDELIVER_ANYWAY_AFTER_SECONDS",
                d.redeliver_anyway_after,
            )?,
            lease_grace: seconds("TEL_LEASE_GRACE_SECONDS", d.lease_grace)?,
            max_task_timeout: seconds("TEL_MAX_TASK_TIMEOUT_SECONDS", d.max_task_timeout)?,
            js_max_memory_bytes: number("TEL_JS_MAX_MEMORY_BYTES", d.js_max_memory_bytes)?,
            js_max_stack_bytes: number("TEL_JS_MAX_STACK_BYTES", d.js_max_stack_bytes)?,
            system_permissions: list("TEL_SYSTEM_PERMISSIONS"),
            allowed_queues: list("TEL_ALLOWED_QUEUES"),
            deadline_shards: number("TEL_DEADLINE_SHARDS", d.deadline_shards)?.max(1),
            history_format: match optional("TEL_HISTORY_FORMAT") {
                None => d.history_format,
                Some(text) => tel_aws::dynamo::HistoryFormat::parse(&text).ok_or_else(|| {
                    anyhow::anyhow!("TEL_HISTORY_FORMAT must be compact or objects, not {text:?}")
                })?,
            },
            max_receive_count: number("TEL_MAX_RECEIVE_COUNT", d.max_receive_count)?.max(1),
            priority_threshold: number("TEL_PRIORITY_THRESHOLD", d.priority_threshold)?,
            payload_threshold_bytes: number(
                "TEL_PAYLOAD_THRESHOLD_BYTES",
                d.payload_threshold_bytes,
            )?,
            max_payload_bytes: number("TEL_MAX_PAYLOAD_BYTES", d.max_payload_bytes)?,
            heartbeat_interval: seconds("TEL_HEARTBEAT_SECONDS", d.heartbeat_interval)?,
            integration_secrets_prefix: optional("TEL_INTEGRATION_SECRETS_PREFIX")
                .unwrap_or(d.integration_secrets_prefix),
            operation_budget: seconds("TEL_OPERATION_BUDGET_SECONDS", d.operation_budget)?,
        })
    }
}

impl Config {
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            table_name: required("TEL_TABLE_NAME")?,
            event_bus_name: required("TEL_EVENT_BUS_NAME")?,
            payload_bucket: optional("TEL_PAYLOAD_BUCKET"),
            queues: QueueUrls {
                requests: required("TEL_REQUESTS_QUEUE_URL")?,
                validate: required("TEL_VALIDATE_QUEUE_URL")?,
                execute: required("TEL_EXECUTE_QUEUE_URL")?,
                manual: required("TEL_MANUAL_QUEUE_URL")?,
                validate_priority: optional("TEL_VALIDATE_PRIORITY_QUEUE_URL"),
                execute_priority: optional("TEL_EXECUTE_PRIORITY_QUEUE_URL"),
            },
            settings: Settings::from_env()?,
        })
    }
}
