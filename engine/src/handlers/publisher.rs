//! publisher (the table's change stream): turns each task write into the
//! lifecycle events its new history entries announce, and puts them on the
//! bus. Events are derived from what was stored, so none is lost when a
//! function dies after its write, and each keeps its id however often it is
//! published (the stream delivers at least once).
//!
//! In AWS a Lambda function reads the stream (with a filter that passes only
//! task items); locally the runner reads it the same way
//! (`local::stream_reader`); in process the in-memory store's change log is fed
//! straight in.

use std::sync::Arc;

use tracing::{error, info, warn};

use crate::TaskEngine;
use crate::step_callbacks::{StepNotifier, Unanswered};
use tel_core::domain::events_of;
use tel_core::domain::figures::figures_of;
use tel_core::ports::{BusEvent, EventPublisher, FigureStore, PublishError, TaskChange, TaskStore};

/// The longest the chart figures may hold a batch up.
const FIGURES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct ChangePublisher {
    publisher: Arc<dyn EventPublisher>,
    /// Answers the steps waiting on tasks that ended (Step Functions).
    steps: Option<StepNotifier>,
    /// Files manual tasks' search entries (the inbox's filters and search).
    search: Option<Arc<dyn TaskStore>>,
    /// Counts what the changes did, for the console's charts.
    figures: Option<Arc<dyn FigureStore>>,
}

/// What a batch left unpublished: the position to resume from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("events from change {sequence} on were not published: {reason}")]
pub struct Unpublished {
    /// The sequence number of the first change whose events are not all on
    /// the bus; it and every later change of the batch are delivered again.
    pub sequence: String,
    pub reason: String,
}

impl ChangePublisher {
    /// Publishes events only.
    pub fn new(publisher: Arc<dyn EventPublisher>) -> Self {
        Self {
            publisher,
            steps: None,
            search: None,
            figures: None,
        }
    }

    /// Publishes on the engine's bus and answers the steps waiting on tasks
    /// that ended: what the publisher function does.
    pub fn of_engine(engine: &Arc<TaskEngine>) -> Self {
        let mut publisher = Self::new(engine.publisher().clone()).answering_steps(engine);
        publisher.search = Some(engine.tasks().clone());
        publisher.figures = Some(engine.figures().clone());
        publisher
    }

    /// Also answers the steps waiting on tasks that ended, through `engine`.
    pub fn answering_steps(mut self, engine: &Arc<TaskEngine>) -> Self {
        self.steps = Some(StepNotifier::new(engine.clone()));
        self
    }

    /// Answers the waiting steps, then publishes the events of every change,
    /// in order. Events of one task keep their order on the bus only as far
    /// as EventBridge keeps any (consumers order by `occurredAt` and the
    /// task's version). Whatever was not done is resumed from the earliest
    /// change it concerns. The changes done with are then counted for the
    /// charts (`count_figures`).
    pub async fn publish(&self, changes: &[TaskChange]) -> Result<usize, Unpublished> {
        let result = self.file_and_publish(changes).await;
        let done = match &result {
            Ok(_) => changes.len(),
            Err(unpublished) => changes
                .iter()
                .position(|c| c.sequence == unpublished.sequence)
                .unwrap_or(0),
        };
        self.count_figures(&changes[..done]).await;
        result
    }

