//! validator (validate queue): checks a new manual task's input against the
//! definition's JSON Schema, reporting every violation with its instance
//! path, schema path and message, and sends a valid task on to assignment.
//! A valid input costs no write: the task stays CREATED until it is
//! assigned. An automated task skips this stage: its executor checks the
//! input before the first attempt (a message, a read and an invocation
//! fewer, docs/cost.md). A message already on the validate queue for an
//! automated task (sent before that) is still checked here and sent on to
//! its executor.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::info;

use crate::definitions::LoadedDefinition;
use crate::stage::{Delivery, StageHandler};
use crate::{ApplyError, TaskEngine};
use tel_core::domain::{Action, Dispatch, Stage, TaskError, TaskInstance};

pub struct Validator {
    engine: Arc<TaskEngine>,
}

impl Validator {
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self { engine }
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
impl StageHandler for Validator {
    const NAME: &'static str = "validator";
    const STAGE: Stage = Stage::Input;
    /// A valid input is sent on without a write, so nothing conditional
    /// would catch a read that is behind (an input replaced a moment ago):
    /// the validator reads the task as last written.
    const READ_RECENT: bool = false;

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
        match loaded.input_error(&task)? {
            None => {
                let next = Stage::after_input(task.task_type);
                Ok(s.dispatch(&task, Dispatch::now(next)).await?)
            }
            Some(error) => self.fail(&task, error).await,
        }
    }
}
