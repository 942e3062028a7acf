//! Task definitions: what a task is and how it runs. Versioned and immutable
//! per version; `parse` is the only way to build one from outside input.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::access::AccessRules;
use super::event_mode::EventMode;
use super::ids::{DefinitionName, DefinitionRef};
use super::manual::ManualSettings;
use super::mapping::{RequestSpec, ResponseSpec};
use super::retry::{Backoff, Jitter, RetryPolicy};
use super::schema::CompiledSchema;
use super::task_type::TaskType;

/// How an automated task runs. The executor picks the `Runner` by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Implementation {
    /// A script run in the QuickJS sandbox. Its default export, or a function
    /// named `main`, receives the input and returns the output.
    Javascript { source: String },
    /// A built-in function of the executor. `permissions` are what this
    /// definition grants it; the deployment must allow them too.
    #[serde(rename_all = "camelCase")]
    System {
        function: String,
        #[serde(default)]
        permissions: Vec<String>,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        config: Value,
    },
    /// Another Lambda function invoked synchronously with the input.
    #[serde(rename_all = "camelCase")]
    Lambda {
        function_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        qualifier: Option<String>,
    },
    /// An HTTP call through a registered integration (`name` or `name:version`).
    #[serde(rename_all = "camelCase")]
    Http {
        integration: String,
        request: RequestSpec,
        #[serde(default)]
        response: ResponseSpec,
    },
}

impl Implementation {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Javascript { .. } => "javascript",
            Self::System { .. } => "system",
            Self::Lambda { .. } => "lambda",
            Self::Http { .. } => "http",
        }
    }
}

/// Resource limits of one task. The deployment caps each of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Heap limit of the JavaScript sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Stack limit of the JavaScript sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_bytes: Option<u64>,
    /// Tasks of this definition running at once, across all executors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// Largest output accepted, as serialised JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    pub name: DefinitionName,
    /// Assigned at registration; 0 until then.
    pub version: u32,
    #[serde(rename = "type")]
    pub task_type: TaskType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What each task is about, for people: a template over its input and
    /// context (`super::title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementation: Option<Implementation>,
    pub input_schema: Value,
    pub output_schema: Value,
    pub timeout_seconds: u32,
    /// Most seconds from creation to the first attempt's start (Temporal's schedule-to-start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_to_start_seconds: Option<u32>,
    /// Most seconds from creation to the end, all attempts and waits included (schedule-to-close).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_to_close_seconds: Option<u32>,
    /// How often an orchestrator step waiting on a task (a Step Functions
    /// task token) hears it is alive; the deployment's default without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u32>,
    pub retry: RetryPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualSettings>,
    #[serde(default)]
    pub limits: Limits,
    /// Who may submit, read, work and manage this definition's tasks; none: admins only.
    #[serde(default, skip_serializing_if = "AccessRules::is_empty")]
    pub access: AccessRules,
    /// Which lifecycle events its tasks publish (`outcomes`: only the end).
    #[serde(default, skip_serializing_if = "EventMode::is_all")]
    pub events: EventMode,
}

pub const DEFAULT_TIMEOUT_SECONDS: u32 = 30;
pub const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;
/// A year: the longest whole-task budget.
pub const MAX_BUDGET_SECONDS: f64 = 365.0 * 86_400.0;

/// One thing wrong with a definition, at a path such as `retry.maxAttempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// Every problem found in a definition, so an author fixes them in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid task definition: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if p.path.is_empty() {
                write!(f, "{}", p.message)?;
            } else {
                write!(f, "{}: {}", p.path, p.message)?;
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawDefinition {
    name: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(rename = "type")]
    task_type: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    implementation: Option<Value>,
    #[serde(default = "any_schema")]
    input_schema: Value,
    #[serde(default = "any_schema")]
    output_schema: Value,
    #[serde(default)]
    timeout_seconds: Option<f64>,
    #[serde(default)]
    schedule_to_start_seconds: Option<f64>,
    #[serde(default)]
    schedule_to_close_seconds: Option<f64>,
    #[serde(default)]
    heartbeat_seconds: Option<f64>,
    #[serde(default)]
    retry: Option<RawRetry>,
    #[serde(default)]
    manual: Option<Value>,
    #[serde(default)]
    limits: Option<Value>,
    #[serde(default)]
    access: Option<Value>,
    #[serde(default)]
    events: Option<Value>,
}

