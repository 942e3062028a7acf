use async_trait::async_trait;
use chrono::{DateTime, Utc};

use serde_json::json;

use super::AwsError;
use crate::domain::task_error::{CONFIGURATION_ERROR, PAYLOAD_TOO_LARGE};
use crate::domain::{Assignee, TaskError, TaskInstance, TaskInstanceId, TaskStatus, Transition};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The task was not in the status and version the transition expected:
    /// someone else moved it first. Re-read and decide.
    #[error(
        "task {task_instance_id} was changed concurrently (expected {expected_status} at version {expected_version})"
    )]
    Conflict {
        task_instance_id: TaskInstanceId,
        expected_status: TaskStatus,
        expected_version: u64,
    },
    /// A definition version already exists with other content.
    #[error(
        "definition {name} version {version} already exists with different content; versions are immutable"
    )]
    VersionExists { name: String, version: u32 },
    /// A condition of the store's own that may clear (a record not yet
    /// readable): worth retrying later.
    #[error("the task store is unavailable: {0}")]
    Unavailable(String),
    /// A DynamoDB call failed; its class says whether retrying can help.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A task's record larger than a DynamoDB item may be.
    #[error("the task's record takes {bytes} bytes; a DynamoDB item holds at most {limit}")]
    TooLarge {
        bytes: usize,
        limit: usize,
        #[source]
        source: AwsError,
    },
    /// Stored data that no longer reads as what it should be.
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    /// A page cursor the caller passed that is not one the store returned.
    #[error("the cursor is not one this API returned")]
    InvalidCursor,
}

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// Throttling, a timeout, a 5xx: the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Aws(e) => e.is_transient(),
            _ => false,
        }
    }

    /// The error a task ends with when this stopped its work for good: a
    /// record too large, a table missing or refusing; `None` when retrying
    /// may help (or the task simply moved on).
    pub fn task_error(&self) -> Option<TaskError> {
        match self {
            Self::TooLarge { bytes, limit, .. } => Some(
                TaskError::new(PAYLOAD_TOO_LARGE, self.to_string())
                    .with_details(json!({ "bytes": bytes, "limitBytes": limit })),
            ),
            Self::Aws(e) if !e.is_transient() => Some(configuration_error(e)),
            _ => None,
        }
    }
}

/// A task error naming the AWS call, the resource and the service's code.
pub fn configuration_error(e: &AwsError) -> TaskError {
    TaskError::new(CONFIGURATION_ERROR, e.to_string()).with_details(json!({
        "operation": e.operation,
        "resource": e.resource,
        "code": e.code,
    }))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub task: TaskInstance,
    /// False when the task already existed: creation is idempotent.
    pub created: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: Option<i32>,
    pub cursor: Option<String>,
}

/// A listing's page size when none is asked for, and the most it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize {
    pub default: i32,
    pub max: i32,
}

/// An inbox (`TaskStore::inbox`).
pub const INBOX_PAGE: PageSize = PageSize {
    default: 20,
    max: 100,
};
/// The operator's listing (`TaskStore::list`).
pub const LIST_PAGE: PageSize = PageSize {
    default: 50,
    max: 200,
};

impl PageRequest {
    /// The page size asked for, within `size`.
    pub fn size(&self, size: PageSize) -> i32 {
        self.limit.unwrap_or(size.default).clamp(1, size.max)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which tasks an operator's listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub definition_name: Option<String>,
}

/// A task whose wake-up time has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub task_instance_id: TaskInstanceId,
    pub at_millis: i64,
}

#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Writes a new task, its first history entry included, in one
    /// conditional write. If the id is already taken, writes nothing and
    /// returns the existing task with `created: false`.
    async fn create(&self, task: &TaskInstance) -> Result<Created, StoreError>;

    /// A task with its history.
    async fn get(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError>;

    /// `get`, possibly a moment behind the latest write (eventually
    /// consistent: half the price on DynamoDB). For a reader whose every
    /// write is conditional on what it read, and which reads again with
    /// `get` before deciding a task needs nothing.
    async fn get_recent(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError> {
        self.get(id).await
    }

    /// Writes a transition (the task with its new history entry) if the task
    /// is still in the expected status and version; otherwise `StoreError::Conflict`.
    async fn commit(&self, transition: &Transition) -> Result<(), StoreError>;

    /// Moves only the task's wake-up (its deadline index entry), if the task
    /// is still at `task.version`; otherwise `StoreError::Conflict`.
    async fn reschedule(
        &self,
        task: &TaskInstance,
        wake_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Writes only the task's deadlines and its wake-up, as `task` holds
    /// them, if the task is still at `task.version` (no transition: a
    /// heartbeat sent moves its next one); otherwise `StoreError::Conflict`.
    async fn update_deadlines(&self, task: &TaskInstance) -> Result<(), StoreError>;

    /// Tasks held by any of `assignees` (a user and their groups), optionally
    /// of one status, ordered by status then age; each task once, across pages.
    async fn inbox(
        &self,
        assignees: &[Assignee],
        status: Option<TaskStatus>,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError>;

    /// One page of a person's inbox view (`ViewQuery`), in its order; each
    /// task once across pages.
    async fn view(&self, query: &super::ViewQuery) -> Result<super::ViewPage, StoreError>;

    /// How many tasks a view holds (its sort and page aside), up to
    /// `VIEW_COUNT_CAP`.
    async fn view_count(&self, query: &super::ViewQuery) -> Result<super::ViewCount, StoreError>;

    /// Files a task's search entries as `after` where they were `before`
    /// (`SearchEntries`): what the publisher does for each task write that
    /// moved a manual task, so the filtered and searched views find it.
    async fn file_search(
        &self,
        id: TaskInstanceId,
        before: Option<&crate::domain::SearchEntries>,
        after: Option<&crate::domain::SearchEntries>,
    ) -> Result<(), StoreError>;

    /// Every task matching `filter`, a page at a time, in no set order. It
    /// reads the whole table page by page (no index serves it, so no task
    /// write pays for one): for the operator console, never a function's
    /// hot path. A page may hold fewer than `limit` tasks and still have a
    /// next one.
    async fn list(
        &self,
        filter: &TaskFilter,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError>;

    /// Tasks of one deadline-index shard whose wake-up is at or before `now`, earliest first.
    async fn due(&self, shard: u16, now: DateTime<Utc>, limit: i32)
    -> Result<Vec<Due>, StoreError>;
}
