//! The stage handlers' shared shape: validator (input), executor (attempts)
//! and manual-assign (assignment) each take one stage's messages, read the
//! task the message names, drop a message that is no longer current (a
//! duplicate or a late one), and do their stage's work on the task.

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use crate::batch::{
    Redeliver, SqsHandler, for_each_record, receive_count, record_task, record_task_id,
};
use crate::definitions::LoadedDefinition;
use crate::{ApplyError, TaskEngine};
use tel_core::domain::task_error::UNKNOWN_DEFINITION;
use tel_core::domain::{
    Action, Envelope, PayloadField, Stage, TaskError, TaskInstance, TaskInstanceId,
};

/// A handler of one stage's queue.
#[async_trait]
pub trait StageHandler: Send + Sync + 'static {
    /// The function's name, for logs.
    const NAME: &'static str;
    /// The stage whose messages it takes.
    const STAGE: Stage;
    /// Whether the task may be read eventually consistently first
    /// (`with_task`): for a handler whose every decision is a write
    /// conditional on what it read.
    const READ_RECENT: bool = true;

    fn engine(&self) -> &TaskEngine;

    /// Whether a batch's first-delivered messages are hidden for less than
    /// the queue's own visibility timeout, and its records left for
    /// redelivery too (none: the queue's timeout for both). A handler that
    /// dies holding such a message, or gives it back, has it again this soon.
    fn message_hiding(&self) -> Option<Hiding> {
        None
    }

    /// The stage's work on a task that waits on this message (its input and
    /// context loaded), with the exact definition version it was created from.
    async fn act(
        &self,
        task: TaskInstance,
        definition: Arc<LoadedDefinition>,
        delivery: Delivery,
    ) -> Result<(), ApplyError>;
}

/// How a stage hides its batch's messages (`StageHandler::message_hiding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hiding {
    /// For how long the batch's messages are hidden at a time: its first
    /// deliveries at once (one call, made while the work goes on), and every
    /// message of the batch again each `renew_every` while it still runs, so
    /// none comes back while its invocation is alive (Lambda deletes them
    /// only when the invocation ends).
    pub visibility: Duration,
    pub renew_every: Duration,
    /// How soon a record left for redelivery (its work failed for now)
    /// comes back after its first delivery; twice as long after each
    /// delivery before, up to `MAX_FAILED_VISIBILITY`. One call for the
    /// batch's failures, after its work.
    pub failed: Duration,
}

/// The longest a failed record is given back for: under the execute queue's
/// own timeout.
pub const MAX_FAILED_VISIBILITY: Duration = Duration::from_secs(900);

impl Hiding {
    /// How long a record that failed on its `receive_count`th delivery stays
    /// hidden.
    pub fn after_failure(&self, receive_count: u32) -> Duration {
        let doublings = receive_count.saturating_sub(1).min(16);
        (self.failed * 2u32.pow(doublings)).min(MAX_FAILED_VISIBILITY)
    }
}

/// What a handler knows of the delivery that brought its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// SQS handed this message out for the first time: no handler holding it
    /// died or gave it back before.
    pub first: bool,
}

impl Delivery {
    pub fn of(message: &SqsMessage) -> Self {
        Self {
            first: receive_count(message).is_none_or(|count| count <= 1),
        }
    }
}

