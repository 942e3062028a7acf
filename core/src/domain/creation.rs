//! A new task: its first record (with its first history entry), its
//! `task.created` event and its first stage message. A request that is
//! rejected on arrival is created and failed in one write.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::callback::Callback;
use super::deadline::DeadlineKind;
use super::envelope::{Dispatch, Stage};
use super::events::{TaskEvent, events_of};
use super::history::HistoryEntry;
use super::ids::TaskInstanceId;
use super::state_machine::{Action, IllegalTransition, transition};
use super::status::TaskStatus;
use super::task::TaskInstance;
use super::task_type::TaskType;

#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub task_instance_id: TaskInstanceId,
    pub definition_name: String,
    pub definition_version: u32,
    pub task_type: Option<TaskType>,
    pub workflow_instance_id: String,
    pub step_id: String,
    pub input: Value,
    pub context: Value,
    pub priority: i32,
    pub trace_id: Option<String>,
    /// Who asked: `user:<sub>` through the API, `iam:<principal id>` through
    /// the queue (or the bus, which forwards to it).
    pub requested_by: Option<String>,
    /// The orchestrator step waiting on the task (Step Functions' task token).
    pub callback: Option<Callback>,
}

impl NewTask {
    /// A task of one step with `input` and nothing else set: no trace, no
    /// requester, no waiting step (tools and tests add what they need).
    pub fn of_step(
        definition: (&str, u32),
        workflow_instance_id: &str,
        step_id: &str,
        input: Value,
    ) -> Self {
        Self {
            task_instance_id: TaskInstanceId::new(),
            definition_name: definition.0.to_owned(),
            definition_version: definition.1,
            task_type: None,
            workflow_instance_id: workflow_instance_id.to_owned(),
            step_id: step_id.to_owned(),
            input,
            context: Value::Null,
            priority: 0,
            trace_id: None,
            requested_by: None,
            callback: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Creation {
    pub task: TaskInstance,
    pub events: Vec<TaskEvent>,
    /// The message to send once it is stored.
    pub dispatch: Option<Dispatch>,
}

impl Creation {
    /// A CREATED task whose first stage message is due by `redeliver_at`.
    pub fn new(new: NewTask, now: DateTime<Utc>, redeliver_at: DateTime<Utc>) -> Self {
        let mut task = TaskInstance {
            task_instance_id: new.task_instance_id,
            definition_name: new.definition_name,
            definition_version: new.definition_version,
            task_type: new.task_type,
            workflow_instance_id: new.workflow_instance_id,
            step_id: new.step_id,
            status: TaskStatus::Created,
            input: new.input,
            context: new.context,
            output: None,
            error: None,
            input_ref: None,
            context_ref: None,
            output_ref: None,
            attempt: 0,
            priority: new.priority,
            assignee: None,
            due_at: None,
            start_by: None,
            close_by: None,
            manual: None,
            deadlines: BTreeMap::from([(DeadlineKind::Redeliver, redeliver_at)]),
            created_at: now,
            updated_at: now,
            attempt_started_at: None,
            finished_at: None,
            completed_by: None,
            trace_id: new.trace_id,
            requested_by: new.requested_by,
            search_keys: BTreeMap::new(),
            event_mode: Default::default(),
            version: 1,
            history: Vec::new(),
            wake_at: None,
            callback: new.callback,
        };
        task.apply_standing_deadlines(None, now);
        task.schedule_wake(None);
        task.history.push(HistoryEntry::new(
            1,
            now,
            "created",
            None,
            TaskStatus::Created,
            0,
        ));
        let events = events_of(&task, &task.history[0]);
        let first = Dispatch::now(Stage::first(task.task_type));
        Self {
            task,
            events,
            dispatch: Some(first),
        }
    }

    /// Sets the whole-task budgets (the definition's `scheduleToStartSeconds`
    /// and `scheduleToCloseSeconds`), counted from creation.
    pub fn with_budgets(
        mut self,
        (start_within, close_within): (Option<chrono::Duration>, Option<chrono::Duration>),
    ) -> Self {
        let created = self.task.created_at;
        self.task.start_by = start_within.map(|d| created + d);
        self.task.close_by = close_within.map(|d| created + d);
        let heartbeat = self.task.deadlines.get(&DeadlineKind::Heartbeat).copied();
        self.task.apply_standing_deadlines(heartbeat, created);
        self.task.schedule_wake(None);
        self
    }

    /// A task whose request came in a queue message, first delivered: that
    /// message keeps the task until the stage message is sent (a redelivery
    /// of it sends the stage message again, `TaskEngine::create`), and the
    /// stage message keeps it from then on (its handler writes the task
    /// before the message is deleted; one that dies leaves it to come back).
    /// So while its only deadline is that message's re-send, the task stays
    /// out of the deadline index: an entry written at creation and removed a
    /// moment later, at the end, costs two index write units
    /// (docs/cost.md). A budget or a waiting step's heartbeat keeps it in.
    pub fn kept_by_message(mut self) -> Self {
        let only_redelivery =
            (self.task.deadlines.keys()).all(|kind| *kind == DeadlineKind::Redeliver);
        if only_redelivery && self.task.status == TaskStatus::Created {
            self.task.wake_at = None;
        }
        self
    }

    /// Applies a further transition before anything is written.
    pub fn then(mut self, action: Action, now: DateTime<Utc>) -> Result<Self, IllegalTransition> {
        let t = transition(&self.task, action, now)?;
        self.task = t.task;
        self.events.extend(t.events);
        self.dispatch = t.dispatch;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;

    fn created(task_type: TaskType) -> Creation {
        let now = Utc::now();
        let mut new = NewTask::of_step(("d", 1), "wf", "s", json!({}));
        new.task_type = Some(task_type);
        Creation::new(new, now, now + Duration::seconds(30))
    }

    #[test]
    fn an_automated_task_goes_to_its_executor_first_a_manual_one_to_validation() {
        let first = |t| created(t).dispatch.map(|d| d.stage);
        assert_eq!(first(TaskType::Automated), Some(Stage::Execute));
        assert_eq!(first(TaskType::Integration), Some(Stage::Execute));
        assert_eq!(first(TaskType::Manual), Some(Stage::Input));
    }

    /// The request's message keeps a task whose only deadline is its stage
    /// message's re-send out of the deadline index; a budget keeps it in.
    #[test]
    fn a_task_kept_by_its_message_wakes_no_sweeper_unless_a_budget_asks() {
        let plain = created(TaskType::Automated);
        assert!(plain.task.wake_at.is_some(), "indexed by default");
        let kept = plain.kept_by_message();
        assert_eq!(kept.task.wake_at, None);
        assert!(kept.task.deadlines.contains_key(&DeadlineKind::Redeliver));

        let budgeted = created(TaskType::Automated)
            .with_budgets((None, Some(Duration::minutes(10))))
            .kept_by_message();
        assert!(budgeted.task.wake_at.is_some());
    }
}
