//! The pipeline in one process over in-memory ports: each message a handler
//! sends is handed straight to the next handler. For unit tests of the flow
//! and for measuring the handlers' own overhead without any I/O.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;

use crate::adapters::memory::{RecordingPublisher, RecordingQueue};
use crate::config::Settings;
use crate::domain::{ExecutionRequest, TaskInstance};
use crate::engine::{EngineBuilder, InMemoryHandles, TaskEngine};
use crate::handlers::{ChangePublisher, Executor, ManualAssign, Router, SqsHandler, Validator};
use crate::runners::Runners;

pub struct InProcessPipeline {
    pub engine: Arc<TaskEngine>,
    pub queue: Arc<RecordingQueue>,
    pub publisher: Arc<RecordingPublisher>,
    handles: InMemoryHandles,
    router: Router,
    validator: Validator,
    executor: Executor,
    manual: ManualAssign,
    changes: ChangePublisher,
    next_message: std::sync::atomic::AtomicU64,
}

impl InProcessPipeline {
    pub fn new(
        settings: Settings,
        metrics: crate::metrics::Metrics,
        runners: impl FnOnce(&TaskEngine) -> Runners,
    ) -> Self {
        let (builder, handles) = EngineBuilder::in_memory(settings);
        let engine = Arc::new(builder.metrics(metrics).build());
        let runners = runners(&engine);
        Self {
            router: Router::new(engine.clone()),
            validator: Validator::new(engine.clone()),
            executor: Executor::new(engine.clone(), runners),
            manual: ManualAssign::new(engine.clone()),
            changes: ChangePublisher::of_engine(&engine),
            queue: handles.queue.clone(),
            publisher: handles.publisher.clone(),
            handles,
            engine,
            next_message: Default::default(),
        }
    }

    /// Runs one request through every stage whose message is sent without
    /// delay, publishes the events of every write (as the change stream
    /// would), and returns the task as it ends up.
    pub async fn run(&self, request: ExecutionRequest) -> anyhow::Result<TaskInstance> {
        let task = self.router.accept(request, None, None, None).await?;
        loop {
            self.publish_changes().await?;
            let pending = self.queue.take();
            if pending.is_empty() {
                break;
            }
            for (url, message) in pending {
                if message.delay_seconds > 0 {
                    continue;
                }
                let handler: &dyn SqsHandler = match url.as_str() {
                    "validate" => &self.validator,
                    "execute" => &self.executor,
                    "manual" => &self.manual,
                    _ => continue,
                };
                let mut record = SqsMessage::default();
                let n = self
                    .next_message
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                record.message_id = Some(format!("m-{n}"));
                record.body = Some(message.body);
                let mut event = SqsEvent::default();
                event.records = vec![record];
                let response = handler
                    .handle(LambdaEvent::new(event, Default::default()))
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
                anyhow::ensure!(
                    response.batch_item_failures.is_empty(),
                    "{} reported a failed record",
                    handler.name()
                );
            }
        }
        Ok(self
            .engine
            .tasks()
            .get(task.task_instance_id)
            .await?
            .expect("the task exists"))
    }

