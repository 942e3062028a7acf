//! In-memory versions of the ports, for unit tests of handler logic and for
//! the in-process benchmark (no I/O). Not for production: nothing is durable.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    Assignee, DefinitionName, DefinitionRef, TaskDefinition, TaskInstance, TaskInstanceId,
    TaskStatus, Transition,
};
use crate::ports::{
    AssignmentState, BusEvent, ConcurrencySlots, Created, DeadLetterLog, DeadLetterNote,
    DefinitionStore, Due, EventPublisher, INBOX_PAGE, LIST_PAGE, OutgoingMessage, Page,
    PageRequest, PageSize, PublishError, QueueDepth, QueueError, QueueSender, StoreError,
    TaskChange, TaskFilter, TaskStore,
};

mod figures;
mod operations;

#[derive(Default)]
struct Tables {
    counters: HashMap<String, u64>,
    /// Who took each counter's last turn.
    last_takers: HashMap<String, String>,
    breakers: HashMap<String, crate::integrations::breaker::BreakerState>,
    slots: HashMap<String, std::collections::BTreeSet<TaskInstanceId>>,
    dead_letters: Vec<DeadLetterNote>,
    tasks: HashMap<TaskInstanceId, TaskInstance>,
    /// Every task write in order: what a change stream would carry.
    changes: Vec<TaskChange>,
    people: HashMap<String, crate::ports::DirectoryEntry>,
    preferences: HashMap<String, crate::domain::NotificationPreferences>,
    /// Notice key → (sent, claimed at).
    notices: HashMap<String, (bool, DateTime<Utc>)>,
    operations: operations::Operations,
    figures: figures::Figures,
}

impl Tables {
    fn record(&mut self, previous_version: u64, task: &TaskInstance) {
        let sequence = self.changes.len().to_string();
        self.changes.push(TaskChange {
            sequence,
            previous_version,
            task: task.clone(),
            // The in-memory views read the tasks themselves.
            previously_filed: None,
        });
    }
}

/// The most a DynamoDB item holds; the fake refuses a task record over it
/// (measured as its JSON, history included: close to DynamoDB's own count).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Held to DynamoDB's behaviour by the port suite (`tests/tests/store_ports.rs`):
/// conditional writes, pages with cursors, index order, the deadline
/// index's shards, a change for every write, the item size limit.
pub struct InMemoryTaskStore {
    tables: Mutex<Tables>,
    deadline_shards: u16,
}

impl Default for InMemoryTaskStore {
    fn default() -> Self {
        Self {
            tables: Mutex::default(),
            deadline_shards: 1,
        }
    }
}

impl InMemoryTaskStore {
    /// Spreads the deadline index over `shards` as the DynamoDB store does.
    pub fn with_deadline_shards(mut self, shards: u16) -> Self {
        self.deadline_shards = shards.max(1);
        self
    }

    /// Task writes since the last call, oldest first (the in-process change stream).
    pub fn take_changes(&self) -> Vec<TaskChange> {
        std::mem::take(&mut self.tables.lock().expect("lock").changes)
    }

    /// Changes the stored task with `change` if it is still at `task.version`.
    fn at_version(
        &self,
        task: &TaskInstance,
        change: impl FnOnce(&mut TaskInstance),
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        match t.tasks.get_mut(&task.task_instance_id) {
            Some(current) if current.version == task.version => {
                change(current);
                // A write of the deadlines only is a change on the stream
                // too, one that adds no history entry.
                let after = current.clone();
                t.record(after.version, &after);
                Ok(())
            }
            _ => Err(StoreError::Conflict {
                task_instance_id: task.task_instance_id,
                expected_status: task.status,
                expected_version: task.version,
            }),
        }
    }
}

/// One page of `items` (already in order) from the cursor on: the cursor is
/// the position of the page's first item, as text.
fn page_of<T: Clone>(
    items: Vec<T>,
    page: &PageRequest,
    size: PageSize,
) -> Result<Page<T>, StoreError> {
    let from = match &page.cursor {
        None => 0,
        Some(cursor) => cursor
            .strip_prefix("at:")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or(StoreError::InvalidCursor)?,
    };
    let to = (from + page.size(size) as usize).min(items.len());
    let next_cursor = (to < items.len()).then(|| format!("at:{to}"));
    Ok(Page {
        items: items[from..to].to_vec(),
        next_cursor,
    })
}

