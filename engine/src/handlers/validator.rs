//! validator (validate queue): checks a new task's input against the
//! definition's JSON Schema, reporting every violation with its instance
//! path, schema path and message, and sends a valid task on to its executor
//! or to assignment. A valid input costs no write: the task stays CREATED
//! until an executor starts it. (Output is validated by the executor, in
//! the same step as the attempt.)

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::info;

use crate::batch::{Redeliver, SqsHandler, for_each_record, with_task};
use crate::{ApplyError, TaskEngine};
use tel_core::domain::task_error::{UNKNOWN_DEFINITION, VALIDATION_ERROR};
use tel_core::domain::{Action, Dispatch, Envelope, Stage, TaskError, TaskInstance, TaskStatus};

pub struct Validator {
    engine: Arc<TaskEngine>,
}

impl Validator {
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self { engine }
    }

    async fn validate(&self, message: SqsMessage) -> Result<(), Redeliver> {
        with_task(&self.engine, message, |envelope, task| {
            self.check_input(envelope, task)
        })
        .await
    }

    async fn check_input(&self, envelope: Envelope, task: TaskInstance) -> Result<(), ApplyError> {
        let s = &self.engine;
        if envelope.stage != Stage::Input || task.status != TaskStatus::Created {
            info!(stage = ?envelope.stage, status = %task.status, "stale validation message ignored");
            return Ok(());
        }
        let Some(loaded) = s
            .definitions()
            .exact(&task.definition_name, task.definition_version)
            .await?
        else {
            let error = TaskError::new(
                UNKNOWN_DEFINITION,
                format!("definition {} no longer exists", task.definition_ref()),
            );
            return self.fail(&task, error).await;
        };
        let violations = loaded.input.violations(&task.input);
        if violations.is_empty() {
            let next = Stage::after_input(task.task_type);
            return Ok(s.dispatch(&task, Dispatch::now(next)).await?);
        }
        let error = TaskError::new(
            VALIDATION_ERROR,
            format!(
                "input does not match the inputSchema of {}: {} error(s)",
                task.definition_ref(),
                violations.len()
            ),
        )
        .with_details(json!({ "errors": violations }));
        self.fail(&task, error).await
    }

    async fn fail(&self, task: &TaskInstance, error: TaskError) -> Result<(), ApplyError> {
        info!(code = %error.code, message = %error.message, "task failed validation");
        self.engine
            .apply(task, Action::Fail { error })
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl SqsHandler for Validator {
    fn name(&self) -> &'static str {
        "validator"
    }

    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        Ok(
            for_each_record(self.name(), &self.engine, event.payload, |m| {
                self.validate(m)
            })
            .await,
        )
    }
}