/// Retry as written: every field optional, numbers signed so a negative value
/// gets a range message rather than a type error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRetry {
    max_attempts: Option<i64>,
    backoff: Option<Backoff>,
    initial_delay_seconds: Option<f64>,
    multiplier: Option<f64>,
    max_delay_seconds: Option<f64>,
    jitter: Option<Jitter>,
    #[serde(default)]
    non_retryable_errors: Vec<String>,
}

fn any_schema() -> Value {
    json!({})
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Deserialises `value` as `T`, reporting the failing field's path.
fn typed<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, Problem> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (true, _) => inner.clone(),
            (false, ".") => prefix.to_owned(),
            (false, _) => format!("{prefix}.{inner}"),
        };
        Problem {
            path: if path == "." { String::new() } else { path },
            message: e.into_inner().to_string(),
        }
    })
}

impl TaskDefinition {
    /// Parses and checks a definition written by a person or a tool.
    pub fn parse(value: Value) -> Result<Self, DefinitionError> {
        let raw: RawDefinition =
            typed(value, "").map_err(|p| DefinitionError { problems: vec![p] })?;
        let mut problems = Problems(Vec::new());

        let name = DefinitionName::parse(&raw.name)
            .map_err(|m| problems.add("name", m))
            .ok();
        let version = match raw.version {
            None => 0,
            Some(v) if (1..=i64::from(u32::MAX)).contains(&v) => v as u32,
            Some(v) => {
                problems.add("version", format!("must be a positive integer, got {v}"));
                0
            }
        };
        let task_type = match raw.task_type.as_str() {
            "automated" => Some(TaskType::Automated),
            "integration" => Some(TaskType::Integration),
            "manual" => Some(TaskType::Manual),
            other => {
                problems.add(
                    "type",
                    format!("unknown task type \"{other}\"; expected one of automated, integration, manual"),
                );
                None
            }
        };
        let implementation = parse_implementation(task_type, raw.implementation, &mut problems);
        if let Some(Err(message)) = raw.title.as_deref().map(super::title::check) {
            problems.add("title", message);
        }
        for (path, schema) in [
            ("inputSchema", &raw.input_schema),
            ("outputSchema", &raw.output_schema),
        ] {
            if let Err(message) = CompiledSchema::compile(schema) {
                problems.add(path, format!("schema does not compile: {message}"));
            }
        }
        let timeout_seconds = match raw.timeout_seconds {
            None => DEFAULT_TIMEOUT_SECONDS,
            Some(t) if t > 0.0 && t <= MAX_TIMEOUT_SECONDS && t.fract() == 0.0 => t as u32,
            Some(t) => {
                problems.add(
                    "timeoutSeconds",
                    format!("must be a whole number of seconds between 1 and {MAX_TIMEOUT_SECONDS}, got {t}"),
                );
                DEFAULT_TIMEOUT_SECONDS
            }
        };
        let mut budget = |field: &str, value: Option<f64>| match value {
            None => None,
            Some(t) if (1.0..=MAX_BUDGET_SECONDS).contains(&t) && t.fract() == 0.0 => {
                Some(t as u32)
            }
            Some(t) => {
                problems.add(field, format!("must be a whole number of seconds between 1 and {MAX_BUDGET_SECONDS}, got {t}"));
                None
            }
        };
        let schedule_to_start_seconds =
            budget("scheduleToStartSeconds", raw.schedule_to_start_seconds);
        let schedule_to_close_seconds =
            budget("scheduleToCloseSeconds", raw.schedule_to_close_seconds);
        let heartbeat_seconds = match raw.heartbeat_seconds {
            None => None,
            Some(t) if (1.0..=MAX_TIMEOUT_SECONDS).contains(&t) && t.fract() == 0.0 => {
                Some(t as u32)
            }
            Some(t) => {
                problems.add(
                    "heartbeatSeconds",
                    format!("must be a whole number of seconds between 1 and {MAX_TIMEOUT_SECONDS}, got {t}"),
                );
                None
            }
        };
        let retry = parse_retry(raw.retry, &mut problems);
        let manual = parse_manual(task_type, raw.manual, &mut problems);
        let limits = match raw.limits.map(|v| typed::<Limits>(v, "limits")) {
            None => Limits::default(),
            Some(Ok(limits)) => {
                if limits.max_concurrent == Some(0) {
                    problems.add("limits.maxConcurrent", "must be at least 1");
                }
                limits
            }
            Some(Err(p)) => {
                problems.0.push(p);
                Limits::default()
            }
        };

        let access = match raw.access.map(|v| typed::<AccessRules>(v, "access")) {
            None => AccessRules::default(),
            Some(Ok(access)) => access,
            Some(Err(p)) => {
                problems.0.push(p);
                AccessRules::default()
            }
        };

        let events = match raw.events.map(|v| typed::<EventMode>(v, "events")) {
            None => EventMode::All,
            Some(Ok(mode)) => mode,
            Some(Err(p)) => {
                problems.0.push(p);
                EventMode::All
            }
        };
        if events == EventMode::Outcomes && task_type == Some(TaskType::Manual) {
            // The notifier and the inbox's people live on the assignment events.
            problems.add(
                "events",
                "a manual task publishes all its events: its notifications are made from them",
            );
        }

        match (name, task_type, problems.0.is_empty()) {
            (Some(name), Some(task_type), true) => Ok(Self {
                name,
                version,
                task_type,
                description: raw.description,
                title: raw.title,
                implementation,
                input_schema: raw.input_schema,
                output_schema: raw.output_schema,
                timeout_seconds,
                schedule_to_start_seconds,
                schedule_to_close_seconds,
                heartbeat_seconds,
                retry,
                manual,
                limits,
                access,
                events,
            }),
            _ => Err(DefinitionError {
                problems: problems.0,
            }),
        }
    }

