//! router (requests queue): records each execution request as a task,
//! idempotently, and sends it on to its first stage (an automated task to
//! its executor, a manual one to input validation). A request that cannot
//! run becomes a FAILED task with a `task.failed` event when it names its
//! workflow step; otherwise it is left for the dead-letter queue.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::{info, warn};

use crate::ApplyError;
use crate::TaskEngine;
use crate::batch::{
    Redeliver, SqsHandler, for_each_record, new_trace, record_task_id, trace_attribute,
    xray_attribute,
};
use crate::stage::Delivery;
use tel_core::domain::request::RequestIdentity;
use tel_core::domain::task_error::{UNKNOWN_DEFINITION, VALIDATION_ERROR};
use tel_core::domain::{
    Action, Callback, Creation, EventMode, ExecutionRequest, NewTask, PayloadField, PayloadRef,
    RejectedRequest, TaskError, TaskInstance, TaskInstanceId,
};
use tel_core::ports::PayloadError;

type Budgets = (Option<chrono::Duration>, Option<chrono::Duration>);

/// How a new task is kept: which of its events are published, and whether
/// the request's message keeps it out of the deadline index.
#[derive(Clone, Copy)]
struct Keeper {
    events: EventMode,
    by_message: bool,
}

pub struct Router {
    engine: Arc<TaskEngine>,
}

/// The id of a request's task: its own, else one derived from its
/// idempotency key (so a repeat names the same task), else a new one.
fn task_id(own: Option<TaskInstanceId>, idempotency_key: Option<&str>) -> TaskInstanceId {
    own.or_else(|| idempotency_key.map(TaskInstanceId::derived))
        .unwrap_or_default()
}

