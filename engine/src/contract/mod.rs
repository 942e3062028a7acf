//! tel's contract with the outside: the JSON Schemas of requests and events
//! (`schemas`), the AsyncAPI document built from them (`asyncapi`), and a
//! checker that holds an event to the document.

pub mod asyncapi;
pub mod registrations;
pub mod schemas;

use std::collections::HashMap;

use serde_json::{Value, json};

use tel_core::domain::schema::CompiledSchema;

/// The AsyncAPI document's schema for each detail-type tel publishes,
/// compiled once.
pub struct EventContract {
    by_detail_type: HashMap<String, CompiledSchema>,
}

impl EventContract {
    pub fn new() -> Self {
        let document = asyncapi::document();
        let by_detail_type = asyncapi::published_detail_types()
            .into_iter()
            .map(|(name, _)| {
                // The whole document as the root, so its `#/components/...`
                // references resolve; the root is the message's payload.
                let mut root = document.clone();
                root["$schema"] = json!("http://json-schema.org/draft-07/schema#");
                root["$ref"] = json!(format!("#/components/messages/{name}/payload"));
                let compiled = CompiledSchema::compile(&root)
                    .unwrap_or_else(|e| panic!("the schema of {name} compiles: {e}"));
                (name, compiled)
            })
            .collect();
        Self { by_detail_type }
    }

    /// Whether `detail` is a valid event of `detail_type`; every violation when not.
    pub fn check(&self, detail_type: &str, detail: &Value) -> Result<(), String> {
        let schema = self
            .by_detail_type
            .get(detail_type)
            .ok_or_else(|| format!("{detail_type} is not an event the contract lists"))?;
        let violations = schema.violations(detail);
        if violations.is_empty() {
            return Ok(());
        }
        let said: Vec<String> = violations
            .iter()
            .map(|v| format!("{} {}", v.instance_path(), v.message()))
            .collect();
        Err(format!("{detail_type}: {}", said.join("; ")))
    }
}

impl Default for EventContract {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tel_core::domain::{AssigneeType, EventType, PayloadRef, TaskError, TaskEvent, TaskStatus};

    /// Every field a `TaskEvent` can carry, set: the struct literal fails to
    /// compile when a field is added, and the document (closed to fields it
    /// does not name) refuses one it does not document.
    fn every_field(event_type: EventType) -> TaskEvent {
        TaskEvent {
            event_id: "0b8e5c2a-7a53-8f0e-9c1d-3f4a5b6c7d8e".into(),
            event_type,
            task_instance_id: "0190f3a2-5b6c-7d8e-9f01-23456789abcd".into(),
            workflow_instance_id: "wf-1".into(),
            step_id: "price".into(),
            definition: "order-total:3".into(),
            status: TaskStatus::Completed,
            attempt: 1,
            occurred_at: chrono::Utc::now(),
            output: Some(serde_json::json!({ "total": 27 })),
            output_ref: Some(PayloadRef {
                bucket: "b".into(),
                key: "tasks/x/v3-output.json".into(),
                size: 40_000,
                sha256: "a".repeat(64),
            }),
            error: Some(TaskError::new("TIMEOUT", "too slow")),
            attempts: Some(1),
            duration_ms: Some(120),
            assignee_type: Some(AssigneeType::Group),
            assignee_id: Some("approvers".into()),
            previous_assignee_type: Some(AssigneeType::User),
            previous_assignee_id: Some("ann".into()),
            completed_by: Some("ann".into()),
            retry_at: Some(chrono::Utc::now()),
            reason: Some("no longer needed".into()),
            trace_id: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            requested_by: Some("iam:AROAEXAMPLE:orchestrator".into()),
        }
    }

    #[test]
    fn every_field_of_every_event_type_is_documented() {
        let contract = EventContract::new();
        for t in EventType::ALL {
            let event = serde_json::to_value(every_field(t)).unwrap();
            contract.check(t.as_str(), &event).unwrap();
        }
    }

    #[test]
    fn an_event_missing_what_its_type_carries_or_with_an_unknown_field_is_refused() {
        let contract = EventContract::new();
        let mut failed = every_field(EventType::Failed);
        failed.error = None;
        let refused = contract
            .check("task.failed", &serde_json::to_value(&failed).unwrap())
            .unwrap_err();
        assert!(refused.contains("error"), "{refused}");
        let mut extra = serde_json::to_value(every_field(EventType::Created)).unwrap();
        extra["taskToken"] = "secret".into();
        assert!(contract.check("task.created", &extra).is_err());
        assert!(contract.check("task.exploded", &extra).is_err());
    }
}