    async fn publish_changes(&self) -> anyhow::Result<()> {
        let changes = self.handles.table.take_changes();
        self.changes.publish(&changes).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{DefinitionRef, TaskDefinition, TaskStatus};
    use crate::runners::javascript::JavascriptRunner;

    fn pipeline() -> InProcessPipeline {
        InProcessPipeline::new(
            Settings::default(),
            crate::metrics::Metrics::new(crate::metrics::Discard),
            |_| {
                Runners::default().with(Arc::new(JavascriptRunner {
                    max_memory_bytes: 32 << 20,
                    max_stack_bytes: 512 << 10,
                }))
            },
        )
    }

    fn request(definition: &str, input: serde_json::Value) -> ExecutionRequest {
        ExecutionRequest {
            task_instance_id: None,
            definition: DefinitionRef::parse(definition).unwrap(),
            workflow_instance_id: "wf".into(),
            step_id: "s".into(),
            input,
            input_ref: None,
            priority: 0,
            context: serde_json::Value::Null,
            task_token: None,
        }
    }

    #[tokio::test]
    async fn a_task_flows_through_every_stage_and_announces_each_event() {
        let p = pipeline();
        let def = TaskDefinition::parse(json!({
            "name": "double", "type": "automated",
            "implementation": { "kind": "javascript", "source": "export default (i) => ({ n: i.n * 2 })" },
            "inputSchema": { "type": "object", "required": ["n"] }
        }))
        .unwrap();
        p.engine.definitions().register(def).await.unwrap();
        let task = p.run(request("double", json!({ "n": 4 }))).await.unwrap();
        assert_eq!(task.status, TaskStatus::Completed);
        assert_eq!(task.output, Some(json!({ "n": 8 })));
        let types: Vec<String> = p
            .publisher
            .take()
            .into_iter()
            .map(|e| e.detail_type)
            .collect();
        assert_eq!(
            types,
            vec!["task.created", "task.started", "task.completed"]
        );

        let rejected = p.run(request("double", json!({}))).await.unwrap();
        assert_eq!(rejected.status, TaskStatus::Failed);
        assert_eq!(rejected.error.unwrap().code, "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn handler_invocations_emit_valid_emf_with_the_declared_metrics() {
        use crate::metrics::{Metrics, Recorded};
        let recorded = Arc::new(Recorded::default());
        let p = InProcessPipeline::new(Settings::default(), Metrics::new(recorded.clone()), |_| {
            Runners::default().with(Arc::new(JavascriptRunner {
                max_memory_bytes: 32 << 20,
                max_stack_bytes: 512 << 10,
            }))
        });
        let def = TaskDefinition::parse(json!({
            "name": "double", "type": "automated",
            "implementation": { "kind": "javascript", "source": "export default (i) => ({ n: i.n * 2 })" },
            "inputSchema": { "type": "object", "required": ["n"] }
        }))
        .unwrap();
        p.engine.definitions().register(def).await.unwrap();
        let done = p.run(request("double", json!({ "n": 4 }))).await.unwrap();
        p.run(request("double", json!({}))).await.unwrap();

        let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
        for line in recorded.lines() {
            let v: serde_json::Value =
                serde_json::from_str(&line).expect("one JSON object per line");
            assert!(v["_aws"]["Timestamp"].is_i64(), "{line}");
            let directive = &v["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], "tel");
            let dimensions: Vec<String> = directive["Dimensions"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect();
            for d in &dimensions {
                let value = v[d]
                    .as_str()
                    .unwrap_or_else(|| panic!("dimension {d} has a value: {line}"));
                assert_ne!(
                    value,
                    done.task_instance_id.to_string(),
                    "no task ids as dimensions"
                );
                assert_ne!(
                    value, done.workflow_instance_id,
                    "no workflow ids as dimensions"
                );
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(v[name].is_number(), "{name} has a value: {line}");
                assert!(
                    ["Milliseconds", "Count", "Megabytes"]
                        .contains(&metric["Unit"].as_str().unwrap())
                );
                seen.insert(name.to_owned(), dimensions.clone());
            }
        }
        let expect = [
            ("TasksCreated", vec!["TaskType"]),
            (
                "ExecutionTime",
                vec!["TaskType", "Implementation", "Outcome"],
            ),
            ("Attempts", vec!["TaskType", "Implementation", "Outcome"]),
            ("TasksCompleted", vec!["TaskType"]),
            ("TaskDuration", vec!["TaskType"]),
            ("TasksFailed", vec!["TaskType", "ErrorCode"]),
            ("MemoryHighWater", vec!["Function"]),
        ];
        for (metric, dimensions) in expect {
            assert_eq!(
                seen.get(metric),
                Some(
                    &dimensions
                        .iter()
                        .map(|d| (*d).to_owned())
                        .collect::<Vec<_>>()
                ),
                "{metric}"
            );
        }
    }
}