#[async_trait]
impl<H: StageHandler> SqsHandler for H {
    fn name(&self) -> &'static str {
        H::NAME
    }

    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let engine = self.engine();
        let hidden = (self.message_hiding())
            .map(|hiding| (hiding, Receipt::of_batch(engine, &event.payload.records)));
        let work = for_each_record(H::NAME, engine, event.payload, |message| {
            let delivery = Delivery::of(&message);
            with_task(
                engine,
                message,
                H::READ_RECENT,
                move |envelope, task| async move {
                    if envelope.stage != H::STAGE || !envelope.is_current_for(&task) {
                        info!(stage = ?envelope.stage, status = %task.status, attempt = task.attempt, message_attempt = envelope.attempt, run = task.run(), message_run = ?envelope.run, "stale message ignored");
                        return Ok(());
                    }
                    let engine = self.engine();
                    // Delivered again: the deadline index keeps the task too.
                    let task = match delivery.first {
                        true => task,
                        false => engine.keep_in_index(task).await?,
                    };
                    // A task whose definition version is gone cannot go on.
                    let exact = engine
                        .definitions()
                        .exact(&task.definition_name, task.definition_version);
                    let Some(definition) = exact.await? else {
                        let error = TaskError::new(
                            UNKNOWN_DEFINITION,
                            format!("definition {} no longer exists", task.definition_ref()),
                        );
                        return engine
                            .apply(&task, Action::Fail { error })
                            .await
                            .map(|_| ());
                    };
                    self.act(task, definition, delivery).await
                },
            )
        });
        match hidden {
            Some((hiding, receipts)) => {
                Ok(with_messages_hidden(engine, hiding, &receipts, work).await)
            }
            None => Ok(work.await),
        }
    }
}

/// Runs a batch's `work` with its messages hidden as `hiding` says: the
/// first deliveries at once, all of them again each `renew_every` until the
/// work is done, then the failed records given back after their backoff.
async fn with_messages_hidden(
    engine: &TaskEngine,
    hiding: Hiding,
    receipts: &[Receipt],
    work: impl Future<Output = SqsBatchResponse>,
) -> SqsBatchResponse {
    // Hidden until the work is done; a call under way then is let
    // finish, so it cannot land after the failed records' own.
    let done = tokio::sync::Notify::new();
    let keep_hidden = async {
        let first = receipts.iter().filter(|r| r.first);
        hide(engine, first, hiding.visibility).await;
        loop {
            tokio::select! {
                () = tokio::time::sleep(hiding.renew_every) => {}
                () = done.notified() => return,
            }
            hide(engine, receipts.iter(), hiding.visibility).await;
        }
    };
    let work = async {
        let response = work.await;
        done.notify_one();
        response
    };
    let (response, ()) = tokio::join!(work, keep_hidden);
    let failed: Vec<&str> = (response.batch_item_failures.iter())
        .map(|f| f.item_identifier.as_str())
        .collect();
    let mut again: BTreeMap<Duration, Vec<&Receipt>> = BTreeMap::new();
    for receipt in receipts
        .iter()
        .filter(|r| failed.contains(&r.message_id.as_str()))
    {
        let after = hiding.after_failure(receipt.receive_count);
        again.entry(after).or_default().push(receipt);
    }
    for (after, receipts) in again {
        hide(engine, receipts.into_iter(), after).await;
    }
    response
}

/// A received message's handle, and where it came from.
struct Receipt {
    message_id: String,
    queue: String,
    handle: String,
    first: bool,
    receive_count: u32,
}

impl Receipt {
    /// Those of a batch's records that came from one of the stage queues.
    fn of_batch(engine: &TaskEngine, records: &[SqsMessage]) -> Vec<Receipt> {
        let of = |record: &SqsMessage| {
            let arn = record.event_source_arn.as_deref()?;
            Some(Receipt {
                message_id: record.message_id.clone()?,
                queue: engine.queue_url_of(arn)?.to_owned(),
                handle: record.receipt_handle.clone()?,
                first: Delivery::of(record).first,
                receive_count: receive_count(record).unwrap_or(1),
            })
        };
        records.iter().filter_map(of).collect()
    }
}

/// Sets the visibility of messages, one call per queue and ten messages. A
/// failure leaves them the queue's own timeout: a slower comeback if the
/// handler dies, no more.
async fn hide<'a>(
    engine: &TaskEngine,
    receipts: impl Iterator<Item = &'a Receipt>,
    visibility: Duration,
) {
    let mut by_queue: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for receipt in receipts {
        by_queue
            .entry(&receipt.queue)
            .or_default()
            .push(receipt.handle.clone());
    }
    let seconds = visibility.as_secs() as u32;
    for (queue, handles) in by_queue {
        if let Err(e) = engine.queues().hide_for(queue, &handles, seconds).await {
            tracing::warn!(queue, error = %e, "messages keep the queue's visibility timeout");
        }
    }
}

