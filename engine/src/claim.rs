//! How an attempt claims its task. The executor writes RUNNING (attempt + 1,
//! a lease) before the attempt runs, so that the sweeper can end an attempt
//! whose executor died; then the attempt's end: two writes.
//!
//! A JavaScript attempt has no effect outside its sandbox (no network, no
//! clock it can move, nothing it can send), so running it twice changes
//! nothing but CPU time. On a message's first delivery it runs first, and
//! its start is written together with its end: one conditional write,
//! expecting the task as it was before the start, so a task cancelled or
//! moved on meanwhile keeps what it became and the outcome is dropped. That
//! is a third of an automated task's table writes (docs/cost.md).
//!
//! The start is still written on its own, while the attempt runs, once the
//! task's earliest deadline or wake-up is `WRITE_START_BEFORE` away: the
//! sweeper then finds it RUNNING under its lease, never waiting for a stage
//! message while an attempt runs unrecorded. A message delivered again (a
//! handler holding it died) takes the lease first, so a script that kills its
//! executor counts against its retries like any attempt that dies.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::stage::{Delivery, Hiding};
use crate::{ApplyError, TaskEngine};
use tel_core::domain::{Implementation, TaskDefinition, TaskInstance, Transition};

/// How long before the task's earliest deadline a held start is written on its own.
pub const WRITE_START_BEFORE: Duration = Duration::from_secs(5);

/// How much longer than the stage message's re-send time a first-delivered
/// execute message stays hidden (`hiding_of_first_deliveries`).
pub const FIRST_DELIVERY_MARGIN: Duration = Duration::from_secs(15);

/// How the executor hides the messages of a batch on their first delivery,
/// in place of the execute queue's visibility timeout (960 s by default:
/// Lambda wants it above the function's 900 s timeout). A task whose
/// request came through the queue is in no deadline index until an
/// attempt's lease is written (`Creation::kept_by_message`): if the executor
/// dies holding a start back, only the message brings the task back, and it
/// should within about a minute, as the sweeper would.
///
/// - For how long: a held start is written by the task's re-send time less
///   `WRITE_START_BEFORE`, at most `redeliver_after` after the message came;
///   the margin covers that write. Past it, the task is RUNNING under its
///   lease (in the index) or ended, and the message, if it comes back while
///   the attempt still runs, finds nothing to do.
/// - From when: at once, one `ChangeMessageVisibilityBatch` per batch made
///   while the work goes on ($0.40 per million batches). An executor that
///   dies before it is answered leaves its messages to the queue's timeout.
///   A message delivered again puts its task in the index
///   (`TaskEngine::keep_in_index`), so that can happen once per task at most.
/// - While the batch runs on, every `redeliver_after` all its messages are
///   hidden again: a message handled early in a long batch (Lambda deletes
///   it when the invocation ends) never comes back while it lives, so a
///   wait re-sent without a write (a full slot pool, an open breaker) is
///   not re-sent twice.
/// - A record left for redelivery (its work failed for now: a throttled
///   write, an unreachable store) comes back after `redeliver_after`, as the
///   sweeper would have re-sent it, not after the queue's 960 s: after
///   twice that, twice as long again after each delivery before
///   (`Hiding::after_failure`: 60, 120, 240, 480 s), so the four give-backs
///   before a message's fifth and last delivery span a quarter hour of an
///   outage.
pub fn hiding_of_first_deliveries(redeliver_after: Duration) -> Hiding {
    Hiding {
        visibility: redeliver_after + FIRST_DELIVERY_MARGIN,
        renew_every: redeliver_after.max(Duration::from_secs(1)),
        failed: redeliver_after * 2,
    }
}

/// An attempt's start: in the table, or held to be written with its end.
pub enum Claim {
    Written,
    Held {
        /// Boxed: a task is large beside nothing.
        start: Box<Transition>,
        /// When the start must be in the table, the attempt done or not.
        write_by: Option<DateTime<Utc>>,
    },
}