/// Oldest first, as the workflow index's sort key (creation millis) orders them.
fn by_age(mut items: Vec<TaskInstance>) -> Vec<TaskInstance> {
    items.sort_by_key(|t| (t.created_at.timestamp_millis(), t.task_instance_id));
    items
}

/// The task as the store keeps it: the wake-up to the millisecond, as the
/// deadline index's sort key holds it.
fn as_stored(task: &TaskInstance) -> TaskInstance {
    let mut stored = task.clone();
    stored.wake_at = task.wake_at.map(to_millis);
    stored
}

fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// The record's size as the fake counts it (its JSON, history included).
fn record_size(task: &TaskInstance) -> usize {
    serde_json::to_vec(task).map_or(0, |v| v.len())
        + serde_json::to_vec(&task.history).map_or(0, |v| v.len())
}

fn too_large(task: &TaskInstance, operation: &'static str) -> Result<(), StoreError> {
    let bytes = record_size(task);
    if bytes <= MAX_ITEM_BYTES {
        return Ok(());
    }
    Err(StoreError::TooLarge {
        bytes,
        limit: MAX_ITEM_BYTES,
        source: crate::ports::AwsError {
            operation,
            resource: "the in-memory task store".into(),
            class: crate::ports::ErrorClass::Refused,
            code: Some("ValidationException".into()),
            source: "Item size has exceeded the maximum allowed size".into(),
        },
    })
}

#[async_trait]
impl TaskStore for InMemoryTaskStore {
    async fn create(&self, task: &TaskInstance) -> Result<Created, StoreError> {
        too_large(task, "PutItem")?;
        let mut t = self.tables.lock().expect("lock");
        let id = task.task_instance_id;
        if let Some(existing) = t.tasks.get(&id) {
            return Ok(Created {
                task: existing.clone(),
                created: false,
            });
        }
        t.tasks.insert(id, as_stored(task));
        t.record(0, task);
        Ok(Created {
            task: task.clone(),
            created: true,
        })
    }