/// The shape every stage handler shares: read the envelope and its task
/// (both recorded on the span), do the work; a task that another handler
/// moved on first is nothing to do, anything else unfinished is redelivered.
///
/// With `read_recent`, the task is read eventually consistently first (half
/// the price): the message was sent after the write it follows, so that read
/// is almost always current. A task it does not find, or finds not waiting
/// on this message, is read again consistently before anything is decided.
/// One it finds waiting is only ever written conditionally on what was read,
/// and a write refused after it is tried once more on a consistent read, in
/// case the read was behind (a re-sent message after the sweeper's write).
async fn with_task<F, Fut>(
    engine: &TaskEngine,
    message: SqsMessage,
    read_recent: bool,
    work: F,
) -> Result<(), Redeliver>
where
    F: Fn(Envelope, TaskInstance) -> Fut,
    Fut: Future<Output = Result<(), ApplyError>>,
{
    let envelope = Envelope::parse(message.body.as_deref().unwrap_or_default())
        .map_err(Redeliver::Unreadable)?;
    let id = envelope.task_instance_id;
    record_task_id(id);
    let recent = match read_recent {
        true => engine
            .tasks()
            .get_recent(id)
            .await
            .map_err(Redeliver::because)?
            .filter(|task| envelope.is_current_for(task)),
        false => None,
    };
    let (task, maybe_behind) = match recent {
        Some(task) => (task, true),
        None => (read(engine, id).await?, false),
    };
    let mut done = run(engine, &work, envelope.clone(), task).await;
    if maybe_behind && matches!(&done, Err(e) if e.is_superseded()) {
        let fresh = read(engine, id).await?;
        if envelope.is_current_for(&fresh) {
            tracing::info!("the first read was behind; the work is done again on a consistent one");
            done = run(engine, &work, envelope, fresh).await;
        }
    }
    match done {
        Err(e) if e.is_superseded() => {
            tracing::info!(reason = %e, "task moved on concurrently; nothing to do");
            Ok(())
        }
        // Permanent: no redelivery would change it. The task fails now, saying why.
        Err(e) => match e.task_error() {
            Some(error) => engine
                .fail_now(id, error)
                .await
                .map_err(|failing| Redeliver::failure_not_recorded(e, failing)),
            None => Err(Redeliver::because(e)),
        },
        Ok(()) => Ok(()),
    }
}

/// The task as last written (a consistent read).
async fn read(engine: &TaskEngine, id: TaskInstanceId) -> Result<TaskInstance, Redeliver> {
    engine
        .tasks()
        .get(id)
        .await
        .map_err(Redeliver::because)?
        .ok_or(Redeliver::TaskMissing(id))
}