    /// Parses JSON or YAML text (YAML is a superset of JSON).
    pub fn parse_text(text: &str) -> Result<Self, DefinitionError> {
        let value: Value = serde_yaml::from_str(text).map_err(|e| DefinitionError {
            problems: vec![Problem {
                path: String::new(),
                message: format!("not valid JSON or YAML: {e}"),
            }],
        })?;
        Self::parse(value)
    }

    /// The title of `task` (a task of this definition), if the definition
    /// gives one.
    pub fn title_of(&self, task: &super::TaskInstance) -> Option<String> {
        let template = self.title.as_deref()?;
        Some(super::title::render(template, &task.input, &task.context))
    }

    /// The same definition, at a version chosen by the registry.
    pub fn at_version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// The whole-task budgets, as durations.
    pub fn budgets(&self) -> (Option<chrono::Duration>, Option<chrono::Duration>) {
        let seconds = |s: Option<u32>| s.map(|s| chrono::Duration::seconds(i64::from(s)));
        (
            seconds(self.schedule_to_start_seconds),
            seconds(self.schedule_to_close_seconds),
        )
    }

    /// `name:version`, the key events and records carry.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }
}

fn parse_implementation(
    task_type: Option<TaskType>,
    raw: Option<Value>,
    problems: &mut Problems,
) -> Option<Implementation> {
    match (task_type, raw) {
        (Some(TaskType::Automated), None) => {
            problems.add(
                "implementation",
                "an automated task needs an implementation",
            );
            None
        }
        (Some(TaskType::Automated), Some(raw)) => {
            match typed::<Implementation>(raw, "implementation") {
                Ok(Implementation::Javascript { source }) if source.trim().is_empty() => {
                    problems.add("implementation.source", "must not be empty");
                    None
                }
                Ok(Implementation::System { function, .. }) if function.trim().is_empty() => {
                    problems.add("implementation.function", "must name a system function");
                    None
                }
                Ok(implementation) => Some(implementation),
                Err(p) => {
                    problems.0.push(p);
                    None
                }
            }
        }
        (Some(TaskType::Integration), None) => {
            problems.add(
                "implementation",
                "an integration task needs an `http` implementation naming its integration",
            );
            None
        }
        (Some(TaskType::Integration), Some(raw)) => {
            match typed::<Implementation>(raw, "implementation") {
                Ok(Implementation::Http {
                    integration,
                    request,
                    response,
                }) => {
                    if let Err(m) = DefinitionRef::parse(&integration) {
                        problems.add("implementation.integration", m);
                    }
                    for e in request.check().into_iter().chain(response.check()) {
                        problems.add(format!("implementation.{}", e.at), e.message);
                    }
                    Some(Implementation::Http {
                        integration,
                        request,
                        response,
                    })
                }
                Ok(other) => {
                    problems.add(
                        "implementation.kind",
                        format!(
                            "an integration task calls an integration (kind http), not {}",
                            other.kind()
                        ),
                    );
                    None
                }
                Err(p) => {
                    problems.0.push(p);
                    None
                }
            }
        }
        (Some(TaskType::Manual), Some(v)) if !v.is_null() => {
            problems.add(
                "implementation",
                "a manual task has no implementation: a person does it",
            );
            None
        }
        _ => None,
    }
}

