//! The local runner: every function of the pipeline against one stack, each
//! with its own pollers, the publisher on the table's change stream, and the
//! sweeper on a timer, in one process.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use super::invocations::InvocationLog;
use super::poller::{Lane, Poller};
use super::provision::LocalStack;
use super::stream_reader::StreamReader;
use tel_core::ports::runner::Runners;
use tel_engine::TaskEngine;
use tel_engine::batch::SqsHandler;
use tel_engine::handlers::{
    ChangePublisher, Executor, ManualAssign, NoticeObserver, Notifier, NotifierConfig, Router,
    Sweeper, Validator,
};

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Concurrent pollers per function (Lambda's concurrency, locally).
    pub pollers_per_function: usize,
    pub batch_size: i32,
    pub wait_seconds: i32,
    pub sweep_every: Duration,
    /// Where the change-stream position is kept across runs (in memory without it).
    pub stream_checkpoint: Option<std::path::PathBuf>,
    /// Where notification links point (the local API's `/ui/`); the stack's
    /// `UiUrl` parameter when it has one.
    pub ui_url: Option<String>,
    /// Told of each notification sent (`tel dev` prints them).
    pub on_notice: Option<NoticePrinter>,
}

/// A callback for each notification sent.
#[derive(Clone)]
pub struct NoticePrinter(pub NoticeObserver);

impl std::fmt::Debug for NoticePrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoticePrinter")
    }
}

/// The notifier's settings from the stack's template parameters, as the
/// template passes them to the function.
pub fn notifier_config(stack: &LocalStack, ui_url: Option<String>) -> NotifierConfig {
    let parameter = |name: &str| {
        stack
            .parameters
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
    };
    NotifierConfig {
        sender: parameter("NotificationSender"),
        configuration_set: parameter("NotificationConfigurationSet"),
        user_pool_id: parameter("CognitoUserPoolId"),
        ui_url: parameter("UiUrl").or(ui_url),
    }
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            pollers_per_function: 2,
            batch_size: 10,
            // Lambda's SQS pollers long-poll 20 s: idle queues cost a call per 20 s each.
            wait_seconds: 20,
            sweep_every: Duration::from_secs(2),
            stream_checkpoint: None,
            ui_url: None,
            on_notice: None,
        }
    }
}

pub struct LocalRunner {
    engine: Arc<TaskEngine>,
    /// Every queue a function polls.
    queue_urls: Vec<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The stream publisher stops last, once every write of the others is in the stream.
    publisher_shutdown: watch::Sender<bool>,
    publisher: JoinHandle<()>,
    invocations: Arc<InvocationLog>,
}