    async fn get(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError> {
        Ok(self.tables.lock().expect("lock").tasks.get(&id).cloned())
    }

    async fn commit(&self, transition: &Transition) -> Result<(), StoreError> {
        too_large(&transition.task, "PutItem")?;
        let mut t = self.tables.lock().expect("lock");
        let id = transition.task.task_instance_id;
        let current = t.tasks.get(&id);
        if current.is_none_or(|c| {
            c.status != transition.expected_status || c.version != transition.expected_version
        }) {
            return Err(StoreError::Conflict {
                task_instance_id: id,
                expected_status: transition.expected_status,
                expected_version: transition.expected_version,
            });
        }
        t.tasks.insert(id, as_stored(&transition.task));
        t.record(transition.expected_version, &transition.task);
        Ok(())
    }

    async fn reschedule(
        &self,
        task: &TaskInstance,
        wake_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.at_version(task, |current| current.wake_at = wake_at.map(to_millis))
    }

    async fn update_deadlines(&self, task: &TaskInstance) -> Result<(), StoreError> {
        self.at_version(task, |current| {
            current.deadlines = task.deadlines.clone();
            current.wake_at = task.wake_at.map(to_millis);
        })
    }

    async fn inbox(
        &self,
        assignees: &[Assignee],
        status: Option<TaskStatus>,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        let t = self.tables.lock().expect("lock");
        let matches = |x: &&TaskInstance| {
            x.assignee.as_ref().is_some_and(|a| assignees.contains(a))
                && status.is_none_or(|s| x.status == s)
        };
        // The inbox index's sort key: status (as text), then age.
        let mut tasks: Vec<TaskInstance> = t.tasks.values().filter(matches).cloned().collect();
        tasks.sort_by_key(|x| {
            let id = x.task_instance_id.to_string();
            (x.status.to_string(), x.created_at.timestamp_millis(), id)
        });
        page_of(tasks, &page, INBOX_PAGE)
    }

    async fn view(
        &self,
        query: &crate::ports::ViewQuery,
    ) -> Result<crate::ports::ViewPage, StoreError> {
        use crate::ports::{InboxSort, InboxView};
        let t = self.tables.lock().expect("lock");
        let mut tasks: Vec<TaskInstance> = t
            .tasks
            .values()
            .filter(|x| query.admits(x))
            .cloned()
            .collect();
        // The order of the index each view reads (its key after the status).
        let millis = |at: Option<DateTime<Utc>>| at.map_or(i64::MAX, |at| at.timestamp_millis());
        let id = |x: &TaskInstance| x.task_instance_id.to_string();
        if query.definition.is_some() {
            // A filtered view reads the tasks' search entries, in their keys' order.
            let facet = query.facet();
            tasks.sort_by_cached_key(|x| {
                let entries =
                    crate::domain::SearchEntries::of(x).expect("admitted tasks are shelved");
                crate::domain::search::entry_key(&entries.facets[facet], x.task_instance_id)
            });
            if query.view == InboxView::Completed && query.search.is_none() {
                tasks.reverse();
            }
            return page_of(tasks, &query.page, INBOX_PAGE);
        }
        match (
            query.view,
            query.due.map(|_| InboxSort::Due).unwrap_or(query.sort),
        ) {
            (InboxView::Completed, _) => {
                tasks.sort_by_key(|x| (millis(x.finished_at), id(x)));
                tasks.reverse();
            }
            (_, InboxSort::Due) => tasks.sort_by_key(|x| (millis(x.due_at), id(x))),
            (_, InboxSort::Priority) => tasks.sort_by_key(|x| {
                (
                    9 - x.priority.clamp(0, 9),
                    x.created_at.timestamp_millis(),
                    id(x),
                )
            }),
            (_, InboxSort::Created) => {
                tasks.sort_by_key(|x| (x.created_at.timestamp_millis(), id(x)))
            }
        }
        page_of(tasks, &query.page, INBOX_PAGE)
    }

    /// The in-memory views read the tasks themselves: nothing to file.
    async fn file_search(
        &self,
        _id: TaskInstanceId,
        _before: Option<&crate::domain::SearchEntries>,
        _after: Option<&crate::domain::SearchEntries>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn view_count(
        &self,
        query: &crate::ports::ViewQuery,
    ) -> Result<crate::ports::ViewCount, StoreError> {
        let t = self.tables.lock().expect("lock");
        let total = t.tasks.values().filter(|x| query.admits(x)).count() as u64;
        let cap = crate::ports::VIEW_COUNT_CAP;
        Ok(crate::ports::ViewCount {
            count: total.min(cap),
            more: total > cap,
        })
    }

    async fn list(
        &self,
        filter: &TaskFilter,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        let t = self.tables.lock().expect("lock");
        let matches = |x: &&TaskInstance| {
            filter.status.is_none_or(|s| x.status == s)
                && filter
                    .definition_name
                    .as_ref()
                    .is_none_or(|d| &x.definition_name == d)
        };
        // In no set order, as a Scan: the fake's is by age.
        page_of(
            by_age(t.tasks.values().filter(matches).cloned().collect()),
            &page,
            LIST_PAGE,
        )
    }

    async fn due(
        &self,
        shard: u16,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<Due>, StoreError> {
        let t = self.tables.lock().expect("lock");
        let mut due: Vec<Due> = t
            .tasks
            .values()
            .filter(|x| x.task_instance_id.shard(self.deadline_shards) == shard)
            .filter_map(|x| x.wake_at.filter(|at| *at <= now).map(|at| (x, at)))
            .map(|(x, at)| Due {
                task_instance_id: x.task_instance_id,
                at_millis: at.timestamp_millis(),
            })
            .collect();
        due.sort_by_key(|d| d.at_millis);
        due.truncate(limit.max(0) as usize);
        Ok(due)
    }
}

#[async_trait]
impl AssignmentState for InMemoryTaskStore {
    async fn next_turn(&self, counter: &str, taker: &str) -> Result<u64, StoreError> {
        let mut t = self.tables.lock().expect("lock");
        let turns = *t.counters.get(counter).unwrap_or(&0);
        if t.last_takers.get(counter).map(String::as_str) == Some(taker) {
            return Ok(turns);
        }
        t.counters.insert(counter.to_owned(), turns + 1);
        t.last_takers.insert(counter.to_owned(), taker.to_owned());
        Ok(turns + 1)
    }

    async fn open_tasks(&self, user: &str) -> Result<u64, StoreError> {
        let t = self.tables.lock().expect("lock");
        let open = |x: &&TaskInstance| {
            matches!(x.status, TaskStatus::Assigned | TaskStatus::Claimed)
                && x.assignee
                    .as_ref()
                    .is_some_and(|a| a.kind == crate::domain::AssigneeType::User && a.id == user)
        };
        Ok(t.tasks.values().filter(open).count() as u64)
    }
}

#[async_trait]
impl DeadLetterLog for InMemoryTaskStore {
    async fn note(&self, note: &DeadLetterNote) -> Result<(), StoreError> {
        self.tables
            .lock()
            .expect("lock")
            .dead_letters
            .push(note.clone());
        Ok(())
    }

    async fn notes(&self, queue: &str) -> Result<Vec<DeadLetterNote>, StoreError> {
        let t = self.tables.lock().expect("lock");
        Ok(t.dead_letters
            .iter()
            .filter(|n| n.queue == queue)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl ConcurrencySlots for InMemoryTaskStore {
    async fn acquire(
        &self,
        pool: &str,
        holder: TaskInstanceId,
        max: u32,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables.lock().expect("lock");
        let holders = t.slots.entry(pool.to_owned()).or_default();
        if holders.contains(&holder) || holders.len() < max as usize {
            holders.insert(holder);
            return Ok(true);
        }
        Ok(false)
    }

    async fn release(&self, pool: &str, holder: TaskInstanceId) -> Result<(), StoreError> {
        if let Some(holders) = self.tables.lock().expect("lock").slots.get_mut(pool) {
            holders.remove(&holder);
        }
        Ok(())
    }

    async fn take_rate(&self, key: &str, window: i64, limit: u32) -> Result<bool, StoreError> {
        let mut t = self.tables.lock().expect("lock");
        let hits = t
            .counters
            .entry(format!("rate#{key}#{window}"))
            .or_default();
        if *hits >= u64::from(limit) {
            return Ok(false);
        }
        *hits += 1;
        Ok(true)
    }

    async fn pools(&self) -> Result<Vec<(String, Vec<TaskInstanceId>)>, StoreError> {
        let t = self.tables.lock().expect("lock");
        Ok(t.slots
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().copied().collect()))
            .collect())
    }
}

#[async_trait]
impl crate::ports::BreakerStore for InMemoryTaskStore {
    async fn load(
        &self,
        integration: &str,
    ) -> Result<crate::integrations::breaker::BreakerState, StoreError> {
        Ok(self
            .tables
            .lock()
            .expect("lock")
            .breakers
            .get(integration)
            .cloned()
            .unwrap_or_default())
    }

    async fn save(
        &self,
        integration: &str,
        next: &crate::integrations::breaker::BreakerState,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables.lock().expect("lock");
        let current = t.breakers.get(integration).map_or(0, |b| b.version);
        if current != expected_version {
            return Ok(false);
        }
        t.breakers.insert(integration.to_owned(), next.clone());
        Ok(true)
    }
}

/// Integrations by name, every version kept.
#[derive(Default)]
pub struct InMemoryIntegrationStore {
    versions: Mutex<HashMap<String, Vec<crate::integrations::Integration>>>,
}

#[async_trait]
impl crate::ports::IntegrationStore for InMemoryIntegrationStore {
    async fn register(
        &self,
        integration: crate::integrations::Integration,
    ) -> Result<crate::integrations::Integration, StoreError> {
        let mut all = self.versions.lock().expect("lock");
        let versions = all.entry(integration.name.to_string()).or_default();
        let next = integration.at_version(versions.len() as u32 + 1);
        versions.push(next.clone());
        Ok(next)
    }

    async fn get(
        &self,
        reference: &DefinitionRef,
    ) -> Result<Option<crate::integrations::Integration>, StoreError> {
        let all = self.versions.lock().expect("lock");
        let versions = all.get(reference.name.as_str());
        Ok(match reference.version {
            Some(v) => versions
                .and_then(|vs| vs.iter().find(|i| i.version == v))
                .cloned(),
            None => versions.and_then(|vs| vs.last()).cloned(),
        })
    }
}

#[derive(Default)]
pub struct InMemoryDefinitionStore {
    versions: Mutex<HashMap<String, Vec<TaskDefinition>>>,
}

#[async_trait]
impl DefinitionStore for InMemoryDefinitionStore {
    async fn register(&self, definition: TaskDefinition) -> Result<TaskDefinition, StoreError> {
        let mut all = self.versions.lock().expect("lock");
        let versions = all.entry(definition.name.to_string()).or_default();
        let next = definition.clone().at_version(versions.len() as u32 + 1);
        versions.push(next.clone());
        Ok(next)
    }

    async fn get(&self, reference: &DefinitionRef) -> Result<Option<TaskDefinition>, StoreError> {
        let all = self.versions.lock().expect("lock");
        let versions = all.get(reference.name.as_str());
        Ok(match reference.version {
            Some(v) => versions
                .and_then(|vs| vs.iter().find(|d| d.version == v))
                .cloned(),
            None => versions.and_then(|vs| vs.last()).cloned(),
        })
    }

    async fn versions(&self, name: &DefinitionName) -> Result<Vec<u32>, StoreError> {
        let all = self.versions.lock().expect("lock");
        Ok(all
            .get(name.as_str())
            .map(|vs| vs.iter().map(|d| d.version).collect())
            .unwrap_or_default())
    }

    async fn catalog(&self) -> Result<std::collections::BTreeMap<String, Vec<u32>>, StoreError> {
        let all = self.versions.lock().expect("lock");
        Ok(all
            .iter()
            .map(|(name, vs)| (name.clone(), vs.iter().map(|d| d.version).collect()))
            .collect())
    }
}

/// Keeps what was sent, by queue URL, until taken, and the visibility
/// changes asked for.
#[derive(Default)]
pub struct RecordingQueue {
    sent: Mutex<Vec<(String, OutgoingMessage)>>,
    hidden: Mutex<Vec<(String, String, u32)>>,
}

impl RecordingQueue {
    pub fn take(&self) -> Vec<(String, OutgoingMessage)> {
        std::mem::take(&mut *self.sent.lock().expect("lock"))
    }

    /// (queue URL, receipt handle, seconds) of every `hide_for`, in order.
    pub fn hidden(&self) -> Vec<(String, String, u32)> {
        self.hidden.lock().expect("lock").clone()
    }
}

#[async_trait]
impl QueueSender for RecordingQueue {
    async fn send(
        &self,
        queue_url: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Result<(), QueueError> {
        // As SQS: a message over the limits sends nothing of the call.
        for message in &messages {
            message.check()?;
        }
        let mut sent = self.sent.lock().expect("lock");
        sent.extend(messages.into_iter().map(|m| (queue_url.to_owned(), m)));
        Ok(())
    }

    /// What was sent to `queue_url` and not taken: a message sent with a
    /// delay counts as delayed (the fake has no clock to let it out).
    async fn depth(&self, queue_url: &str) -> Result<QueueDepth, QueueError> {
        let sent = self.sent.lock().expect("lock");
        let of_queue = || sent.iter().filter(|(url, _)| url == queue_url);
        Ok(QueueDepth {
            waiting: of_queue().filter(|(_, m)| m.delay_seconds == 0).count() as u64,
            in_flight: 0,
            delayed: of_queue().filter(|(_, m)| m.delay_seconds > 0).count() as u64,
        })
    }

    async fn hide_for(
        &self,
        queue_url: &str,
        receipts: &[String],
        seconds: u32,
    ) -> Result<(), QueueError> {
        let mut hidden = self.hidden.lock().expect("lock");
        hidden.extend(
            receipts
                .iter()
                .map(|r| (queue_url.to_owned(), r.clone(), seconds)),
        );
        Ok(())
    }
}

/// Keeps every event published.
#[derive(Default)]
pub struct RecordingPublisher {
    published: Mutex<Vec<BusEvent>>,
}

impl RecordingPublisher {
    pub fn take(&self) -> Vec<BusEvent> {
        std::mem::take(&mut *self.published.lock().expect("lock"))
    }
}

#[async_trait]
impl EventPublisher for RecordingPublisher {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        self.published
            .lock()
            .expect("lock")
            .extend_from_slice(events);
        Ok(())
    }
}

/// Payload objects by (bucket, key).
pub struct InMemoryPayloadStore {
    bucket: String,
    objects: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl Default for InMemoryPayloadStore {
    fn default() -> Self {
        Self {
            bucket: "payloads".into(),
            objects: Mutex::default(),
        }
    }
}

#[async_trait]
impl crate::ports::PayloadStore for InMemoryPayloadStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), crate::ports::PayloadError> {
        self.objects
            .lock()
            .expect("lock")
            .insert((self.bucket.clone(), key.to_owned()), bytes);
        Ok(())
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, crate::ports::PayloadError> {
        let objects = self.objects.lock().expect("lock");
        let bytes = objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .ok_or_else(|| crate::ports::PayloadError::NotFound {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })?;
        if bytes.len() as u64 > max_bytes {
            return Err(crate::ports::PayloadError::TooLarge {
                bytes: bytes.len() as u64,
                limit: max_bytes,
            });
        }
        Ok(bytes.clone())
    }

    async fn presign(
        &self,
        at: &crate::domain::PayloadRef,
        _: std::time::Duration,
    ) -> Result<String, crate::ports::PayloadError> {
        Ok(format!("memory://{}/{}", at.bucket, at.key))
    }

    async fn presign_upload(
        &self,
        key: &str,
        _: std::time::Duration,
    ) -> Result<String, crate::ports::PayloadError> {
        Ok(format!("memory://{}/{key}?upload", self.bucket))
    }
}

/// One call made to a waiting step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepCall {
    Success {
        token: String,
        output: String,
    },
    Failure {
        token: String,
        error: String,
        cause: String,
    },
    Heartbeat {
        token: String,
    },
}

/// Keeps every call to waiting steps; tokens marked gone answer as Step
/// Functions does for a stopped execution.
#[derive(Default)]
pub struct RecordingCallbacks {
    calls: Mutex<Vec<StepCall>>,
    gone: Mutex<std::collections::HashSet<String>>,
    /// Calls still to be throttled.
    throttled: Mutex<usize>,
}

impl RecordingCallbacks {
    pub fn take(&self) -> Vec<StepCall> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }

    /// From now on, calls with `token` answer `TaskTimedOut`.
    pub fn stop(&self, token: &str) {
        self.gone.lock().expect("lock").insert(token.to_owned());
    }

    /// The next `calls` calls answer `ThrottlingException`.
    pub fn throttle(&self, calls: usize) {
        *self.throttled.lock().expect("lock") = calls;
    }

    fn record(&self, token: &str, call: StepCall) -> Result<(), crate::ports::CallbackError> {
        let answer = |class, code: &str| crate::ports::AwsError {
            operation: "SendTask",
            resource: "a recorded step".into(),
            class,
            code: Some(code.into()),
            source: code.to_owned().into(),
        };
        let mut throttled = self.throttled.lock().expect("lock");
        if *throttled > 0 {
            *throttled -= 1;
            let error = answer(crate::ports::ErrorClass::Transient, "ThrottlingException");
            return Err(crate::ports::CallbackError::Aws(error));
        }
        if self.gone.lock().expect("lock").contains(token) {
            return Err(crate::ports::CallbackError::Gone {
                code: "TaskTimedOut".into(),
                source: answer(crate::ports::ErrorClass::Refused, "TaskTimedOut"),
            });
        }
        self.calls.lock().expect("lock").push(call);
        Ok(())
    }
}

#[async_trait]
impl crate::ports::StepCallbacks for RecordingCallbacks {
    async fn succeed(&self, token: &str, output: &str) -> Result<(), crate::ports::CallbackError> {
        let call = StepCall::Success {
            token: token.into(),
            output: output.into(),
        };
        self.record(token, call)
    }

    async fn fail(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), crate::ports::CallbackError> {
        let call = StepCall::Failure {
            token: token.into(),
            error: error.into(),
            cause: cause.into(),
        };
        self.record(token, call)
    }

    async fn heartbeat(&self, token: &str) -> Result<(), crate::ports::CallbackError> {
        let call = StepCall::Heartbeat {
            token: token.into(),
        };
        self.record(token, call)
    }
}

#[async_trait]
impl crate::ports::Directory for InMemoryTaskStore {
    async fn person(&self, id: &str) -> Result<Option<crate::ports::Person>, StoreError> {
        let t = self.tables.lock().expect("lock");
        Ok(t.people.get(id).map(|e| crate::ports::Person {
            id: e.id.clone(),
            email: Some(e.email.clone()),
        }))
    }

    async fn members(&self, group: &str) -> Result<Vec<crate::ports::Person>, StoreError> {
        let t = self.tables.lock().expect("lock");
        let mut members: Vec<crate::ports::Person> = t
            .people
            .values()
            .filter(|e| e.groups.iter().any(|g| g == group))
            .map(|e| crate::ports::Person {
                id: e.id.clone(),
                email: Some(e.email.clone()),
            })
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(members)
    }
}

#[async_trait]
impl crate::ports::PeopleStore for InMemoryTaskStore {
    async fn register(&self, entry: &crate::ports::DirectoryEntry) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        t.people.insert(entry.id.clone(), entry.clone());
        Ok(())
    }

    async fn registered(
        &self,
        id: &str,
    ) -> Result<Option<crate::ports::DirectoryEntry>, StoreError> {
        Ok(self.tables.lock().expect("lock").people.get(id).cloned())
    }

    async fn unregister(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .tables
            .lock()
            .expect("lock")
            .people
            .remove(id)
            .is_some())
    }

