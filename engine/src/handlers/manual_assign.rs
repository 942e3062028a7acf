//! manual-assign (manual queue): gives a new manual task (its input checked) to a user or a
//! group by the definition's strategy, sets its due time and its reminder and
//! escalation deadlines, and announces `task.assigned`. Duplicates do nothing.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use tracing::info;

use crate::assignment::{AssignError, choose, request_document};
use crate::batch::{Redeliver, SqsHandler, for_each_record, with_task};
use crate::{ApplyError, TaskEngine};
use tel_core::domain::task_error::{UNKNOWN_DEFINITION, VALIDATION_ERROR};
use tel_core::domain::{Action, Envelope, Stage, TaskError, TaskInstance, TaskStatus};

pub struct ManualAssign {
    engine: Arc<TaskEngine>,
}

impl ManualAssign {
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self { engine }
    }

    async fn assign(&self, message: SqsMessage) -> Result<(), Redeliver> {
        with_task(&self.engine, message, |envelope, task| {
            self.try_assign(envelope, task)
        })
        .await
    }

    async fn try_assign(&self, envelope: Envelope, task: TaskInstance) -> Result<(), ApplyError> {
        let s = &self.engine;
        if envelope.stage != Stage::Assign || task.status != TaskStatus::Created {
            info!(status = %task.status, "stale assignment message ignored");
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
            return s.apply(&task, Action::Fail { error }).await.map(|_| ());
        };
        let Some(settings) = loaded.definition.manual.clone() else {
            let error = TaskError::new(
                VALIDATION_ERROR,
                format!("{} is not a manual task", task.definition_ref()),
            );
            return s.apply(&task, Action::Fail { error }).await.map(|_| ());
        };
        let assignee = match choose(&settings.assignment, &task, s.assignment().as_ref()).await {
            Ok(assignee) => assignee,
            Err(AssignError::Unassignable(error)) => {
                return s.apply(&task, Action::Fail { error }).await.map(|_| ());
            }
            Err(AssignError::Store(e)) => return Err(e.into()),
        };
        let due_at = settings.due_at(&request_document(&task), s.now());
        let assigned = s
            .apply(
                &task,
                Action::Assign {
                    assignee,
                    due_at,
                    schedule: Some(settings),
                    escalated: false,
                    by: None,
                },
            )
            .await?;
        info!(assignee = ?assigned.assignee, due_at = ?assigned.due_at, "task assigned");
        Ok(())
    }
}

#[async_trait]
impl SqsHandler for ManualAssign {
    fn name(&self) -> &'static str {
        "manual-assign"
    }

    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        Ok(for_each_record(self.name(), &self.engine, event.payload, |m| self.assign(m)).await)
    }
}