/// The work on one read of the task. Every stage works on the input (and
/// the context): a payload stored elsewhere is read back first.
async fn run<F, Fut>(
    engine: &TaskEngine,
    work: &F,
    envelope: Envelope,
    mut task: TaskInstance,
) -> Result<(), ApplyError>
where
    F: Fn(Envelope, TaskInstance) -> Fut,
    Fut: Future<Output = Result<(), ApplyError>>,
{
    record_task(&task);
    engine
        .load_payloads(&mut task, &[PayloadField::Input, PayloadField::Context])
        .await?;
    work(envelope, task).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineBuilder;
    use crate::in_memory::InMemoryHandles;
    use serde_json::json;
    use tel_core::domain::{Creation, NewTask, TaskDefinition};

    /// An execute-stage handler whose work takes `takes` (and fails, with
    /// `fails`), hiding its messages as the executor does.
    struct Slow {
        engine: Arc<TaskEngine>,
        takes: Duration,
        fails: bool,
    }

    #[async_trait]
    impl StageHandler for Slow {
        const NAME: &'static str = "slow";
        const STAGE: Stage = Stage::Execute;
        fn engine(&self) -> &TaskEngine {
            &self.engine
        }
        fn message_hiding(&self) -> Option<Hiding> {
            Some(Hiding {
                visibility: Duration::from_secs(45),
                renew_every: Duration::from_millis(400),
                failed: Duration::from_secs(30),
            })
        }
        async fn act(
            &self,
            _: TaskInstance,
            _: Arc<LoadedDefinition>,
            _: Delivery,
        ) -> Result<(), ApplyError> {
            tokio::time::sleep(self.takes).await;
            match self.fails {
                true => Err(ApplyError::NotAdmitted("for now".into())),
                false => Ok(()),
            }
        }
    }

    /// Two waiting tasks' execute messages, the first delivered again.
    async fn batch(takes: Duration) -> (Slow, InMemoryHandles, LambdaEvent<SqsEvent>) {
        let (builder, handles) = EngineBuilder::in_memory(Default::default());
        let engine = Arc::new(builder.build());
        let definition = TaskDefinition::parse(json!({
            "name": "d", "type": "automated",
            "implementation": { "kind": "system", "function": "echo" }
        }));
        let definition = engine.definitions().register(definition.unwrap()).await;
        let mut event = SqsEvent::default();
        for (i, count) in ["2", "1"].into_iter().enumerate() {
            let new = NewTask::of_step(
                ("d", definition.as_ref().unwrap().version),
                "wf",
                "s",
                json!({}),
            );
            let now = engine.now();
            let task = Creation::new(new, now, now).task;
            engine.tasks().create(&task).await.unwrap();
            let envelope = Envelope {
                task_instance_id: task.task_instance_id,
                stage: Stage::Execute,
                attempt: 0,
                run: Some(0),
                trace_id: None,
            };
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("m{i}"));
            record.receipt_handle = Some(format!("r{i}"));
            record.event_source_arn = Some("arn:aws:sqs:us-east-1:000000000000:execute".into());
            record.body = Some(envelope.to_body());
            record
                .attributes
                .insert("ApproximateReceiveCount".into(), count.into());
            event.records.push(record);
        }
        let handler = Slow {
            engine,
            takes,
            fails: false,
        };
        (
            handler,
            handles,
            LambdaEvent::new(event, Default::default()),
        )
    }

    #[tokio::test]
    async fn a_batch_hides_its_first_deliveries_while_it_works() {
        let (slow, handles, event) = batch(Duration::from_millis(100)).await;
        let response = slow.handle(event).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            handles.queue.hidden(),
            [("execute".to_owned(), "r1".to_owned(), 45)]
        );
    }

    /// While the batch runs, every message of it stays hidden, done or not:
    /// Lambda deletes them only when the invocation ends.
    #[tokio::test]
    async fn a_long_batch_keeps_every_message_hidden_while_it_runs() {
        let (slow, handles, event) = batch(Duration::from_millis(1000)).await;
        slow.handle(event).await.unwrap();
        let hidden = handles.queue.hidden();
        let hide = |r: &str| ("execute".to_owned(), r.to_owned(), 45);
        assert_eq!(hidden[0], hide("r1"));
        assert_eq!(
            hidden[1..5],
            [hide("r0"), hide("r1"), hide("r0"), hide("r1")]
        );
    }

    #[test]
    fn a_failed_record_waits_twice_as_long_after_each_delivery_up_to_a_quarter_hour() {
        let hiding = Hiding {
            visibility: Duration::from_secs(45),
            renew_every: Duration::from_secs(30),
            failed: Duration::from_secs(30),
        };
        let after = |n| hiding.after_failure(n).as_secs();
        assert_eq!(
            [after(1), after(2), after(3), after(5), after(6), after(99)],
            [30, 60, 120, 480, 900, 900]
        );
    }

    #[tokio::test]
    async fn records_left_for_redelivery_come_back_after_the_re_send_time() {
        let (mut failing, handles, event) = batch(Duration::from_millis(10)).await;
        failing.fails = true;
        let response = failing.handle(event).await.unwrap();
        assert_eq!(response.batch_item_failures.len(), 2);
        // The first delivery was hidden while the work went on; it comes
        // back after the re-send time, the one delivered before after twice
        // that.
        let hidden = handles.queue.hidden();
        let hide = |r: &str, seconds| ("execute".to_owned(), r.to_owned(), seconds);
        assert_eq!(hidden, [hide("r1", 45), hide("r1", 30), hide("r0", 60)]);
    }
}
