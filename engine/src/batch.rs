//! One SQS batch, record by record: each record runs in its own span, records
//! run concurrently, and only the records that need another delivery are
//! reported back (ReportBatchItemFailures). One bad record never fails its batch.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::{Instrument, error, info_span, warn};

use crate::{SendBuffer, TaskEngine};
use tel_core::domain::task_error::POISON_MESSAGE;
use tel_core::domain::{Envelope, TaskError, TaskInstanceId};
use tel_core::ports::DeadLetterNote;

/// Records of one batch handled at once.
const RECORD_CONCURRENCY: usize = 10;

/// Why a record must be delivered again (SQS redrives it to the DLQ after
/// `maxReceiveCount`). Everything else is acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum Redeliver {
    /// A call failed in a way another delivery may not meet (the store, a
    /// queue or the payload bucket throttled or unreachable); the error is
    /// the source.
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync>),
    /// The task the message names is not stored (yet, or any more).
    #[error("task {0} does not exist")]
    TaskMissing(TaskInstanceId),
    /// The stage message this record's work asked for was not sent.
    #[error("its stage message was not sent")]
    StageNotSent,
    /// The task had to fail (`error`) and recording that failed (the source).
    #[error("{error}; and the task could not be failed")]
    FailureNotRecorded {
        error: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The message is not one of ours (not a task envelope): it is left for
    /// the dead-letter queue.
    #[error("{0}")]
    Unreadable(String),
    /// A request that names no workflow step cannot become a task: it is
    /// left for the dead-letter queue.
    #[error("unusable request that names no workflow step, left for the dead-letter queue: {0}")]
    Unusable(String),
}

impl Redeliver {
    pub fn because(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Failed(error.into())
    }

    /// Recording `error` as the task's failure failed with `source`.
    pub fn failure_not_recorded(
        error: impl std::fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::FailureNotRecorded {
            error: error.to_string(),
            source: source.into(),
        }
    }

    /// The reason with its causes, for logs and the dead-letter note.
    pub fn reason(&self) -> String {
        let mut reason = self.to_string();
        // (`Failed` is transparent: its source is already its inner error's.)
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            reason.push_str(": ");
            reason.push_str(&e.to_string());
            cause = e.source();
        }
        reason
    }
}

/// What the local runner and the Lambda runtime both call.
#[async_trait]
pub trait SqsHandler: Send + Sync + 'static {
    /// The function's name, for logs.
    fn name(&self) -> &'static str;

    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error>;
}