    /// Adds what these changes did to their definitions' figures. Only
    /// changes that will not be delivered again are counted, so a batch
    /// retried from a failed change counts each change once; a publisher
    /// that dies after counting and before its checkpoint counts its batch
    /// again (the figures are for charts; the tasks and events are exact).
    /// A refused or slow write is logged, never holds the events back; one
    /// that times out may have counted part of the batch.
    async fn count_figures(&self, changes: &[TaskChange]) {
        let Some(store) = &self.figures else {
            return;
        };
        let figures = figures_of(
            changes
                .iter()
                .flat_map(|c| c.new_entries().map(move |entry| (&c.task, entry))),
        );
        if figures.is_empty() {
            return;
        }
        // Bounded: a throttled counter must not hold the stream (a function
        // timing out would publish its whole batch again).
        match tokio::time::timeout(FIGURES_TIMEOUT, store.add_figures(&figures)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(error = %e, code = "FIGURES_NOT_COUNTED", minutes = figures.len(), "chart figures not counted");
            }
            Err(_) => {
                warn!(
                    code = "FIGURES_NOT_COUNTED",
                    minutes = figures.len(),
                    "chart figures not counted in time"
                );
            }
        }
    }

    async fn file_and_publish(&self, changes: &[TaskChange]) -> Result<usize, Unpublished> {
        // Filed before the events go out: who hears of an assignment finds the task.
        if let Some(store) = &self.search {
            for (i, change) in changes.iter().enumerate() {
                let filed = change.filed();
                if filed == change.previously_filed {
                    continue;
                }
                let id = change.task.task_instance_id;
                let filing = store
                    .file_search(id, change.previously_filed.as_ref(), filed.as_ref())
                    .await;
                if let Err(e) = &filing
                    && !e.is_transient()
                {
                    // Derived data: a refusal that will not clear (a key DynamoDB
                    // rejects, a denied call) must not hold every later event.
                    error!(task_instance_id = %id, error = %e, code = "SEARCH_NOT_FILED", "search entries refused; the task is not found by the inbox's filter until its next write");
                    continue;
                }
                if let Err(e) = filing {
                    warn!(task_instance_id = %id, error = %e, "search entries not filed; the stream delivers the change again");
                    let published = self.answer_and_publish(&changes[..i]).await?;
                    info!(published, "events published up to a task not filed");
                    return Err(Unpublished {
                        sequence: change.sequence.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        self.answer_and_publish(changes).await
    }

    async fn answer_and_publish(&self, changes: &[TaskChange]) -> Result<usize, Unpublished> {
        let mut unanswered = None;
        if let Some(steps) = &self.steps {
            for (i, change) in changes.iter().enumerate() {
                if let Err(Unanswered(reason)) = steps.answer(change).await {
                    unanswered = Some(Unpublished {
                        sequence: change.sequence.clone(),
                        reason,
                    });
                    // Events of later changes wait with it, to keep their order.
                    let published = self.publish_events(&changes[..i]).await?;
                    info!(published, "events published up to a step not answered");
                    break;
                }
            }
        }
        match unanswered {
            Some(unpublished) => Err(unpublished),
            None => self.publish_events(changes).await,
        }
    }

    async fn publish_events(&self, changes: &[TaskChange]) -> Result<usize, Unpublished> {
        let mut events = Vec::new();
        // For each event, the change it came from.
        let mut origin = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            for entry in change.new_entries() {
                let published = events_of(&change.task, entry)
                    .into_iter()
                    .filter(|e| change.task.event_mode.publishes(e.event_type));
                for event in published {
                    events.push(BusEvent::from(&event));
                    origin.push(i);
                }
            }
        }
        if events.is_empty() {
            return Ok(0);
        }
        match self.publisher.publish(&events).await {
            Ok(()) => Ok(events.len()),
            Err(PublishError::Unavailable { failed, message }) => {
                warn!(failed = failed.len(), %message, "events not published; the stream delivers them again");
                Err(Unpublished {
                    sequence: changes[first_change(&failed, &origin)].sequence.clone(),
                    reason: message,
                })
            }
            Err(PublishError::BusRefused { failed, source }) => {
                // The bus is missing or denied: events wait in the stream (24 h) until it is fixed.
                error!(failed = failed.len(), error = %source, code = "CONFIGURATION_ERROR", "events cannot be published with this deployment; the stream holds them");
                Err(Unpublished {
                    sequence: changes[first_change(&failed, &origin)].sequence.clone(),
                    reason: source.to_string(),
                })
            }
            Err(PublishError::Rejected(reason)) => {
                // Too large for the bus, whatever we do: retrying would hold the
                // stream forever. The task itself is stored; say what was lost.
                warn!(%reason, changes = changes.len(), "events refused by the bus and dropped");
                Ok(0)
            }
        }
    }
}

/// The earliest change with an unpublished event: the stream delivers again from it.
fn first_change(failed: &[usize], origin: &[usize]) -> usize {
    failed.iter().map(|&e| origin[e]).min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;
    use tel_core::domain::{Action, Creation, NewTask, transition};
    use tel_core::fakes::RecordingPublisher;

    fn change(
        sequence: &str,
        previous_version: u64,
        task: &tel_core::domain::TaskInstance,
    ) -> TaskChange {
        TaskChange {
            sequence: sequence.into(),
            previous_version,
            task: task.clone(),
            previously_filed: None,
        }
    }

    #[tokio::test]
    async fn each_write_announces_only_its_own_entries_with_stable_ids() {
        let now = Utc::now();
        let new = NewTask::of_step(("double", 1), "wf", "s", json!({}));
        let created = Creation::new(new, now, now);
        let started = transition(&created.task, Action::Start { lease_until: now }, now).unwrap();
        let recording = Arc::new(RecordingPublisher::default());
        let publisher = ChangePublisher::new(recording.clone());
        let changes = [change("1", 0, &created.task), change("2", 1, &started.task)];
        assert_eq!(publisher.publish(&changes).await, Ok(2));
        let first = recording.take();
        let types: Vec<&str> = first.iter().map(|e| e.detail_type.as_str()).collect();
        assert_eq!(types, ["task.created", "task.started"]);
        // Delivered again (at least once): the same events, the same ids.
        publisher.publish(&changes).await.unwrap();
        assert_eq!(recording.take(), first);
        let ids: Vec<String> = created
            .events
            .iter()
            .chain(&started.events)
            .map(|e| e.event_id.clone())
            .collect();
        let published: Vec<String> = first
            .iter()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.detail).unwrap()["eventId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            published, ids,
            "what the bus gets is what the transition planned"
        );
    }

    /// `task` completed with `{"n": 2}`.
    fn completed(
        task: &tel_core::domain::TaskInstance,
        now: chrono::DateTime<Utc>,
    ) -> tel_core::domain::Transition {
        let complete = Action::Complete {
            output: Some(json!({ "n": 2 })),
            by: None,
        };
        transition(task, complete, now).unwrap()
    }

    /// A bus that refuses the events of `refused` tasks and takes the rest.
    #[derive(Default)]
    struct PickyBus {
        published: std::sync::Mutex<Vec<BusEvent>>,
        refused: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl EventPublisher for PickyBus {
        async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
            let refused = self.refused.lock().unwrap().clone();
            let failed: Vec<usize> = (0..events.len())
                .filter(|&i| {
                    refused
                        .iter()
                        .any(|id| events[i].detail.contains(id.as_str()))
                })
                .collect();
            let mut published = self.published.lock().unwrap();
            for (i, event) in events.iter().enumerate() {
                if !failed.contains(&i) {
                    published.push(event.clone());
                }
            }
            match failed.is_empty() {
                true => Ok(()),
                false => Err(PublishError::Unavailable {
                    failed,
                    message: "throttled".into(),
                }),
            }
        }
    }

    /// Tasks' writes interleaved as the stream gives them: every task is
    /// created, then started, then completed; `(task id, changes)`.
    fn interleaved(tasks: usize) -> (Vec<String>, Vec<TaskChange>) {
        let now = Utc::now();
        let mut ids = Vec::new();
        let mut steps = Vec::new();
        for _ in 0..tasks {
            let new = NewTask::of_step(("double", 1), "wf", "s", json!({}));
            let created = Creation::new(new, now, now).task;
            let started = transition(&created, Action::Start { lease_until: now }, now).unwrap();
            let done = completed(&started.task, now);
            ids.push(created.task_instance_id.to_string());
            steps.push([(0, created), (1, started.task), (2, done.task)]);
        }
        let mut changes = Vec::new();
        for step in 0..3 {
            for task in &steps {
                let (previous, written) = &task[step];
                let sequence = format!("{:04}", changes.len());
                changes.push(change(&sequence, *previous, written));
            }
        }
        (ids, changes)
    }

    /// Each task's event types in the order the bus got them.
    fn order_per_task(events: &[BusEvent]) -> std::collections::HashMap<String, Vec<String>> {
        let mut order = std::collections::HashMap::<String, Vec<String>>::new();
        for event in events {
            let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap();
            order
                .entry(detail["taskInstanceId"].as_str().unwrap().to_owned())
                .or_default()
                .push(event.detail_type.clone());
        }
        order
    }

    /// Tasks' writes interleaved in one batch: each task's events reach the
    /// bus in the order it went through them.
    #[tokio::test]
    async fn each_task_keeps_its_order_in_an_interleaved_batch() {
        let (ids, changes) = interleaved(40);
        let bus = Arc::new(PickyBus::default());
        let publisher = ChangePublisher::new(bus.clone());
        assert_eq!(publisher.publish(&changes).await, Ok(120));
        let order = order_per_task(&bus.published.lock().unwrap());
        assert_eq!(order.len(), 40);
        for id in &ids {
            assert_eq!(
                order[id],
                ["task.created", "task.started", "task.completed"],
                "{id}"
            );
        }
    }

    /// Events the bus refuses hold the batch from the earliest change they
    /// come from; delivered again from there, every event is on the bus,
    /// none lost, and a task's events are in order in what it got the
    /// second time.
    #[tokio::test]
    async fn refused_events_resume_the_batch_from_their_earliest_change_and_lose_nothing() {
        let (ids, changes) = interleaved(20);
        let bus = Arc::new(PickyBus::default());
        let publisher = ChangePublisher::new(bus.clone());
        // One task's events are refused: the batch holds from its first change.
        let refused = &ids[7];
        *bus.refused.lock().unwrap() = vec![refused.clone()];
        let held = publisher.publish(&changes).await.unwrap_err();
        let first_refused = changes
            .iter()
            .position(|c| c.task.task_instance_id.to_string() == *refused)
            .unwrap();
        assert_eq!(held.sequence, changes[first_refused].sequence);
        let first_round = order_per_task(&std::mem::take(&mut *bus.published.lock().unwrap()));
        assert!(!first_round.contains_key(refused));

        // The stream delivers again from the held change; the bus is back.
        bus.refused.lock().unwrap().clear();
        let again = &changes[first_refused..];
        publisher.publish(again).await.unwrap();
        let second_round = order_per_task(&bus.published.lock().unwrap());
        for id in &ids {
            let mut heard: Vec<String> = first_round.get(id).cloned().unwrap_or_default();
            heard.extend(second_round.get(id).cloned().unwrap_or_default());
            for kind in ["task.created", "task.started", "task.completed"] {
                assert!(heard.contains(&kind.to_owned()), "{id} lost {kind}");
            }
            if let Some(resent) = second_round.get(id) {
                let mut sorted = resent.clone();
                sorted.sort_by_key(|t| {
                    ["task.created", "task.started", "task.completed"]
                        .iter()
                        .position(|k| k == t)
                });
                assert_eq!(resent, &sorted, "{id}: out of order when sent again");
            }
        }
        assert_eq!(
            second_round[refused],
            ["task.created", "task.started", "task.completed"]
        );
    }

    #[tokio::test]
    async fn outcomes_only_publishes_the_end_with_the_id_it_has_among_all() {
        let now = Utc::now();
        let new = NewTask::of_step(("double", 1), "wf", "s", json!({}));
        let mut created = Creation::new(new, now, now);
        created.task.event_mode = tel_core::domain::EventMode::Outcomes;
        let started = transition(&created.task, Action::Start { lease_until: now }, now).unwrap();
        let done = completed(&started.task, now);
        let recording = Arc::new(RecordingPublisher::default());
        let publisher = ChangePublisher::new(recording.clone());
        let changes = [
            change("1", 0, &created.task),
            change("2", 1, &started.task),
            change("3", 2, &done.task),
        ];
        assert_eq!(publisher.publish(&changes).await, Ok(1));
        let published = recording.take();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].detail_type, "task.completed");
        let id =
            serde_json::from_str::<serde_json::Value>(&published[0].detail).unwrap()["eventId"]
                .clone();
        assert_eq!(
            id,
            json!(done.events[0].event_id),
            "the same id as with every event"
        );
    }

    #[tokio::test]
    async fn a_step_not_answered_holds_its_change_and_later_ones_and_is_answered_once_after() {
        let (builder, handles) = crate::EngineBuilder::in_memory(Default::default());
        let engine = Arc::new(builder.build());
        let publisher = ChangePublisher::of_engine(&engine);
        let now = Utc::now();
        let waited_on = |token: &str| {
            let mut created = Creation::new(
                NewTask {
                    callback: Some(tel_core::domain::Callback {
                        task_token: token.into(),
                        heartbeat_seconds: 60,
                        envelope: false,
                    }),
                    ..NewTask::of_step(("double", 1), "wf", "s", json!({}))
                },
                now,
                now,
            );
            created.task = transition(&created.task, Action::Start { lease_until: now }, now)
                .unwrap()
                .task;
            completed(&created.task, now).task
        };
        let (first, second) = (waited_on("token-1"), waited_on("token-2"));
        let changes = [change("1", 2, &first), change("2", 2, &second)];
        // Throttled: the change is held with every later one, events and all.
        handles.callbacks.throttle(1);
        let held = publisher.publish(&changes).await.unwrap_err();
        assert_eq!(held.sequence, "1");
        assert!(handles.callbacks.take().is_empty());
        assert!(handles.publisher.take().is_empty());
        // Delivered again: both answered, each once, with the output.
        assert_eq!(publisher.publish(&changes).await, Ok(2));
        let calls = handles.callbacks.take();
        assert_eq!(
            calls,
            [
                tel_core::fakes::StepCall::Success {
                    token: "token-1".into(),
                    output: r#"{"n":2}"#.into()
                },
                tel_core::fakes::StepCall::Success {
                    token: "token-2".into(),
                    output: r#"{"n":2}"#.into()
                }
            ]
        );
        // A step already answered or stopped counts as answered.
        handles.callbacks.stop("token-1");
        assert_eq!(publisher.publish(&changes[..1]).await, Ok(1));
    }

    #[tokio::test]
    async fn a_batch_delivered_again_from_its_failed_change_counts_each_change_once() {
        let (builder, handles) = crate::EngineBuilder::in_memory(Default::default());
        let engine = Arc::new(builder.build());
        let publisher = ChangePublisher::of_engine(&engine);
        let now = Utc::now();
        let completed = |token: Option<&str>| {
            let new = NewTask {
                callback: token.map(|token| tel_core::domain::Callback {
                    task_token: token.into(),
                    heartbeat_seconds: 60,
                    envelope: false,
                }),
                ..NewTask::of_step(("double", 1), "wf", "s", json!({}))
            };
            let created = Creation::new(new, now, now).task;
            let started = transition(&created, Action::Start { lease_until: now }, now)
                .unwrap()
                .task;
            transition(
                &started,
                Action::Complete {
                    output: None,
                    by: None,
                },
                now,
            )
            .unwrap()
            .task
        };
        let changes = [
            change("1", 0, &completed(None)),
            change("2", 0, &completed(Some("token"))),
        ];
        // The second change's step is not answered: it is delivered again.
        handles.callbacks.throttle(1);
        let held = publisher.publish(&changes).await.unwrap_err();
        assert_eq!(held.sequence, "2");
        assert_eq!(publisher.publish(&changes[1..]).await, Ok(3));
        let minute = tel_core::domain::figures::minute_of(now);
        let counted = engine
            .figures()
            .figures("double", minute, minute + chrono::Duration::minutes(1))
            .await
            .unwrap();
        assert_eq!(counted.len(), 1);
        let counts = &counted[0].1;
        assert_eq!((counts.created, counts.completed), (2, 2), "{counts:?}");
        assert_eq!(counts.attempts(), 2);
    }
}
