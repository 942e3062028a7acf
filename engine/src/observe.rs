//! Metrics of what just happened to a task, read off its lifecycle events.

use super::TaskEngine;
use crate::metrics::Unit;
use tel_core::domain::state_machine::millis_between;
use tel_core::domain::{EventType, TaskEvent, TaskInstance};

impl TaskEngine {
    pub fn observe(&self, task: &TaskInstance, events: &[TaskEvent]) {
        let metrics = &self.metrics;
        let task_type = task.task_type.map_or("unknown", |t| t.as_str());
        let code = |e: &TaskEvent| {
            e.error
                .as_ref()
                .map_or("NONE", |e| e.code.as_str())
                .to_owned()
        };
        for event in events {
            match event.event_type {
                EventType::Created => metrics.put(
                    &[("TaskType", task_type)],
                    &[("TasksCreated", 1.0, Unit::Count)],
                ),
                EventType::Completed => {
                    let duration = event.duration_ms.unwrap_or(0) as f64;
                    metrics.put(
                        &[("TaskType", task_type)],
                        &[
                            ("TasksCompleted", 1.0, Unit::Count),
                            ("TaskDuration", duration, Unit::Milliseconds),
                        ],
                    );
                    if let Some(progress) = &task.manual {
                        let waited = millis_between(progress.assigned_at, event.occurred_at) as f64;
                        metrics.put(
                            &[("Definition", &task.definition_name)],
                            &[("ManualCompletionTime", waited, Unit::Milliseconds)],
                        );
                    }
                }
                EventType::Failed => metrics.put(
                    &[("TaskType", task_type), ("ErrorCode", &code(event))],
                    &[("TasksFailed", 1.0, Unit::Count)],
                ),
                EventType::RetryScheduled => metrics.put(
                    &[("TaskType", task_type), ("ErrorCode", &code(event))],
                    &[("Retries", 1.0, Unit::Count)],
                ),
                EventType::TimedOut => metrics.put(
                    &[("TaskType", task_type)],
                    &[("Timeouts", 1.0, Unit::Count)],
                ),
                _ => {}
            }
        }
    }
}
