//! Bulk operations: how one is started (its selection checked, its starter
//! a manager of the definition), counted beforehand, stopped, and run
//! (`runner`).

mod runner;

pub use runner::{OperationRunner, RunReport};

use chrono::{DateTime, Utc};

use super::TaskEngine;
use tel_core::domain::operation::{
    BulkAction, DEFAULT_RATE_PER_SECOND, MAX_RATE_PER_SECOND, MAX_RUNNING,
    MAX_RUNNING_PER_DEFINITION, Operation, OperationState, Progress, Selection, SelectionError,
    Starter,
};
use tel_core::domain::{DefinitionName, Identity, Permission};
use tel_core::ports::{MatchCount, Saved, StoreError};

/// What a person asks for.
#[derive(Debug, Clone)]
pub struct BulkRequest {
    pub action: BulkAction,
    pub selection: Selection,
    pub reason: Option<String>,
    pub rate_per_second: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// No such definition, or one the caller may not manage: the same
    /// answer, so definitions cannot be probed.
    #[error("no definition {0} whose tasks you manage")]
    NotManaged(String),
    #[error("ratePerSecond must be between 1 and {MAX_RATE_PER_SECOND}, got {0}")]
    Rate(u32),
    #[error("no operation {0}")]
    NotFound(String),
    #[error("the operation is already {0:?}")]
    NotRunning(OperationState),
    /// Too many operations running already (in all, or on the definition).
    #[error("{0}")]
    TooMany(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TaskEngine {
    /// Whether `identity` manages the tasks of `definition` (its latest
    /// version's access rules; admins always).
    pub async fn manages(&self, definition: &str, identity: &Identity) -> Result<bool, StoreError> {
        let Ok(name) = DefinitionName::parse(definition) else {
            return Ok(false);
        };
        let Some(latest) = self.definitions().latest(name).await? else {
            return Ok(false);
        };
        Ok(latest
            .definition
            .access
            .allows(identity, Permission::Manage))
    }

    async fn checked(
        &self,
        action: BulkAction,
        selection: Selection,
        identity: &Identity,
    ) -> Result<Selection, OperationError> {
        if !self.manages(&selection.definition, identity).await? {
            return Err(OperationError::NotManaged(selection.definition));
        }
        Ok(selection.for_action(action, self.now())?)
    }

    /// How many tasks `selection` matches for `action` now.
    pub async fn count_matching(
        &self,
        action: BulkAction,
        selection: Selection,
        identity: &Identity,
    ) -> Result<MatchCount, OperationError> {
        let selection = self.checked(action, selection, identity).await?;
        Ok(self.operations().count_matching(&selection).await?)
    }

    /// Records a new operation; the sweeper's runner takes it up.
    pub async fn start_operation(
        &self,
        request: BulkRequest,
        identity: &Identity,
    ) -> Result<Operation, OperationError> {
        let rate = request.rate_per_second.unwrap_or(DEFAULT_RATE_PER_SECOND);
        if !(1..=MAX_RATE_PER_SECOND).contains(&rate) {
            return Err(OperationError::Rate(rate));
        }
        let selection = self
            .checked(request.action, request.selection, identity)
            .await?;
        let running = self.operations().running_operations().await?;
        let on_definition = running
            .iter()
            .filter(|o| o.selection.definition == selection.definition)
            .count();
        if running.len() >= MAX_RUNNING {
            return Err(OperationError::TooMany(format!(
                "{MAX_RUNNING} operations are running already; stop one or wait"
            )));
        }
        if on_definition >= MAX_RUNNING_PER_DEFINITION {
            return Err(OperationError::TooMany(format!(
                "{MAX_RUNNING_PER_DEFINITION} operations on {} are running already; stop one or wait",
                selection.definition
            )));
        }
        let now = self.now();
        let operation = Operation {
            operation_id: uuid::Uuid::now_v7().to_string(),
            action: request.action,
            selection,
            reason: request.reason,
            rate_per_second: rate,
            started_by: Starter::from(identity),
            state: OperationState::Running,
            progress: Progress::default(),
            cursor: None,
            selected_all: false,
            pending: Vec::new(),
            lease: None,
            problem: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
            stopped_by: None,
            version: 1,
        };
        self.operations().create_operation(&operation).await?;
        Ok(operation)
    }

    /// Stops a running operation: its runner finishes the batch in hand and
    /// acts on nothing more.
    pub async fn stop_operation(&self, id: &str, by: &str) -> Result<Operation, OperationError> {
        for _ in 0..5 {
            let mut operation = self
                .operations()
                .operation(id)
                .await?
                .ok_or_else(|| OperationError::NotFound(id.to_owned()))?;
            if !operation.is_running() {
                return Err(OperationError::NotRunning(operation.state));
            }
            let expected = operation.version;
            let now = self.now();
            operation.state = OperationState::Stopped;
            operation.stopped_by = Some(by.to_owned());
            operation.finished_at = Some(now);
            touch(&mut operation, now);
            if self
                .operations()
                .save_operation(&operation, expected)
                .await?
                == Saved::Saved
            {
                return Ok(operation);
            }
        }
        Err(StoreError::Unavailable(format!("operation {id} kept changing")).into())
    }
}

/// A new version of `operation`, as of `now`.
fn touch(operation: &mut Operation, now: DateTime<Utc>) {
    operation.version += 1;
    operation.updated_at = now;
}
