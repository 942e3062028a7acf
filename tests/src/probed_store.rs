//! A `TaskStore` that counts what goes through it, and can throttle writes:
//! for measuring a handler's reads and for simulating DynamoDB throttling.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tel_core::domain::{Assignee, TaskInstance, TaskInstanceId, TaskStatus, Transition};
use tel_core::ports::{Created, Due, Page, PageRequest, StoreError, TaskFilter, TaskStore};

/// `ProbedStore::recent`: an eventually consistent read sees the task as written.
pub const RECENT_CURRENT: u8 = 0;
/// It has not seen the task yet.
pub const RECENT_NOTHING: u8 = 1;
/// It sees the task one version behind: current-looking, but a write on it is refused.
pub const RECENT_BEHIND: u8 = 2;

pub struct ProbedStore {
    inner: Arc<dyn TaskStore>,
    /// Given the write's sequence number, whether to throttle it.
    throttle: Box<dyn Fn(u64) -> bool + Send + Sync>,
    pub gets: AtomicUsize,
    /// Eventually consistent reads (`get_recent`).
    pub recent_gets: AtomicUsize,
    /// What an eventually consistent read sees: the task as written
    /// (`RECENT_CURRENT`), nothing yet (`RECENT_NOTHING`), or the task one
    /// version behind (`RECENT_BEHIND`).
    pub recent: std::sync::atomic::AtomicU8,
    pub due_queries: AtomicUsize,
    pub due_items: AtomicUsize,
    pub writes: AtomicUsize,
    pub throttled: AtomicUsize,
    /// Filing search entries: 0 passes, 1 throttled (may clear), 2 refused for good.
    pub filing: std::sync::atomic::AtomicU8,
}

impl ProbedStore {
    pub fn new(inner: Arc<dyn TaskStore>) -> Self {
        Self::throttling(inner, |_| false)
    }

    pub fn throttling(
        inner: Arc<dyn TaskStore>,
        throttle: impl Fn(u64) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            throttle: Box::new(throttle),
            gets: AtomicUsize::new(0),
            recent_gets: AtomicUsize::new(0),
            recent: std::sync::atomic::AtomicU8::new(RECENT_CURRENT),
            due_queries: AtomicUsize::new(0),
            due_items: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
            filing: std::sync::atomic::AtomicU8::new(0),
        }
    }

    /// DynamoDB reads so far: item reads plus index queries.
    pub fn reads(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
            + self.recent_gets.load(Ordering::SeqCst)
            + self.due_queries.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        for counter in [
            &self.gets,
            &self.recent_gets,
            &self.due_queries,
            &self.due_items,
            &self.writes,
            &self.throttled,
        ] {
            counter.store(0, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl TaskStore for ProbedStore {
    async fn create(&self, task: &TaskInstance) -> Result<Created, StoreError> {
        self.inner.create(task).await
    }
    async fn get(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn get_recent(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError> {
        self.recent_gets.fetch_add(1, Ordering::SeqCst);
        match self.recent.load(Ordering::SeqCst) {
            RECENT_NOTHING => Ok(None),
            RECENT_BEHIND => Ok(self.inner.get(id).await?.map(|mut task| {
                task.version -= 1;
                task
            })),
            _ => self.inner.get_recent(id).await,
        }
    }
    async fn commit(&self, transition: &Transition) -> Result<(), StoreError> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) as u64;
        if (self.throttle)(n) {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable(
                "ProvisionedThroughputExceededException (simulated)".into(),
            ));
        }
        self.inner.commit(transition).await
    }
    async fn reschedule(
        &self,
        task: &TaskInstance,
        wake_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.reschedule(task, wake_at).await
    }
    async fn update_deadlines(&self, task: &TaskInstance) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.update_deadlines(task).await
    }
    async fn list(
        &self,
        filter: &TaskFilter,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        self.inner.list(filter, page).await
    }
    async fn inbox(
        &self,
        assignees: &[Assignee],
        status: Option<TaskStatus>,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        self.inner.inbox(assignees, status, page).await
    }
    async fn view(
        &self,
        query: &tel_core::ports::ViewQuery,
    ) -> Result<tel_core::ports::ViewPage, StoreError> {
        self.inner.view(query).await
    }
    async fn view_count(
        &self,
        query: &tel_core::ports::ViewQuery,
    ) -> Result<tel_core::ports::ViewCount, StoreError> {
        self.inner.view_count(query).await
    }
    async fn file_search(
        &self,
        id: TaskInstanceId,
        before: Option<&tel_core::domain::SearchEntries>,
        after: Option<&tel_core::domain::SearchEntries>,
    ) -> Result<(), StoreError> {
        match self.filing.load(Ordering::SeqCst) {
            1 => Err(StoreError::Unavailable("search entries throttled".into())),
            2 => Err(StoreError::Corrupt("search entries refused".into())),
            _ => self.inner.file_search(id, before, after).await,
        }
    }
    async fn due(
        &self,
        shard: u16,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<Due>, StoreError> {
        self.due_queries.fetch_add(1, Ordering::SeqCst);
        let due = self.inner.due(shard, now, limit).await?;
        self.due_items.fetch_add(due.len(), Ordering::SeqCst);
        Ok(due)
    }
}
