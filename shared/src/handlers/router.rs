//! router (requests queue): records each execution request as a task,
//! idempotently, and sends it on to input validation. A request that cannot
//! run becomes a FAILED task with a `task.failed` event when it names its
//! workflow step; otherwise it is left for the dead-letter queue.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::batch::{
    Redeliver, SqsHandler, for_each_record, incoming_trace, new_trace, record_task_id,
};
use crate::domain::request::RequestIdentity;
use crate::domain::task_error::{UNKNOWN_DEFINITION, VALIDATION_ERROR};
use crate::domain::{
    Action, Creation, ExecutionRequest, NewTask, RejectedRequest, TaskError, TaskInstance,
    TaskInstanceId,
};
use crate::engine::TaskEngine;

type Budgets = (Option<chrono::Duration>, Option<chrono::Duration>);

/// Input and context together must leave room in a 400 KB DynamoDB item.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

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
        let trace = incoming_trace(&message).unwrap_or_else(new_trace);
        match ExecutionRequest::parse_message(body) {
            Ok(request) => self
                .accept(request, key.as_deref(), Some(trace))
                .await
                .map(|_| ()),
            Err(rejected) => self.reject(rejected, key.as_deref(), trace).await,
        }
    }

    /// Records a request as a task and sends it to input validation. Also the
    /// API's way in. Idempotent on the task id, else on `idempotency_key`
    /// (from which the id is derived: one conditional write either way).
    /// `trace` is the caller's trace context (W3C `traceparent` or X-Ray); a
    /// new one is started without it. It follows the task through every stage.
    pub async fn accept(
        &self,
        request: ExecutionRequest,
        idempotency_key: Option<&str>,
        trace: Option<String>,
    ) -> Result<TaskInstance, Redeliver> {
        let s = &self.engine;
        let loaded = s
            .definitions()
            .resolve(&request.definition)
            .await
            .map_err(Redeliver::because)?;
        let new = NewTask {
            task_instance_id: task_id(request.task_instance_id, idempotency_key),
            definition_name: request.definition.name.to_string(),
            definition_version: loaded.as_ref().map_or(0, |l| l.definition.version),
            task_type: loaded.as_ref().map(|l| l.definition.task_type),
            workflow_instance_id: request.workflow_instance_id,
            step_id: request.step_id,
            input: request.input,
            context: request.context,
            priority: request.priority,
            trace_id: Some(trace.unwrap_or_else(new_trace)),
        };
        record_task_id(new.task_instance_id);
        let payload_bytes = new.input.to_string().len() + new.context.to_string().len();
        let failure = match (&loaded, payload_bytes) {
            (None, _) => Some(TaskError::new(
                UNKNOWN_DEFINITION,
                format!("no task definition {} is registered", request.definition),
            )),
            (_, bytes) if bytes > MAX_PAYLOAD_BYTES => Some(
                TaskError::new(
                    VALIDATION_ERROR,
                    format!(
                        "input and context take {bytes} bytes; the limit is {MAX_PAYLOAD_BYTES}"
                    ),
                )
                .with_details(json!({ "bytes": bytes, "limitBytes": MAX_PAYLOAD_BYTES })),
            ),
            _ => None,
        };
        match failure {
            Some(error) => {
                let mut new = new;
                if payload_bytes > MAX_PAYLOAD_BYTES {
                    new.input = Value::Null;
                    new.context = Value::Null;
                }
                self.create_failed(new, error).await
            }
            None => {
                let budgets = loaded
                    .as_ref()
                    .map(|l| l.definition.budgets())
                    .unwrap_or_default();
                self.create(new, budgets).await
            }
        }
    }

    /// Stores the task and sends it to input validation (also when it
    /// already existed and still waits for that: an earlier delivery may have
    /// stored it and then failed to send).
    async fn create(&self, new: NewTask, budgets: Budgets) -> Result<TaskInstance, Redeliver> {
        let s = &self.engine;
        let creation = Creation::new(new, s.now(), s.redeliver_at()).with_budgets(budgets);
        let (task, created) = s.create(&creation).await.map_err(Redeliver::because)?;
        if created {
            info!(definition = %task.definition_ref(), "task created");
        } else {
            info!(status = %task.status, "duplicate request; task already exists");
        }
        Ok(task)
    }

    async fn create_failed(
        &self,
        new: NewTask,
        error: TaskError,
    ) -> Result<TaskInstance, Redeliver> {
        let s = &self.engine;
        warn!(code = %error.code, message = %error.message, "request rejected");
        let creation = Creation::new(new, s.now(), s.redeliver_at())
            .then(Action::Fail { error }, s.now())
            .expect("a new task can always fail");
        let (task, _) = s.create(&creation).await.map_err(Redeliver::because)?;
        Ok(task)
    }

    async fn reject(
        &self,
        rejected: RejectedRequest,
        key: Option<&str>,
        trace: String,
    ) -> Result<(), Redeliver> {
        let Some(identity) = rejected.identity else {
            return Err(Redeliver(format!(
                "unusable request that names no workflow step, left for the dead-letter queue: {}",
                rejected.error.message
            )));
        };
        let RequestIdentity {
            task_instance_id,
            workflow_instance_id,
            step_id,
            definition_name,
            input,
        } = identity;
        let new = NewTask {
            task_instance_id: task_id(task_instance_id, key),
            definition_name,
            definition_version: 0,
            task_type: None,
            workflow_instance_id,
            step_id,
            input: if input.to_string().len() > MAX_PAYLOAD_BYTES {
                Value::Null
            } else {
                input
            },
            context: Value::Null,
            priority: 0,
            trace_id: Some(trace),
        };
        record_task_id(new.task_instance_id);
        self.create_failed(new, rejected.error).await.map(|_| ())
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
