//! manual-assign (manual queue): gives a new manual task (its input checked) to a user or a
//! group by the definition's strategy, sets its due time and its reminder and
//! escalation deadlines, and announces `task.assigned`. Duplicates do nothing.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::info;

use crate::assignment::{AssignError, choose, request_document};
use crate::definitions::LoadedDefinition;
use crate::stage::{Delivery, StageHandler};
use crate::{ApplyError, TaskEngine};
use tel_core::domain::task_error::VALIDATION_ERROR;
use tel_core::domain::{Action, Stage, TaskError, TaskInstance};

pub struct ManualAssign {
    engine: Arc<TaskEngine>,
}

impl ManualAssign {
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self { engine }
    }
}

#[async_trait]
impl StageHandler for ManualAssign {
    const NAME: &'static str = "manual-assign";
    const STAGE: Stage = Stage::Assign;

    fn engine(&self) -> &TaskEngine {
        &self.engine
    }

    async fn act(
        &self,
        task: TaskInstance,
        loaded: Arc<LoadedDefinition>,
        _delivery: Delivery,
    ) -> Result<(), ApplyError> {
        let s = &self.engine;
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