impl Claim {
    /// Whether an attempt of `definition` on `task` may hold its start back
    /// (`Some`), and until when (`Some(None)`: no deadline asks for it).
    /// Not while it holds concurrency slots: the sweeper gives back the slots
    /// of a task that is not RUNNING a minute after its last write
    /// (`repair_slots`), and a held start leaves the task as it was.
    pub fn may_hold(
        task: &TaskInstance,
        definition: &TaskDefinition,
        delivery: Delivery,
        holds_slots: bool,
        now: DateTime<Utc>,
    ) -> Option<Option<DateTime<Utc>>> {
        let sandboxed = matches!(
            definition.implementation,
            Some(Implementation::Javascript { .. })
        );
        if !sandboxed || !delivery.first || holds_slots {
            return None;
        }
        let earliest = [task.wake_at, task.next_deadline().map(|(_, at)| at)]
            .into_iter()
            .flatten()
            .min();
        let Some(earliest) = earliest else {
            return Some(None);
        };
        let write_by = earliest - chrono::Duration::from_std(WRITE_START_BEFORE).ok()?;
        (write_by > now).then_some(Some(write_by))
    }

    /// Awaits `attempt`. A held start whose time comes first is written
    /// then, while the attempt goes on; the task as written is returned
    /// beside the attempt's result (the attempt's own task is older).
    pub async fn attend<T>(
        &mut self,
        engine: &TaskEngine,
        attempt: impl Future<Output = T>,
    ) -> Result<(T, Option<TaskInstance>), ApplyError> {
        let Claim::Held {
            write_by: Some(at), ..
        } = self
        else {
            return Ok((attempt.await, None));
        };
        let wait = (*at - engine.now()).to_std().unwrap_or_default();
        tokio::pin!(attempt);
        tokio::select! {
            done = &mut attempt => return Ok((done, None)),
            () = tokio::time::sleep(wait) => {}
        }
        let Claim::Held { start, .. } = std::mem::replace(self, Claim::Written) else {
            unreachable!("matched above")
        };
        tracing::info!("the attempt runs on; its start is written before the task's deadline");
        let written = engine.write(*start).await?;
        Ok((attempt.await, Some(written)))
    }

    /// The start still to be written with the attempt's end, if any.
    pub fn held(self) -> Option<Transition> {
        match self {
            Claim::Written => None,
            Claim::Held { start, .. } => Some(*start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tel_core::domain::{Creation, NewTask, TaskDefinition};

    fn definition(implementation: serde_json::Value) -> TaskDefinition {
        TaskDefinition::parse(json!({
            "name": "d", "type": "automated", "implementation": implementation
        }))
        .unwrap()
    }

    fn created(now: DateTime<Utc>, redeliver_in: i64) -> TaskInstance {
        let new = NewTask::of_step(("d", 1), "wf", "s", json!({}));
        Creation::new(new, now, now + chrono::Duration::seconds(redeliver_in)).task
    }

    const FIRST: Delivery = Delivery { first: true };

    #[test]
    fn a_script_on_a_first_delivery_holds_its_start_until_before_its_earliest_deadline() {
        let now = Utc::now();
        let script =
            definition(json!({ "kind": "javascript", "source": "export default () => 1" }));
        let task = created(now, 30);
        assert_eq!(
            Claim::may_hold(&task, &script, FIRST, false, now),
            Some(Some(now + chrono::Duration::seconds(25)))
        );
        // An earlier wake-up than any deadline counts: the sweeper reads the task then.
        let mut woken = task.clone();
        woken.wake_at = Some(now + chrono::Duration::seconds(10));
        assert_eq!(
            Claim::may_hold(&woken, &script, FIRST, false, now),
            Some(Some(now + chrono::Duration::seconds(5)))
        );
        let mut free = task.clone();
        free.deadlines.clear();
        free.wake_at = None;
        assert_eq!(
            Claim::may_hold(&free, &script, FIRST, false, now),
            Some(None)
        );
    }

    #[test]
    fn the_start_is_written_first_when_anything_else_holds() {
        let now = Utc::now();
        let script =
            definition(json!({ "kind": "javascript", "source": "export default () => 1" }));
        // Delivered again: a handler holding the message died.
        let again = Delivery { first: false };
        assert_eq!(
            Claim::may_hold(&created(now, 30), &script, again, false, now),
            None
        );
        // Too close to a deadline to hold anything.
        assert_eq!(
            Claim::may_hold(&created(now, 5), &script, FIRST, false, now),
            None
        );
        assert_eq!(
            Claim::may_hold(&created(now, -1), &script, FIRST, false, now),
            None
        );
        // Code with effects outside the sandbox.
        let system = definition(json!({ "kind": "system", "function": "echo" }));
        assert_eq!(
            Claim::may_hold(&created(now, 30), &system, FIRST, false, now),
            None
        );
    }
}