impl LocalRunner {
    pub fn start(
        sdk: &SdkConfig,
        stack: &LocalStack,
        engine: Arc<TaskEngine>,
        runners: Runners,
        options: &RunnerOptions,
    ) -> anyhow::Result<Self> {
        let (shutdown, watcher) = watch::channel(false);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let invocations = Arc::new(InvocationLog::default());
        let stream_arn = stack.table_stream_arn.clone().ok_or_else(|| {
            anyhow::anyhow!("the table has no change stream to publish events from")
        })?;
        // Each function with its queues. A priority lane has pollers of its own,
        // as in AWS it has its own event source mapping (and more concurrency):
        // its messages never wait behind the normal lane's.
        let mut notifier = Notifier::aws(
            engine.clone(),
            sdk,
            &notifier_config(stack, options.ui_url.clone()),
        );
        if let Some(http) = runners.get("http") {
            notifier = notifier.webhooks(http);
        }
        if let Some(NoticePrinter(observer)) = &options.on_notice {
            notifier = notifier.observe(observer.clone());
        }
        let mut functions: Vec<(&[&str], Arc<dyn SqsHandler>)> = vec![
            (&["RequestsQueue"], Arc::new(Router::new(engine.clone()))),
            (
                &["ValidatePriorityQueue", "ValidateQueue"],
                Arc::new(Validator::new(engine.clone())),
            ),
            (
                &["ExecutePriorityQueue", "ExecuteQueue"],
                Arc::new(Executor::new(engine.clone(), runners)),
            ),
            (
                &["ManualQueue"],
                Arc::new(ManualAssign::new(engine.clone())),
            ),
        ];
        // A stack from a template before notifications has no such queue.
        if stack.queues.contains_key("NotificationQueue") {
            functions.push((&["NotificationQueue"], Arc::new(notifier)));
        }
        let mut tasks = Vec::new();
        let mut queue_urls = Vec::new();
        for (queue_ids, handler) in functions {
            let lanes: Vec<Lane> = queue_ids
                .iter()
                .filter_map(|id| stack.queues.get(*id))
                .map(|q| Lane {
                    url: q.url.clone(),
                    arn: q.arn.clone(),
                })
                .collect();
            anyhow::ensure!(
                !lanes.is_empty(),
                "the stack has none of the queues {queue_ids:?}"
            );
            queue_urls.extend(lanes.iter().map(|lane| lane.url.clone()));
            for lane in &lanes {
                for _ in 0..options.pollers_per_function.max(1) {
                    let poller = Poller {
                        sqs: sqs.clone(),
                        lane: lane.clone(),
                        region: stack.region.clone(),
                        handler: handler.clone(),
                        batch_size: options.batch_size,
                        wait_seconds: options.wait_seconds,
                        invocations: invocations.clone(),
                    };
                    tasks.push(tokio::spawn(poller.run(watcher.clone())));
                }
            }
            info!(function = handler.name(), queues = ?queue_ids, pollers = options.pollers_per_function, "function running");
        }
        let reader = StreamReader::new(sdk, &stream_arn, ChangePublisher::of_engine(&engine))
            .batches_of(stack)
            .checkpoint(options.stream_checkpoint.clone())
            .invocations(invocations.clone());
        let (publisher_shutdown, publisher_watcher) = watch::channel(false);
        let publisher = tokio::spawn(reader.run(publisher_watcher));
        let sweeper = Sweeper::new(engine.clone());
        let every = options.sweep_every;
        let mut stop = watcher.clone();
        tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = ticker.tick() => { sweeper.sweep().await; }
                }
            }
        }));
        Ok(Self {
            engine,
            queue_urls,
            shutdown,
            tasks,
            publisher_shutdown,
            publisher,
            invocations,
        })
    }

    /// Invocations, records and handler time by function, as Lambda would report them.
    pub fn invocations(&self) -> &Arc<InvocationLog> {
        &self.invocations
    }

    /// Serves the HTTP API on `listener` until the runner stops.
    pub fn serve_api(&mut self, listener: tokio::net::TcpListener, state: tel_api::ApiState) {
        let mut stop = self.shutdown.subscribe();
        let shutdown = async move {
            let _ = stop.changed().await;
        };
        self.tasks.push(tokio::spawn(async move {
            if let Err(e) = tel_api::serve(listener, state, shutdown).await {
                tracing::error!(error = %e, "the local API stopped");
            }
        }));
    }

    /// Waits until nothing is in flight: every queue the functions poll
    /// holds nothing (waiting, in flight or delayed), no batch is inside a
    /// handler, and the publisher has read the change stream to its end since
    /// — twice in a row — so every write so far has had its events published.
    /// For tests that assert that nothing more happened: they ask after this,
    /// not after a fixed sleep. An error, after `timeout`, says what was busy.
    pub async fn quiesce(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut calm = 0;
        loop {
            let busy = self.busy().await?;
            if busy.is_empty() {
                // Every write before this point is in the stream: wait for
                // the publisher to find the stream empty after it.
                let seen = self.invocations.stream_caught_up_count();
                while self.invocations.stream_caught_up_count() <= seen {
                    anyhow::ensure!(
                        tokio::time::Instant::now() < deadline,
                        "the publisher did not catch up with the stream within {timeout:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                calm += 1;
                if calm == 2 {
                    return Ok(());
                }
                continue;
            }
            calm = 0;
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "still busy after {timeout:?}: {}",
                busy.join(", ")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What is still going on: queues holding messages, batches in handlers.
    async fn busy(&self) -> anyhow::Result<Vec<String>> {
        let mut busy = Vec::new();
        for url in &self.queue_urls {
            let depth = self.engine.queues().depth(url).await?;
            if depth.pending() + depth.in_flight > 0 {
                busy.push(format!("{url} holds {depth:?}"));
            }
        }
        let handling = self.invocations.in_flight();
        if handling > 0 {
            busy.push(format!("{handling} batch(es) in a handler"));
        }
        Ok(busy)
    }

    /// Stops polling; in-flight batches finish first, then the events of
    /// everything they wrote are published.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let _ = self.publisher_shutdown.send(true);
        let _ = self.publisher.await;
    }
}
