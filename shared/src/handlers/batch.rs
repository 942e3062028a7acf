//! One SQS batch, record by record: each record runs in its own span, records
//! run concurrently, and only the records that need another delivery are
//! reported back (ReportBatchItemFailures). One bad record never fails its batch.

use std::future::Future;

use async_trait::async_trait;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use lambda_runtime::LambdaEvent;
use tracing::{Instrument, error, info_span};

/// Records of one batch handled at once.
const RECORD_CONCURRENCY: usize = 10;

/// A record that must be delivered again (SQS redrives it to the DLQ after
/// `maxReceiveCount`). Everything else is acknowledged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Redeliver(pub String);

impl Redeliver {
    pub fn because(reason: impl std::fmt::Display) -> Self {
        Self(reason.to_string())
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
    event: SqsEvent,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), Redeliver>> + 'a,
{
    let outcomes = futures::stream::iter(event.records.into_iter().map(|record| {
        let id = record.message_id.clone().unwrap_or_default();
        let span = info_span!("record", function, message_id = %id, task_instance_id = tracing::field::Empty);
        let work = handle(record);
        async move {
            let outcome = work.await;
            if let Err(e) = &outcome {
                error!(reason = %e, "record left for redelivery");
            }
            (id, outcome)
        }
        .instrument(span)
    }))
    .buffer_unordered(RECORD_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    let mut response = SqsBatchResponse::default();
    for (id, outcome) in outcomes {
        if outcome.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Records the task id on the current record span.
pub fn record_task_id(id: impl std::fmt::Display) {
    tracing::Span::current().record("task_instance_id", tracing::field::display(id));
}