pub async fn for_each_record<'a, F, Fut>(
    function: &'static str,
    engine: &'a TaskEngine,
    event: SqsEvent,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), Redeliver>> + 'a,
{
    // Stage messages the records ask for go out together at the end.
    let sends = Arc::new(SendBuffer::default());
    let outcomes = futures::stream::iter(event.records.into_iter().map(|record| {
        let id = record.message_id.clone().unwrap_or_default();
        let span = info_span!(
            "record",
            function,
            message_id = %id,
            task_instance_id = tracing::field::Empty,
            workflow_instance_id = tracing::field::Empty,
            definition = tracing::field::Empty,
            attempt = tracing::field::Empty,
            trace = tracing::field::Empty,
            xray_trace = tracing::field::Empty,
        );
        let last = last_delivery(&record, engine.settings().max_receive_count);
        let about = LastWords::of(&record);
        let work = sends.hold(id.clone(), handle(record));
        async move {
            let outcome = work.await;
            if let Err(e) = &outcome {
                let reason = e.reason();
                error!(%reason, last_delivery = last, "record left for redelivery");
                if last {
                    give_up(engine, about, &reason).await;
                }
            }
            (id, outcome)
        }
        .instrument(span)
    }))
    .buffer_unordered(RECORD_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    if let Some(mb) = crate::metrics::memory_high_water_mb() {
        engine.metrics().put(
            &[("Function", function)],
            &[("MemoryHighWater", mb, crate::metrics::Unit::Megabytes)],
        );
    }
    let mut unsent = sends.flush(engine.queues().as_ref()).await;
    let mut response = SqsBatchResponse::default();
    for (id, mut outcome) in outcomes {
        if let Some(lost) = unsent.remove(&id) {
            outcome = match lost.error {
                // The queue is missing or denied: the task ends now, saying so.
                Some(error) => engine
                    .fail_now(lost.task, error)
                    .await
                    .map_err(Redeliver::because),
                None => Err(Redeliver::StageNotSent),
            };
        }
        if outcome.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Whether this is the message's last delivery before SQS dead-letters it.
pub fn last_delivery(record: &SqsMessage, max_receive_count: u32) -> bool {
    receive_count(record).is_some_and(|count| count >= max_receive_count)
}

/// How many times SQS has handed the message out, this time included.
pub fn receive_count(record: &SqsMessage) -> Option<u32> {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse::<u32>().ok())
}

/// What is needed to give up on a message: where it came from and which task it is about.
struct LastWords {
    queue: String,
    message_id: String,
    receive_count: u32,
    task: Option<TaskInstanceId>,
}

impl LastWords {
    fn of(record: &SqsMessage) -> Self {
        let body = record.body.as_deref().unwrap_or_default();
        // A stage envelope, or a request that names its task.
        let task = Envelope::parse(body)
            .map(|e| e.task_instance_id)
            .ok()
            .or_else(|| {
                let request = serde_json::from_str::<serde_json::Value>(body).ok()?;
                // Sent to the queue, or a `task.requested` event a bus rule
                // forwarded whole. Another event (a notifier's) is about a
                // task that must not fail with it.
                let request = match request.get("detail-type") {
                    Some(kind) if kind == "task.requested" => {
                        tel_core::domain::request::unwrap_event(request)
                    }
                    Some(_) => return None,
                    None => request,
                };
                match request.get("taskInstanceId").filter(|id| !id.is_null()) {
                    Some(id) => TaskInstanceId::parse(id.as_str()?).ok(),
                    // A request without its own id names the task the
                    // router derives from the message id (`router::task_id`).
                    None => {
                        request.get("taskDefinitionId")?;
                        let message_id = record.message_id.as_deref()?;
                        Some(TaskInstanceId::derived(&format!("sqs:{message_id}")))
                    }
                }
            });
        Self {
            queue: record
                .event_source_arn
                .as_deref()
                .and_then(|arn| arn.rsplit(':').next())
                .unwrap_or("unknown")
                .to_owned(),
            message_id: record.message_id.clone().unwrap_or_default(),
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            task,
        }
    }
}

/// A message failed its last delivery: note why beside the dead-letter
/// queue, and fail the task it is about so nothing waits on it silently.
async fn give_up(engine: &TaskEngine, about: LastWords, reason: &str) {
    let note = DeadLetterNote {
        queue: about.queue.clone(),
        message_id: about.message_id.clone(),
        reason: reason.to_owned(),
        task_instance_id: about.task,
        receive_count: about.receive_count,
        at: engine.now(),
    };
    if let Err(e) = engine.dead_letters().note(&note).await {
        warn!(error = %e, "dead-letter reason not recorded");
    }
    let Some(id) = about.task else { return };
    let error = TaskError::new(
        POISON_MESSAGE,
        format!(
            "gave up on the {} message after {} deliveries: {reason}",
            about.queue, about.receive_count
        ),
    )
    .with_details(json!({ "queue": about.queue, "messageId": about.message_id }));
    if let Err(e) = engine.fail_now(id, error).await {
        warn!(task_instance_id = %id, error = %e, "could not fail the task of a dead-lettered message");
    }
}

/// Records what the current record is about on its span, so every log
/// line of the record carries it.
pub fn record_task(task: &tel_core::domain::TaskInstance) {
    let span = tracing::Span::current();
    span.record(
        "task_instance_id",
        tracing::field::display(task.task_instance_id),
    );
    span.record("workflow_instance_id", task.workflow_instance_id.as_str());
    span.record("definition", tracing::field::display(task.definition_ref()));
    span.record("attempt", task.attempt);
    if let Some(trace) = &task.trace_id {
        span.record("trace", trace.as_str());
        // X-Ray's spelling too, to find the attempt's logs from an X-Ray trace.
        if let Some(xray) = tel_core::domain::trace::xray_header(trace) {
            span.record("xray_trace", xray.as_str());
        }
    }
}

/// The `traceparent` message attribute a sender set on purpose.
pub fn trace_attribute(record: &SqsMessage) -> Option<String> {
    record
        .message_attributes
        .get(tel_aws::sqs::TRACE_ATTRIBUTE)
        .and_then(|a| a.string_value.clone())
        .filter(|t| !t.is_empty() && t.len() <= 512)
}

/// The X-Ray header SQS keeps as a system attribute (set by AWS for a
/// traced sender).
pub fn xray_attribute(record: &SqsMessage) -> Option<String> {
    record
        .attributes
        .get("AWSTraceHeader")
        .cloned()
        .filter(|t| !t.is_empty() && t.len() <= 512)
}

/// A new W3C trace context, for requests that arrive without one.
pub fn new_trace() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

/// Records the task id on the current record span.
pub fn record_task_id(id: impl std::fmt::Display) {
    tracing::Span::current().record("task_instance_id", tracing::field::display(id));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_words(body: serde_json::Value) -> Option<TaskInstanceId> {
        let mut record = SqsMessage::default();
        record.message_id = Some("m-1".into());
        record.body = Some(body.to_string());
        LastWords::of(&record).task
    }

    /// The task a message is about, for failing it on its last delivery:
    /// a request without its own id, sent or forwarded by a bus rule, names
    /// the one the router derives from the message id.
    #[test]
    fn last_words_name_the_task_a_request_or_an_envelope_is_about() {
        let id = TaskInstanceId::new();
        let derived = TaskInstanceId::derived("sqs:m-1");
        let request = json!({ "taskDefinitionId": "d", "workflowInstanceId": "wf", "stepId": "s" });
        let forwarded = |detail| json!({ "detail-type": "task.requested", "detail": detail });
        let mut own = request.clone();
        own["taskInstanceId"] = json!(id.to_string());
        assert_eq!(last_words(own.clone()), Some(id));
        assert_eq!(last_words(forwarded(own)), Some(id));
        assert_eq!(last_words(request.clone()), Some(derived));
        assert_eq!(last_words(forwarded(request)), Some(derived));
        let envelope =
            json!({ "taskInstanceId": id.to_string(), "stage": "execute", "attempt": 0 });
        assert_eq!(last_words(envelope), Some(id));
        assert_eq!(last_words(json!({ "not": "a request" })), None);
        // A lifecycle event a rule forwarded to the notifier names a task
        // that its notice's failure must not fail.
        let notice = json!({ "detail-type": "task.assigned", "detail": { "taskInstanceId": id.to_string(), "taskDefinitionId": "d" } });
        assert_eq!(last_words(notice), None);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("throttled")]
    struct Outer(#[source] std::io::Error);

    fn chain() -> Outer {
        Outer(std::io::Error::other("slow down"))
    }

    #[test]
    fn a_reason_keeps_every_cause() {
        assert_eq!(Redeliver::because(chain()).reason(), "throttled: slow down");
        assert_eq!(
            Redeliver::failure_not_recorded("TIMEOUT", chain()).reason(),
            "TIMEOUT; and the task could not be failed: throttled: slow down"
        );
        assert_eq!(
            Redeliver::StageNotSent.reason(),
            "its stage message was not sent"
        );
    }
}
