//! validator (validate queue): checks a task's input before it runs and its
//! output after, against the definition's JSON Schemas, reporting every
//! violation with its instance path, schema path and message.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::info;

use super::batch::{Redeliver, SqsHandler, for_each_record, with_task};
use super::services::{ApplyError, Services};
use crate::domain::task_error::{OUTPUT_VALIDATION_ERROR, UNKNOWN_DEFINITION, VALIDATION_ERROR};
use crate::domain::{Action, Envelope, Stage, TaskError, TaskInstance, TaskStatus, TaskType};

pub struct Validator {
    services: Arc<Services>,
}

impl Validator {
    pub fn new(services: Arc<Services>) -> Self {
        Self { services }
    }

    async fn validate(&self, message: SqsMessage) -> Result<(), Redeliver> {
        with_task(&self.services, message, |envelope, task| {
            self.dispatch(envelope, task)
        })
        .await
    }

    async fn dispatch(&self, envelope: Envelope, task: TaskInstance) -> Result<(), ApplyError> {
        match (envelope.stage, task.status) {
            (Stage::Input, TaskStatus::Created) => self.check_input(&task).await,
            (Stage::Output, TaskStatus::OutputPending) => self.check_output(&task).await,
            // Input already accepted: an earlier delivery may have failed to
            // send the next stage, so send it again (its handler is idempotent).
            (Stage::Input, TaskStatus::Queued) if task.attempt == 0 => self.forward(&task).await,
            (stage, status) => {
                info!(?stage, %status, "stale validation message ignored");
                Ok(())
            }
        }
    }

    async fn check_input(&self, task: &TaskInstance) -> Result<(), ApplyError> {
        let s = &self.services;
        let Some(loaded) = s
            .definitions
            .exact(&task.definition_name, task.definition_version)
            .await?
        else {
            return self
                .fail(
                    task,
                    TaskError::new(
                        UNKNOWN_DEFINITION,
                        format!("definition {} no longer exists", task.definition_ref()),
                    ),
                )
                .await;
        };
        let violations = loaded.input.violations(&task.input);
        if !violations.is_empty() {
            let error = TaskError::new(
                VALIDATION_ERROR,
                format!(
                    "input does not match the inputSchema of {}: {} error(s)",
                    task.definition_ref(),
                    violations.len()
                ),
            )
            .with_details(json!({ "errors": violations }));
            return self.fail(task, error).await;
        }
        let queued = s
            .apply(
                task,
                Action::AcceptInput {
                    redeliver_at: s.redeliver_at(),
                },
            )
            .await?;
        self.forward(&queued).await
    }

    async fn forward(&self, task: &TaskInstance) -> Result<(), ApplyError> {
        let stage = match task.task_type {
            Some(TaskType::Manual) => Stage::Assign,
            _ => Stage::Execute,
        };
        Ok(self.services.send_stage(task, stage, 0).await?)
    }

    async fn check_output(&self, task: &TaskInstance) -> Result<(), ApplyError> {
        let s = &self.services;
        let Some(loaded) = s
            .definitions
            .exact(&task.definition_name, task.definition_version)
            .await?
        else {
            return self
                .fail(
                    task,
                    TaskError::new(
                        UNKNOWN_DEFINITION,
                        format!("definition {} no longer exists", task.definition_ref()),
                    ),
                )
                .await;
        };
        let output = task.output.clone().unwrap_or_default();
        let violations = loaded.output.violations(&output);
        if violations.is_empty() {
            s.apply(
                task,
                Action::Complete {
                    output: None,
                    by: None,
                },
            )
            .await?;
            info!("task completed");
            return Ok(());
        }
        let error = TaskError::new(
            OUTPUT_VALIDATION_ERROR,
            format!(
                "output does not match the outputSchema of {}: {} error(s)",
                task.definition_ref(),
                violations.len()
            ),
        )
        .with_details(json!({ "errors": violations }));
        self.fail(task, error).await
    }

    async fn fail(&self, task: &TaskInstance, error: TaskError) -> Result<(), ApplyError> {
        info!(code = %error.code, message = %error.message, "task failed validation");
        self.services
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
            for_each_record(self.name(), &self.services, event.payload, |m| {
                self.validate(m)
            })
            .await,
        )
    }
}