fn parse_retry(raw: Option<RawRetry>, problems: &mut Problems) -> RetryPolicy {
    let defaults = RetryPolicy::default();
    let Some(raw) = raw else { return defaults };
    let max_attempts = match raw.max_attempts {
        None => defaults.max_attempts,
        Some(n) => u32::try_from(n).unwrap_or(0),
    };
    if let Some(n) = raw.max_attempts
        && !(1..=i64::from(super::retry::MAX_ATTEMPTS_LIMIT)).contains(&n)
    {
        problems.add(
            "retry.maxAttempts",
            format!(
                "must be between 1 and {}, got {n}",
                super::retry::MAX_ATTEMPTS_LIMIT
            ),
        );
    }
    let policy = RetryPolicy {
        max_attempts: max_attempts.clamp(1, super::retry::MAX_ATTEMPTS_LIMIT),
        backoff: raw.backoff.unwrap_or(defaults.backoff),
        initial_delay_seconds: raw
            .initial_delay_seconds
            .unwrap_or(defaults.initial_delay_seconds),
        multiplier: raw.multiplier.unwrap_or(defaults.multiplier),
        max_delay_seconds: raw.max_delay_seconds.unwrap_or(
            defaults
                .max_delay_seconds
                .max(raw.initial_delay_seconds.unwrap_or(0.0)),
        ),
        jitter: raw.jitter.unwrap_or(defaults.jitter),
        non_retryable_errors: raw.non_retryable_errors,
    };
    for (field, message) in policy.problems() {
        if field != "maxAttempts" {
            problems.add(format!("retry.{field}"), message);
        }
    }
    policy
}

