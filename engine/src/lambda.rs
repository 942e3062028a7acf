//! Glue between the Lambda runtime and our handlers.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use tracing_subscriber::EnvFilter;

use crate::batch::SqsHandler;
use tel_aws::dynamo::stream::StreamRecord;
use tel_core::ports::TaskChange;

/// Logs as JSON lines in Lambda (so CloudWatch can query fields), readable
/// text elsewhere. Level from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else info.
pub fn init_tracing() {
    let level = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_lowercase()))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .with_current_span(true)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
    // Already installed (tests, the local runner): keep the first.
    drop(result);
}

/// Serves an SQS handler to the Lambda runtime.
pub async fn run_sqs<H: SqsHandler>(handler: H) -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { handler.handle(event).await }
    }))
    .await
}

/// Serves the sweeper to the Lambda runtime; the schedule's event is ignored.
pub async fn run_sweeper(sweeper: crate::handlers::Sweeper) -> Result<(), lambda_runtime::Error> {
    let sweeper = Arc::new(sweeper);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let sweeper = sweeper.clone();
        async move { Ok::<_, lambda_runtime::Error>(sweeper.sweep().await) }
    }))
    .await
}

/// Serves the change-stream publisher to the Lambda runtime: a batch of
/// stream records in, the position to resume from out (ReportBatchItemFailures),
/// so only what was not published is delivered again.
pub async fn run_stream_publisher(
    publisher: crate::handlers::ChangePublisher,
) -> Result<(), lambda_runtime::Error> {
    let publisher = Arc::new(publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let publisher = publisher.clone();
        async move {
            let records = event.payload["Records"]
                .as_array()
                .map(|records| {
                    records
                        .iter()
                        .filter_map(|r| {
                            StreamRecord::from_lambda(
                                &r["dynamodb"],
                            )
                            .map_err(
                                |e| tracing::error!(error = %e, "unreadable stream record skipped"),
                            )
                            .ok()
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let changes = task_changes(&records);
            let failures = match publisher.publish(&changes).await {
                Ok(published) => {
                    if published > 0 {
                        tracing::info!(records = records.len(), published, "events published");
                    }
                    Vec::new()
                }
                Err(unpublished) => {
                    vec![serde_json::json!({ "itemIdentifier": unpublished.sequence })]
                }
            };
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "batchItemFailures": failures }))
        }
    }))
    .await
}

/// Stream records as the task changes the publisher takes, at the edge:
/// records of other items are skipped with a warning (the template's stream
/// filter lets none through; one here means the filter wakes, and bills, the
/// publisher for nothing), and a record that does not read as a task is
/// logged and skipped (one bad record must not hold the stream).
pub fn task_changes(records: &[StreamRecord]) -> Vec<TaskChange> {
    let others: Vec<String> = records
        .iter()
        .filter(|r| !r.is_task_write())
        .filter_map(StreamRecord::key)
        .collect();
    if !others.is_empty() {
        tracing::warn!(keys = ?others, "stream records that are not task writes (check the stream filter)");
    }
    records
        .iter()
        .filter_map(StreamRecord::task_change)
        .filter_map(|change| {
            change
                .map_err(|e| tracing::error!(error = %e, "unreadable task change skipped"))
                .ok()
        })
        .collect()
}
