//! The pipeline in one process over in-memory ports: each message a handler
//! sends is handed straight to the next handler. For unit tests of the flow
//! and for measuring the handlers' own overhead without any I/O.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;

use crate::adapters::memory::{
    InMemoryDefinitionStore, InMemoryTaskStore, RecordingPublisher, RecordingQueue,
};
use crate::clock::SystemClock;
use crate::config::{QueueUrls, Settings};
use crate::domain::{ExecutionRequest, TaskInstance};
use crate::handlers::definitions::DefinitionCache;
use crate::handlers::{Executor, Router, Services, SqsHandler, Validator};
use crate::runners::Runners;

pub struct InProcessPipeline {
    pub services: Arc<Services>,
    pub queue: Arc<RecordingQueue>,
    pub publisher: Arc<RecordingPublisher>,
    router: Router,
    validator: Validator,
    executor: Executor,
    next_message: std::sync::atomic::AtomicU64,
}

impl InProcessPipeline {
    pub fn new(
        settings: Settings,
        metrics: crate::metrics::Metrics,
        runners: impl FnOnce(&Services) -> Runners,
    ) -> Self {
        let queue = Arc::new(RecordingQueue::default());
        let publisher = Arc::new(RecordingPublisher::default());
        let tasks = Arc::new(InMemoryTaskStore::default());
        let metrics = Arc::new(metrics);
        let services = Arc::new(Services {
            tasks: tasks.clone(),
            assignment: tasks.clone(),
            dead_letters: tasks.clone(),
            slots: tasks.clone(),
            breakers: tasks,
            integrations: Arc::new(crate::adapters::memory::InMemoryIntegrationStore::default()),
            metrics: metrics.clone(),
            definitions: Arc::new(DefinitionCache::new(Arc::new(
                InMemoryDefinitionStore::default(),
            ))),
            publisher: publisher.clone(),
            queues: queue.clone(),
            queue_urls: QueueUrls {
                requests: "requests".into(),
                validate: "validate".into(),
                execute: "execute".into(),
                manual: "manual".into(),
                validate_priority: None,
                execute_priority: None,
            },
            settings,
            clock: Arc::new(SystemClock),
        });
        let runners = runners(&services);
        Self {
            router: Router::new(services.clone()),
            validator: Validator::new(services.clone()),
            executor: Executor::new(services.clone(), runners),
            services,
            queue,
            publisher,
            next_message: Default::default(),
        }
    }

    /// Runs one request through every stage whose message is sent without
    /// delay, and returns the task as it ends up.
    pub async fn run(&self, request: ExecutionRequest) -> anyhow::Result<TaskInstance> {
        let task = self.router.accept(request, None, None).await?;
        loop {
            let pending = self.queue.take();
            if pending.is_empty() {
                break;
            }
            for (url, message) in pending {
                let handler: &dyn SqsHandler = match url.as_str() {
                    "validate" => &self.validator,
                    "execute" => &self.executor,
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
            .services
            .tasks
            .get(task.task_instance_id)
            .await?
            .expect("the task exists"))
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
            priority: 0,
            context: serde_json::Value::Null,
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
        p.services.definitions.store().register(def).await.unwrap();
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
        p.services.definitions.store().register(def).await.unwrap();
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