fn parse_manual(
    task_type: Option<TaskType>,
    raw: Option<Value>,
    problems: &mut Problems,
) -> Option<ManualSettings> {
    match (task_type, raw) {
        (Some(TaskType::Manual), None) => {
            problems.add(
                "manual",
                "a manual task needs manual settings (at least an assignment)",
            );
            None
        }
        (Some(TaskType::Manual), Some(raw)) => match typed::<ManualSettings>(raw, "manual") {
            Ok(settings) => {
                for (path, message) in settings.problems() {
                    problems.add(path, message);
                }
                Some(settings)
            }
            Err(p) => {
                problems.0.push(p);
                None
            }
        },
        (Some(_), Some(v)) if !v.is_null() => {
            problems.add("manual", "only manual tasks take manual settings");
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(extra: Value) -> Value {
        let mut base = json!({
            "name": "double",
            "type": "automated",
            "implementation": { "kind": "javascript", "source": "export default (i) => ({ n: i.n * 2 })" },
            "inputSchema": { "type": "object", "properties": { "n": { "type": "number" } } },
            "outputSchema": { "type": "object" }
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    }

    fn problems(value: Value) -> Vec<Problem> {
        TaskDefinition::parse(value).unwrap_err().problems
    }

    #[test]
    fn a_complete_definition_parses_with_defaults() {
        let def = TaskDefinition::parse(js(json!({}))).unwrap();
        assert_eq!(def.task_type, TaskType::Automated);
        assert_eq!(def.timeout_seconds, DEFAULT_TIMEOUT_SECONDS);
        assert_eq!(def.retry, RetryPolicy::default());
        assert_eq!(def.implementation.unwrap().kind(), "javascript");
    }

    #[test]
    fn an_unknown_type_is_named_with_the_choices() {
        let p = problems(js(json!({ "type": "robotic" })));
        assert_eq!(p[0].path, "type");
        assert!(
            p[0].message.contains("unknown task type \"robotic\""),
            "{}",
            p[0].message
        );
        assert!(p[0].message.contains("automated, integration, manual"));
    }

    #[test]
    fn a_schema_that_does_not_compile_is_rejected() {
        let p = problems(js(json!({ "outputSchema": { "type": "whatever" } })));
        assert_eq!(p[0].path, "outputSchema");
        assert!(
            p[0].message.starts_with("schema does not compile"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn a_negative_timeout_is_rejected() {
        let p = problems(js(json!({ "timeoutSeconds": -5 })));
        assert_eq!(p[0].path, "timeoutSeconds");
        assert!(p[0].message.contains("got -5"), "{}", p[0].message);
    }

    #[test]
    fn retry_values_out_of_range_are_each_reported() {
        let p = problems(js(
            json!({ "retry": { "maxAttempts": 0, "multiplier": 50, "initialDelaySeconds": -1 } }),
        ));
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "retry.maxAttempts",
                "retry.initialDelaySeconds",
                "retry.multiplier"
            ]
        );
        assert!(p[0].message.contains("between 1 and 100, got 0"));
        let p = problems(js(json!({ "retry": { "backoff": "random" } })));
        assert_eq!(p[0].path, "retry.backoff");
        assert!(
            p[0].message.contains("unknown variant `random`"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let p = problems(js(
            json!({ "name": "Bad Name", "timeoutSeconds": 0, "inputSchema": { "minimum": "x" } }),
        ));
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, vec!["name", "inputSchema", "timeoutSeconds"]);
    }

    #[test]
    fn implementations_are_checked_against_the_type() {
        let p = problems(js(
            json!({ "implementation": { "kind": "python", "source": "x" } }),
        ));
        assert_eq!(p[0].path, "implementation.kind");
        let p = problems(json!({ "name": "a", "type": "automated" }));
        assert_eq!(p[0].path, "implementation");
        let p = problems(
            json!({ "name": "a", "type": "manual", "manual": { "assignment": { "strategy": "user", "id": "" } } }),
        );
        assert_eq!(p[0].path, "manual.assignment.id");
        let quiet = TaskDefinition::parse(
            json!({ "name": "a", "type": "automated", "implementation": { "kind": "javascript", "source": "export default () => ({})" }, "events": "outcomes" }),
        )
        .unwrap();
        assert_eq!(quiet.events, EventMode::Outcomes);
        let p = problems(
            json!({ "name": "a", "type": "manual", "manual": { "assignment": { "strategy": "user", "id": "ann" } }, "events": "outcomes" }),
        );
        assert_eq!(
            p[0].path, "events",
            "a manual task's notifications need its events"
        );
        let p = problems(json!({ "name": "a", "type": "automated", "events": "some" }));
        assert!(p.iter().any(|p| p.path == "events"), "{p:?}");
        let ok = TaskDefinition::parse(
            json!({ "name": "approve", "type": "manual", "manual": { "assignment": { "strategy": "group", "id": "finance" }, "dueInSeconds": 3600 } }),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn unknown_fields_are_named() {
        let p = problems(js(json!({ "timeout": 5 })));
        assert!(
            p[0].message.contains("unknown field `timeout`"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn yaml_text_parses() {
        let def = TaskDefinition::parse_text(
            "name: hello\ntype: automated\nimplementation:\n  kind: system\n  function: time.now\n",
        )
        .unwrap();
        assert_eq!(def.implementation.unwrap().kind(), "system");
    }
}