impl Router {
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self { engine }
    }

    async fn route(&self, message: SqsMessage) -> Result<(), Redeliver> {
        let body = message.body.as_deref().unwrap_or_default();
        // A request without its own taskInstanceId is de-duplicated on the
        // message id, which SQS keeps across redeliveries of one message.
        let key = message.message_id.as_deref().map(|id| format!("sqs:{id}"));
        // A trace the sender set on purpose (the attribute, else the
        // request's own field) wins over the X-Ray header AWS adds.
        let (attribute, xray) = (trace_attribute(&message), xray_attribute(&message));
        // The sender's IAM principal, which SQS records (and IAM guards).
        let sender = message
            .attributes
            .get("SenderId")
            .map(|id| format!("iam:{id}"));
        match ExecutionRequest::parse_message(body) {
            Ok(request) => {
                let trace = attribute.or_else(|| request.traceparent.clone()).or(xray);
                // A redelivered request (a router died or failed holding it)
                // puts its task in the deadline index, as the API does: new,
                // or stored by an earlier delivery (`TaskEngine::keep_in_index`).
                let kept = Delivery::of(&message).first;
                self.admit(request, key.as_deref(), trace, sender, kept)
                    .await
                    .map(|_| ())
            }
            Err(rejected) => {
                let trace = attribute.or(xray).unwrap_or_else(new_trace);
                self.reject(rejected, key.as_deref(), trace, sender).await
            }
        }
    }

    /// Records a request as a task and sends it to its first stage. Also the
    /// API's way in. Idempotent on the task id, else on `idempotency_key`
    /// (from which the id is derived: one conditional write either way).
    /// `trace` is the caller's trace context (W3C `traceparent` or X-Ray); a
    /// new one is started without it. It follows the task through every stage.
    /// `requested_by` is who asked (`user:<sub>`, `iam:<principal id>`).
    pub async fn accept(
        &self,
        request: ExecutionRequest,
        idempotency_key: Option<&str>,
        trace: Option<String>,
        requested_by: Option<String>,
    ) -> Result<TaskInstance, Redeliver> {
        self.admit(request, idempotency_key, trace, requested_by, false)
            .await
    }

    /// `accept`, for a request whose queue message is `kept_by_message`
    /// (first delivered): the new task is left out of the deadline index
    /// while the messages keep it (`Creation::kept_by_message`).
    async fn admit(
        &self,
        request: ExecutionRequest,
        idempotency_key: Option<&str>,
        trace: Option<String>,
        requested_by: Option<String>,
        kept_by_message: bool,
    ) -> Result<TaskInstance, Redeliver> {
        let s = &self.engine;
        let loaded = s
            .definitions()
            .resolve(&request.definition)
            .await
            .map_err(Redeliver::because)?;
        let task_instance_id = task_id(request.task_instance_id, idempotency_key);
        record_task_id(task_instance_id);
        // An input the orchestrator put in the payload bucket is read (and
        // checked to be JSON within the cap) here, and referenced where it is.
        let (input, input_ref, unusable_input) = match &request.input_ref {
            None => (request.input, None, None),
            Some(at) => match s.adopt_payload(at).await {
                Ok((value, stored)) => (value, Some(stored), None),
                Err(e) if e.is_transient() => return Err(Redeliver::because(e)),
                Err(e) => {
                    let error = match e {
                        PayloadError::TooLarge { .. } => e.task_error(),
                        _ => Some(TaskError::new(VALIDATION_ERROR, format!("inputRef: {e}"))),
                    };
                    (Value::Null, None, error)
                }
            },
        };
        let heartbeat_seconds = loaded.as_ref().and_then(|l| l.definition.heartbeat_seconds);
        let new = NewTask {
            callback: self.callback(
                request.task_token,
                heartbeat_seconds,
                request.callback_envelope,
            ),
            task_instance_id,
            definition_name: request.definition.name.to_string(),
            definition_version: loaded.as_ref().map_or(0, |l| l.definition.version),
            task_type: loaded.as_ref().map(|l| l.definition.task_type),
            workflow_instance_id: request.workflow_instance_id,
            step_id: request.step_id,
            input,
            context: request.context,
            priority: request.priority,
            // An attribute or header wins over the request's own field.
            trace_id: Some(trace.or(request.traceparent).unwrap_or_else(new_trace)),
            requested_by,
        };
        let failure = match &loaded {
            None => Some(TaskError::new(
                UNKNOWN_DEFINITION,
                format!("no task definition {} is registered", request.definition),
            )),
            Some(_) => unusable_input,
        };
        let budgets = loaded
            .as_ref()
            .map(|l| l.definition.budgets())
            .unwrap_or_default();
        let events = loaded
            .as_ref()
            .map(|l| l.definition.events)
            .unwrap_or_default();
        let kept = Keeper {
            events,
            by_message: kept_by_message,
        };
        self.record(new, input_ref, failure, budgets, kept).await
    }

    /// Stores the task (FAILED at once with `failure`), which sends it to
    /// its first stage: also when it already existed and still waits for
    /// that, since an earlier delivery may have stored it and failed to send.
    /// A task over a limit is recorded FAILED without the payloads that do
    /// not fit; one whose message can never be sent (its queue is missing)
    /// fails; one that cannot be recorded at all (the table is missing) keeps
    /// its message for redelivery and, in the end, the dead-letter queue.
    async fn record(
        &self,
        new: NewTask,
        input_ref: Option<PayloadRef>,
        failure: Option<TaskError>,
        budgets: Budgets,
        kept: Keeper,
    ) -> Result<TaskInstance, Redeliver> {
        let s = &self.engine;
        let id = new.task_instance_id;
        let creation = self.creation(new.clone(), input_ref, failure, budgets, kept);
        let e = match s.create(&creation).await {
            Ok((task, true)) => {
                info!(definition = %task.definition_ref(), status = %task.status, "task created");
                return Ok(task);
            }
            Ok((task, false)) => {
                info!(status = %task.status, "duplicate request; task already exists");
                // Delivered again (or asked again through the API): the
                // deadline index keeps a task its messages kept until now.
                if kept.by_message {
                    return Ok(task);
                }
                return match s.keep_in_index(task.clone()).await {
                    // Written meanwhile: it moved on, into the index or to its end.
                    Err(e) if e.is_superseded() => Ok(task),
                    other => other.map_err(Redeliver::because),
                };
            }
            Err(e) => e,
        };
        let Some(error) = e.task_error() else {
            return Err(Redeliver::because(e));
        };
        if matches!(e, ApplyError::Queue(_)) {
            s.fail_now(id, error).await.map_err(Redeliver::because)?;
            return s
                .tasks()
                .get(id)
                .await
                .map_err(Redeliver::because)?
                .ok_or(Redeliver::TaskMissing(id));
        }
        let bare = NewTask {
            input: Value::Null,
            context: Value::Null,
            ..new
        };
        let creation = self.creation(bare, None, Some(error), (None, None), kept);
        s.create(&creation)
            .await
            .map(|(task, _)| task)
            .map_err(|second| Redeliver::failure_not_recorded(e, second))
    }

    fn creation(
        &self,
        new: NewTask,
        input_ref: Option<PayloadRef>,
        failure: Option<TaskError>,
        budgets: Budgets,
        kept: Keeper,
    ) -> Creation {
        let s = &self.engine;
        let mut creation = Creation::new(new, s.now(), s.redeliver_at()).with_budgets(budgets);
        if kept.by_message {
            creation = creation.kept_by_message();
        }
        creation.task.event_mode = kept.events;
        if let Some(at) = input_ref {
            let input = std::mem::take(&mut creation.task.input);
            creation
                .task
                .set_payload(PayloadField::Input, input, Some(at));
        }
        match failure {
            None => creation,
            Some(error) => {
                warn!(code = %error.code, message = %error.message, "request rejected");
                creation
                    .then(Action::Fail { error }, s.now())
                    .expect("a new task can always fail")
            }
        }
    }

    /// The waiting step of a request that carried a task token, told it
    /// is alive every `heartbeat_seconds` (the deployment's default without).
    fn callback(
        &self,
        token: Option<String>,
        heartbeat_seconds: Option<u32>,
        envelope: bool,
    ) -> Option<Callback> {
        let default = self.engine.settings().heartbeat_interval.as_secs().max(1);
        token.map(|task_token| Callback {
            task_token,
            heartbeat_seconds: heartbeat_seconds.unwrap_or(default as u32),
            envelope,
        })
    }

    async fn reject(
        &self,
        rejected: RejectedRequest,
        key: Option<&str>,
        trace: String,
        requested_by: Option<String>,
    ) -> Result<(), Redeliver> {
        let Some(identity) = rejected.identity else {
            return Err(Redeliver::Unusable(rejected.error.message));
        };
        let RequestIdentity {
            task_instance_id,
            workflow_instance_id,
            step_id,
            definition_name,
            input,
            task_token,
        } = identity;
        let new = NewTask {
            task_instance_id: task_id(task_instance_id, key),
            definition_name,
            definition_version: 0,
            task_type: None,
            workflow_instance_id,
            step_id,
            input,
            context: Value::Null,
            priority: 0,
            trace_id: Some(trace),
            requested_by,
            callback: self.callback(task_token, None, false),
        };
        record_task_id(new.task_instance_id);
        let kept = Keeper {
            events: EventMode::All,
            by_message: false,
        };
        self.record(new, None, Some(rejected.error), (None, None), kept)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl SqsHandler for Router {
    fn name(&self) -> &'static str {
        "router"
    }

    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        Ok(for_each_record(self.name(), &self.engine, event.payload, |m| self.route(m)).await)
    }
}
