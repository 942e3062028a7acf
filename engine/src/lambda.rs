//! Glue between the Lambda runtime and our handlers.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use crate::batch::SqsHandler;
use tel_aws::dynamo::stream::StreamRecord;
use tel_core::ports::TaskChange;

/// Logs as JSON lines in Lambda (so CloudWatch can query fields), readable
/// text elsewhere. Level from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else info.
pub fn init_tracing() {
    let (filter, refused) = log_filter(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    let lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let json = lambda.then(|| {
        fmt::layer()
            .json()
            .with_current_span(true)
            .without_time()
            .with_target(false)
    });
    let text = (!lambda).then(|| fmt::layer().with_target(false));
    let result = tracing_subscriber::registry()
        .with(json)
        .with(text)
        .with(filter)
        .try_init();
    // Already installed (tests, the local runner): keep the first.
    drop(result);
    if let Some(refused) = refused {
        tracing::warn!(refused = %refused, "log level not understood and left out");
    }
}

/// What to log: `RUST_LOG`'s `target=level` directives (`info`,
/// `tel_engine=debug,warn`), else the function's Lambda log level, else
/// info; and what was refused, to be logged once logging works.
/// `Targets`, not `EnvFilter`: the same directives without span and field
/// filters, whose regex engine was 0.3 MB of the zip of every function
/// that does not validate schemas (docs/benchmarks.md, "Function
/// binaries"). A span or field filter (`[...]`, `{...}`) is left out, and
/// said so, rather than read as a target that matches nothing.
fn log_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> (Targets, Option<String>) {
    let info = || Targets::new().with_default(Level::INFO);
    // Empty pieces (`info,`, or an empty RUST_LOG) would parse as a target
    // named "" at TRACE, which matches every target.
    let pieces: Vec<&str> = rust_log
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if !pieces.is_empty() {
        let (spans, targets): (Vec<&str>, Vec<&str>) =
            pieces.into_iter().partition(|d| d.contains(['[', '{']));
        let refused = (!spans.is_empty()).then(|| format!("RUST_LOG {}", spans.join(",")));
        return match targets.join(",").parse() {
            Ok(filter) if !targets.is_empty() => (filter, refused),
            Ok(_) => (info(), refused),
            Err(_) => (
                info(),
                Some(format!("RUST_LOG {}", rust_log.unwrap_or_default())),
            ),
        };
    }
    let Some(level) = lambda_level.filter(|l| !l.is_empty()) else {
        return (info(), None);
    };
    // Lambda's levels are TRACE to FATAL; tracing's stop at ERROR.
    if level.eq_ignore_ascii_case("fatal") {
        return (Targets::new().with_default(Level::ERROR), None);
    }
    match level.parse::<Level>() {
        Ok(l) => (Targets::new().with_default(l), None),
        Err(_) => (info(), Some(format!("AWS_LAMBDA_LOG_LEVEL {level}"))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(filter: &(Targets, Option<String>), target: &str, level: Level) -> bool {
        filter.0.would_enable(target, &level)
    }

    #[test]
    fn rust_log_directives_name_targets_and_a_default() {
        let filter = log_filter(Some("tel_engine=debug, warn,"), Some("ERROR"));
        assert!(logs(&filter, "tel_engine::batch", Level::DEBUG));
        assert!(!logs(&filter, "tel_engine::batch", Level::TRACE));
        assert!(logs(&filter, "aws_smithy_runtime", Level::WARN));
        assert!(!logs(&filter, "aws_smithy_runtime", Level::INFO));
        assert_eq!(filter.1, None);
    }

    #[test]
    fn the_lambda_log_level_applies_when_rust_log_is_unset_or_empty() {
        for rust_log in [None, Some(""), Some(" , ")] {
            let debug = log_filter(rust_log, Some("DEBUG"));
            assert!(logs(&debug, "tel_engine", Level::DEBUG));
            assert!(!logs(&debug, "tel_engine", Level::TRACE));
        }
        // FATAL is Lambda's highest level; tracing's is ERROR.
        let fatal = log_filter(None, Some("FATAL"));
        assert!(logs(&fatal, "tel_engine", Level::ERROR));
        assert!(!logs(&fatal, "tel_engine", Level::WARN));
    }

    #[test]
    fn unset_or_unreadable_levels_log_info_and_say_what_was_refused() {
        for (filter, refused) in [
            (log_filter(None, None), None),
            (log_filter(Some(""), None), None),
            (log_filter(Some("info,"), None), None),
            (
                log_filter(Some("tel_engine=loud"), None),
                Some("RUST_LOG tel_engine=loud"),
            ),
            (
                log_filter(None, Some("LOUD")),
                Some("AWS_LAMBDA_LOG_LEVEL LOUD"),
            ),
        ] {
            assert!(logs(&filter, "tel_engine", Level::INFO), "{refused:?}");
            assert!(!logs(&filter, "hyper", Level::DEBUG), "{refused:?}");
            assert!(!logs(&filter, "", Level::DEBUG), "{refused:?}");
            assert_eq!(filter.1.as_deref(), refused);
        }
    }

    #[test]
    fn span_and_field_filters_are_left_out_and_said_so() {
        // (RUST_LOG, tel_engine's lowest level logged, what was refused)
        for (rust_log, level, refused) in [
            (
                "tel_engine[claim]=debug,warn",
                Level::WARN,
                "tel_engine[claim]=debug",
            ),
            (
                "[{task_instance_id}]=trace",
                Level::INFO,
                "[{task_instance_id}]=trace",
            ),
        ] {
            let filter = log_filter(Some(rust_log), None);
            assert!(logs(&filter, "tel_engine", level), "{rust_log}");
            let below = if level == Level::WARN {
                Level::INFO
            } else {
                Level::DEBUG
            };
            assert!(!logs(&filter, "tel_engine", below), "{rust_log}");
            assert_eq!(filter.1, Some(format!("RUST_LOG {refused}")));
        }
    }
}
