//! In-memory versions of the ports, for unit tests of handler logic and for
//! the in-process benchmark (no I/O). Not for production: nothing is durable.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    Assignee, Creation, DefinitionName, DefinitionRef, HistoryEntry, TaskDefinition, TaskEvent,
    TaskInstance, TaskInstanceId, TaskStatus, Transition,
};
use crate::ports::{
    AssignmentState, BusEvent, ConcurrencySlots, Created, DeadLetterLog, DeadLetterNote,
    DefinitionStore, DueItem, EventPublisher, OutgoingMessage, Page, PageRequest, PublishError,
    QueueDepth, QueueError, QueueSender, StoreError, TaskStore,
};

#[derive(Default)]
struct Tables {
    counters: HashMap<String, u64>,
    breakers: HashMap<String, crate::integrations::breaker::BreakerState>,
    slots: HashMap<String, std::collections::BTreeSet<TaskInstanceId>>,
    dead_letters: Vec<DeadLetterNote>,
    tasks: HashMap<TaskInstanceId, TaskInstance>,
    history: HashMap<TaskInstanceId, Vec<HistoryEntry>>,
    outbox: HashMap<(TaskInstanceId, String), TaskEvent>,
    keys: HashMap<String, TaskInstanceId>,
}

#[derive(Default)]
pub struct InMemoryTaskStore {
    tables: Mutex<Tables>,
}

fn sorted_page(mut items: Vec<TaskInstance>) -> Page<TaskInstance> {
    items.sort_by_key(|t| t.task_instance_id);
    Page {
        items,
        next_cursor: None,
    }
}

#[async_trait]
impl TaskStore for InMemoryTaskStore {
    async fn create(
        &self,
        creation: &Creation,
        idempotency_key: Option<&str>,
    ) -> Result<Created, StoreError> {
        let mut t = self.tables.lock().expect("lock");
        let id = creation.task.task_instance_id;
        if let Some(existing) = t.tasks.get(&id) {
            return Ok(Created {
                task: existing.clone(),
                created: false,
            });
        }
        if let Some(key) = idempotency_key
            && let Some(first) = t.keys.get(key).copied()
        {
            return Ok(Created {
                task: t.tasks[&first].clone(),
                created: false,
            });
        }
        t.tasks.insert(id, creation.task.clone());
        t.history.insert(id, creation.history.clone());
        for event in &creation.events {
            t.outbox.insert((id, event.event_id.clone()), event.clone());
        }
        if let Some(key) = idempotency_key {
            t.keys.insert(key.to_owned(), id);
        }
        Ok(Created {
            task: creation.task.clone(),
            created: true,
        })
    }

    async fn get(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError> {
        Ok(self.tables.lock().expect("lock").tasks.get(&id).cloned())
    }

    async fn history(&self, id: TaskInstanceId) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(self
            .tables
            .lock()
            .expect("lock")
            .history
            .get(&id)
            .cloned()
            .unwrap_or_default())
    }

    async fn commit(&self, transition: &Transition) -> Result<(), StoreError> {
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
        t.tasks.insert(id, transition.task.clone());
        t.history
            .entry(id)
            .or_default()
            .push(transition.history.clone());
        for event in &transition.events {
            t.outbox.insert((id, event.event_id.clone()), event.clone());
        }
        Ok(())
    }

    async fn clear_outbox(
        &self,
        id: TaskInstanceId,
        event_ids: &[String],
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock().expect("lock");
        for event_id in event_ids {
            t.outbox.remove(&(id, event_id.clone()));
        }
        Ok(())
    }

    async fn outbox_event(
        &self,
        id: TaskInstanceId,
        event_id: &str,
    ) -> Result<Option<TaskEvent>, StoreError> {
        Ok(self
            .tables
            .lock()
            .expect("lock")
            .outbox
            .get(&(id, event_id.to_owned()))
            .cloned())
    }

    async fn tasks_of_workflow(
        &self,
        workflow_instance_id: &str,
        _page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        let t = self.tables.lock().expect("lock");
        Ok(sorted_page(
            t.tasks
                .values()
                .filter(|x| x.workflow_instance_id == workflow_instance_id)
                .cloned()
                .collect(),
        ))
    }

    async fn inbox(
        &self,
        assignees: &[Assignee],
        status: Option<TaskStatus>,
        _page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        let t = self.tables.lock().expect("lock");
        let matches = |x: &&TaskInstance| {
            x.assignee.as_ref().is_some_and(|a| assignees.contains(a))
                && status.is_none_or(|s| x.status == s)
        };
        Ok(sorted_page(
            t.tasks.values().filter(matches).cloned().collect(),
        ))
    }

    async fn due(
        &self,
        _shard: u16,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<DueItem>, StoreError> {
        let t = self.tables.lock().expect("lock");
        let mut due: Vec<DueItem> = t
            .tasks
            .values()
            .filter_map(|x| {
                x.next_deadline()
                    .filter(|(_, at)| *at <= now)
                    .map(|(_, at)| (x.task_instance_id, at))
            })
            .map(|(id, at)| DueItem::Task {
                task_instance_id: id,
                at_millis: at.timestamp_millis(),
            })
            .collect();
        due.truncate(limit.max(0) as usize);
        Ok(due)
    }
}

#[async_trait]
impl AssignmentState for InMemoryTaskStore {
    async fn next_turn(&self, counter: &str) -> Result<u64, StoreError> {
        let mut t = self.tables.lock().expect("lock");
        let turns = t.counters.entry(counter.to_owned()).or_default();
        *turns += 1;
        Ok(*turns)
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
}

/// Keeps what was sent, by queue URL, until taken.
#[derive(Default)]
pub struct RecordingQueue {
    sent: Mutex<Vec<(String, OutgoingMessage)>>,
}

impl RecordingQueue {
    pub fn take(&self) -> Vec<(String, OutgoingMessage)> {
        std::mem::take(&mut *self.sent.lock().expect("lock"))
    }
}

#[async_trait]
impl QueueSender for RecordingQueue {
    async fn send(
        &self,
        queue_url: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Result<(), QueueError> {
        let mut sent = self.sent.lock().expect("lock");
        sent.extend(messages.into_iter().map(|m| (queue_url.to_owned(), m)));
        Ok(())
    }

    async fn depth(&self, queue_url: &str) -> Result<QueueDepth, QueueError> {
        let sent = self.sent.lock().expect("lock");
        Ok(QueueDepth {
            waiting: sent.iter().filter(|(url, _)| url == queue_url).count() as u64,
            in_flight: 0,
        })
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