    async fn preferences(
        &self,
        id: &str,
    ) -> Result<crate::domain::NotificationPreferences, StoreError> {
        let t = self.tables.lock().expect("lock");
        Ok(t.preferences.get(id).copied().unwrap_or_default())
    }

    async fn set_preferences(
        &self,
        id: &str,
        preferences: &crate::domain::NotificationPreferences,
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        t.preferences.insert(id.to_owned(), *preferences);
        Ok(())
    }
}

#[async_trait]
impl crate::ports::NoticeLedger for InMemoryTaskStore {
    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        _expires_at: DateTime<Utc>,
    ) -> Result<crate::ports::NoticeClaim, StoreError> {
        use crate::ports::NoticeClaim;
        let mut t = self.tables.lock().expect("lock");
        match t.notices.get(key) {
            Some((true, _)) => Ok(NoticeClaim::Sent),
            Some((false, at)) if *at >= stale_before => Ok(NoticeClaim::Busy),
            _ => {
                t.notices.insert(key.to_owned(), (false, now));
                Ok(NoticeClaim::Claimed)
            }
        }
    }

    async fn mark_sent(&self, key: &str, claimed_at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        if let Some(entry) = t.notices.get_mut(key).filter(|e| e.1 == claimed_at) {
            entry.0 = true;
        }
        Ok(())
    }

    async fn release(&self, key: &str, claimed_at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        if t.notices
            .get(key)
            .is_some_and(|e| !e.0 && e.1 == claimed_at)
        {
            t.notices.remove(key);
        }
        Ok(())
    }
}
