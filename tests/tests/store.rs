//! The task store port, held to one behaviour: every task-store test runs
//! the same steps on the in-memory fake (which the manual-clock tests rest
//! on) and on DynamoDB on the emulator (a fresh table), and expects the
//! same: conditional transitions and deadline writes, idempotent creation,
//! the three indexes with their order and pages, a change for every write,
//! the item size limit. Where they differed, the fake was fixed. Then the
//! definition versions (DynamoDB).

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tel_core::domain::{
    Action, Assignee, AssigneeType, Creation, DeadlineKind, DefinitionName, DefinitionRef, NewTask,
    TaskDefinition, TaskInstanceId, TaskStatus, transition,
};
use tel_core::fakes::InMemoryTaskStore;
use tel_core::ports::{PageRequest, StoreError, TaskChange, TaskFilter, TaskStore};
use tel_tests::TestStack;

/// The deadline index's shards, the same on both stores.
const SHARDS: u16 = 4;

/// Both stores, empty: (its name, the store, where its changes are read).
async fn both() -> Vec<(&'static str, Arc<dyn TaskStore>, Changes)> {
    let settings = tel_engine::config::Settings {
        deadline_shards: SHARDS,
        ..Default::default()
    };
    let stack = TestStack::with(Default::default(), settings).await.unwrap();
    let fake = Arc::new(InMemoryTaskStore::default().with_deadline_shards(SHARDS));
    vec![
        ("the in-memory store", fake.clone(), Changes::Recorded(fake)),
        (
            "DynamoDB",
            stack.engine.tasks().clone(),
            Changes::Stream(Box::new(stack)),
        ),
    ]
}

fn group(id: &str) -> Assignee {
    Assignee {
        kind: AssigneeType::Group,
        id: id.into(),
    }
}

fn user(id: &str) -> Assignee {
    Assignee {
        kind: AssigneeType::User,
        id: id.into(),
    }
}

/// A new task assigned to `who`, created at `at`.
fn assigned_to(who: &Assignee, at: chrono::DateTime<Utc>) -> tel_core::domain::TaskInstance {
    let assign = Action::Assign {
        assignee: who.clone(),
        due_at: None,
        schedule: None,
        escalated: false,
        by: None,
    };
    Creation::new(new_task("wf"), at, at)
        .then(assign, at)
        .unwrap()
        .task
}

/// Where a store's writes are seen: the fake records them, DynamoDB's
/// change stream carries them (the stack also keeps the table alive).
enum Changes {
    Recorded(Arc<InMemoryTaskStore>),
    Stream(Box<TestStack>),
}

impl Changes {
    /// Every write so far, oldest first.
    async fn all(&self) -> Vec<TaskChange> {
        match self {
            Self::Recorded(fake) => fake.take_changes(),
            Self::Stream(t) => {
                let arn = t.stack.table_stream_arn.as_deref().unwrap();
                let records = tel_tests::stream_records(&t.sdk, arn, None).await.unwrap();
                records
                    .iter()
                    .filter_map(|r| r.task_change())
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
        }
    }
}

fn new_task(workflow: &str) -> NewTask {
    NewTask {
        task_instance_id: TaskInstanceId::new(),
        definition_name: "double".into(),
        definition_version: 1,
        task_type: None,
        workflow_instance_id: workflow.into(),
        step_id: "s".into(),
        input: json!({ "n": 1 }),
        context: Value::Null,
        priority: 0,
        trace_id: None,
        requested_by: None,
        callback: None,
    }
}

#[tokio::test]
async fn two_concurrent_transitions_from_one_state_one_wins_one_conflicts() {
    for (store, tasks, _emulator) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let creation = Creation::new(new_task("wf"), now, now);
        tasks.create(&creation.task).await.unwrap();

        // Two executors read the same new task and both try to start it.
        let first = transition(&creation.task, Action::Start { lease_until: now }, now).unwrap();
        let second = transition(&creation.task, Action::Start { lease_until: now }, now).unwrap();
        let (a, b) = tokio::join!(tasks.commit(&first), tasks.commit(&second));
        let outcomes = [a, b];
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        let lost = outcomes.into_iter().find_map(Result::err).unwrap();
        assert!(
            matches!(
                lost,
                StoreError::Conflict {
                    expected_status: TaskStatus::Created,
                    expected_version: 1,
                    ..
                }
            ),
            "{lost:?}"
        );

        let stored = tasks
            .get(creation.task.task_instance_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.status, stored.attempt, stored.version),
            (TaskStatus::Running, 1, 2)
        );
        let history = tasks
            .get(stored.task_instance_id)
            .await
            .unwrap()
            .unwrap()
            .history;
        let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(
            actions,
            vec!["created", "started"],
            "one history entry per winning transition"
        );
    }
}

#[tokio::test]
async fn creating_an_existing_task_returns_it_unchanged() {
    for (store, tasks, _emulator) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let creation = Creation::new(new_task("wf"), now, now);
        let first = tasks.create(&creation.task).await.unwrap();
        assert!(first.created);
        let mut again = creation.clone();
        again.task.input = json!({ "n": 99 });
        let second = tasks.create(&again.task).await.unwrap();
        assert!(!second.created);
        assert_eq!(second.task.input, json!({ "n": 1 }));
        assert_eq!(
            tasks
                .get(creation.task.task_instance_id)
                .await
                .unwrap()
                .unwrap()
                .history
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn an_idempotency_key_names_one_task_so_a_repeat_writes_nothing() {
    for (store, tasks, _emulator) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let key = |k: &str| TaskInstanceId::derived(&format!("sqs:{k}"));
        assert_eq!(key("m-1"), key("m-1"));
        assert_ne!(key("m-1"), key("m-2"));
        let mut first = new_task("wf");
        first.task_instance_id = key("m-1");
        let mut repeat = new_task("wf-other");
        repeat.task_instance_id = key("m-1");
        let a = tasks
            .create(&Creation::new(first, now, now).task)
            .await
            .unwrap();
        let b = tasks
            .create(&Creation::new(repeat, now, now).task)
            .await
            .unwrap();
        assert!(a.created && !b.created);
        assert_eq!(
            b.task.workflow_instance_id, "wf",
            "the first request's task"
        );
    }
}

/// Every index entry is a write unit per task. An automated task's item
/// carries the keys of one index only, the deadline index, while it has a
/// deadline; no index holds it once it has ended (the `workflow` index is
/// gone: nothing read it; docs/data-model.md).
#[tokio::test]
async fn an_automated_task_is_in_the_deadline_index_only_and_in_none_once_ended() {
    let t = TestStack::new().await.unwrap();
    let now = Utc::now();
    let created = Creation::new(new_task("wf"), now, now + Duration::seconds(30)).task;
    t.engine.tasks().create(&created).await.unwrap();
    let index_keys = || t.index_keys(created.task_instance_id);
    assert_eq!(index_keys().await.unwrap(), ["GSI3PK", "GSI3SK"]);
    let started = transition(&created, Action::Start { lease_until: now }, now).unwrap();
    let done = started
        .then(
            Action::Complete {
                output: Some(json!({})),
                by: None,
            },
            now,
        )
        .unwrap();
    t.engine.tasks().commit(&done).await.unwrap();
    assert!(index_keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_inbox_index_lists_an_assignees_tasks_by_status() {
    for (store, tasks, _emulator) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let (finance, alice) = (group("finance"), user("alice"));
        let mut assigned = Vec::new();
        for who in [&finance, &finance, &alice] {
            let task = assigned_to(who, now);
            tasks.create(&task).await.unwrap();
            assigned.push(task);
        }
        // Alice claims the first finance task: it leaves the group's inbox for hers.
        let claimed = transition(&assigned[0], Action::Claim { by: "alice".into() }, now).unwrap();
        tasks.commit(&claimed).await.unwrap();

        let group = tasks
            .inbox(std::slice::from_ref(&finance), None, PageRequest::default())
            .await
            .unwrap();
        assert_eq!(
            group
                .items
                .iter()
                .map(|t| t.task_instance_id)
                .collect::<Vec<_>>(),
            vec![assigned[1].task_instance_id]
        );
        let hers = tasks
            .inbox(std::slice::from_ref(&alice), None, PageRequest::default())
            .await
            .unwrap();
        assert_eq!(hers.items.len(), 2);
        let hers_claimed = tasks
            .inbox(
                std::slice::from_ref(&alice),
                Some(TaskStatus::Claimed),
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            hers_claimed
                .items
                .iter()
                .map(|t| t.task_instance_id)
                .collect::<Vec<_>>(),
            vec![assigned[0].task_instance_id]
        );
        let bob = user("bob");
        assert!(
            tasks
                .inbox(std::slice::from_ref(&bob), None, PageRequest::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }
}

#[tokio::test]
async fn the_deadline_index_holds_only_pending_deadlines_and_returns_due_ones() {
    for (store, tasks, _emulator) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let past = now - Duration::seconds(5);
        let future = now + Duration::hours(1);
        let due = Creation::new(new_task("wf"), now, past);
        let later = Creation::new(new_task("wf"), now, future);
        for c in [&due, &later] {
            tasks.create(&c.task).await.unwrap();
        }
        let due_ids = all_due_tasks(tasks.as_ref()).await;
        assert!(due_ids.contains(&due.task.task_instance_id));
        assert!(
            !due_ids.contains(&later.task.task_instance_id),
            "not due yet"
        );

        // A terminal transition clears the deadline, and the task leaves the index.
        let failed = transition(
            &due.task,
            Action::Fail {
                error: tel_core::domain::TaskError::new("EXECUTION_ERROR", "x"),
            },
            now,
        )
        .unwrap();
        assert!(failed.task.deadlines.is_empty());
        tasks.commit(&failed).await.unwrap();
        let due_after = all_due_tasks(tasks.as_ref()).await;
        assert!(!due_after.contains(&due.task.task_instance_id));

        // A transition that moves the deadline earlier moves the index entry with it.
        let sooner =
            transition(&later.task, Action::Redeliver { redeliver_at: past }, now).unwrap();
        assert_eq!(
            sooner.task.next_deadline().unwrap().0,
            DeadlineKind::Redeliver
        );
        tasks.commit(&sooner).await.unwrap();
        assert!(
            all_due_tasks(tasks.as_ref())
                .await
                .contains(&later.task.task_instance_id)
        );

        // One that moves it later leaves the index entry (no index write): the
        // sweeper, woken early, moves it with `reschedule`, without a transition.
        let postponed = transition(
            &sooner.task,
            Action::Redeliver {
                redeliver_at: future,
            },
            now,
        )
        .unwrap();
        assert_eq!(postponed.task.wake_at, Some(past));
        tasks.commit(&postponed).await.unwrap();
        let stored = tasks
            .get(later.task.task_instance_id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            all_due_tasks(tasks.as_ref())
                .await
                .contains(&stored.task_instance_id)
        );
        tasks.reschedule(&stored, Some(future)).await.unwrap();
        assert!(
            !all_due_tasks(tasks.as_ref())
                .await
                .contains(&stored.task_instance_id)
        );
        let rescheduled = tasks.get(stored.task_instance_id).await.unwrap().unwrap();
        assert_eq!(rescheduled.version, stored.version, "not a transition");
        assert_eq!(rescheduled.wake_at, Some(past_millis(future)));
        // A stale reschedule (the task moved on since it was read) is refused.
        let stale = tasks.reschedule(&later.task, None).await.unwrap_err();
        assert!(stale.is_conflict(), "{stale}");
    }
}

/// A time as the deadline index keeps it: to the millisecond.
fn past_millis(at: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap()
}

async fn all_due_tasks(tasks: &dyn TaskStore) -> Vec<TaskInstanceId> {
    let mut ids = Vec::new();
    for shard in 0..SHARDS {
        for item in tasks.due(shard, Utc::now(), 100).await.unwrap() {
            ids.push(item.task_instance_id);
        }
    }
    ids
}

#[tokio::test]
async fn deadline_writes_need_the_version_they_read_and_are_no_transition() {
    for (store, tasks, _changes) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let c = Creation::new(new_task("wf"), now, now + Duration::minutes(1));
        tasks.create(&c.task).await.unwrap();
        let started = transition(&c.task, Action::Start { lease_until: now }, now).unwrap();
        tasks.commit(&started).await.unwrap();

        // Read before the start: its version is gone.
        let mut stale = c.task.clone();
        stale.deadlines.insert(DeadlineKind::Heartbeat, now);
        let refused = tasks.update_deadlines(&stale).await.unwrap_err();
        assert!(refused.is_conflict(), "{refused}");

        let mut moved = started.task.clone();
        let at = now + Duration::minutes(9);
        moved.deadlines.insert(DeadlineKind::Heartbeat, at);
        moved.schedule_wake(None);
        tasks.update_deadlines(&moved).await.unwrap();
        let stored = tasks.get(moved.task_instance_id).await.unwrap().unwrap();
        assert_eq!(stored.version, started.task.version, "not a transition");
        assert_eq!(stored.deadlines[&DeadlineKind::Heartbeat], at);
        assert_eq!(stored.history.len(), 2);
    }
}

#[tokio::test]
async fn every_write_is_one_change_and_only_transitions_add_history() {
    for (store, tasks, changes) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let c = Creation::new(new_task("wf"), now, now + Duration::minutes(1));
        let id = c.task.task_instance_id;
        tasks.create(&c.task).await.unwrap();
        // A repeated creation writes nothing.
        tasks.create(&c.task).await.unwrap();
        let started = transition(&c.task, Action::Start { lease_until: now }, now).unwrap();
        tasks.commit(&started).await.unwrap();
        // A refused write is no change either.
        let late = transition(&c.task, Action::Start { lease_until: now }, now).unwrap();
        assert!(tasks.commit(&late).await.is_err());
        tasks
            .reschedule(&started.task, Some(now + Duration::hours(1)))
            .await
            .unwrap();

        let seen: Vec<(u64, u64, usize)> = changes
            .all()
            .await
            .into_iter()
            .filter(|c| c.task.task_instance_id == id)
            .map(|c| (c.previous_version, c.task.version, c.new_entries().count()))
            .collect();
        assert_eq!(seen, [(0, 1, 1), (1, 2, 1), (2, 2, 0)]);
    }
}

#[tokio::test]
async fn every_listing_hands_out_each_task_once_across_pages() {
    for (store, tasks, _changes) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let (finance, alice) = (group("finance"), user("alice"));
        let mut ids = Vec::new();
        for (i, who) in [&finance, &alice, &finance, &alice, &finance]
            .iter()
            .enumerate()
        {
            let task = assigned_to(who, now + Duration::milliseconds(i as i64 * 10));
            tasks.create(&task).await.unwrap();
            ids.push(task.task_instance_id);
        }
        // Alice claims the third: CLAIMED sorts after ASSIGNED in her inbox.
        let third = tasks.get(ids[2]).await.unwrap().unwrap();
        let claimed = transition(&third, Action::Claim { by: "alice".into() }, now).unwrap();
        tasks.commit(&claimed).await.unwrap();

        let mut inbox = Vec::new();
        let mut cursor = None;
        loop {
            let page = tasks
                .inbox(
                    &[alice.clone(), finance.clone()],
                    None,
                    PageRequest {
                        limit: Some(2),
                        cursor,
                    },
                )
                .await
                .unwrap();
            assert!(page.items.len() <= 2);
            inbox.extend(page.items.iter().map(|t| t.task_instance_id));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        // By status, then age: the four ASSIGNED oldest first, then the CLAIMED one.
        assert_eq!(inbox, [ids[0], ids[1], ids[3], ids[4], ids[2]]);

        let mut listed = Vec::new();
        let mut cursor = None;
        loop {
            let filter = TaskFilter {
                status: Some(TaskStatus::Assigned),
                definition_name: Some("double".into()),
            };
            let request = PageRequest {
                limit: Some(3),
                cursor,
            };
            let page = tasks.list(&filter, request).await.unwrap();
            listed.extend(page.items.iter().map(|t| t.task_instance_id));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        listed.sort();
        let mut assigned = vec![ids[0], ids[1], ids[3], ids[4]];
        assigned.sort();
        assert_eq!(listed, assigned, "each once, in no set order");

        let forged = PageRequest {
            limit: None,
            cursor: Some("not-a-cursor".into()),
        };
        let refused = tasks
            .inbox(std::slice::from_ref(&alice), None, forged)
            .await;
        assert!(
            matches!(refused, Err(StoreError::InvalidCursor)),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn the_deadline_index_gives_each_due_task_once_earliest_first_within_the_limit() {
    for (store, tasks, _changes) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let mut due = Vec::new();
        for i in 0..8 {
            let at = now - Duration::seconds(60 - i);
            let c = Creation::new(new_task("wf"), now, at);
            tasks.create(&c.task).await.unwrap();
            due.push(c.task.task_instance_id);
        }
        let later = Creation::new(new_task("wf"), now, now + Duration::hours(1));
        tasks.create(&later.task).await.unwrap();

        let mut seen = Vec::new();
        for shard in 0..SHARDS {
            let items = tasks.due(shard, now, 100).await.unwrap();
            let order: Vec<i64> = items.iter().map(|d| d.at_millis).collect();
            assert!(order.is_sorted(), "earliest first: {order:?}");
            assert!(tasks.due(shard, now, 1).await.unwrap().len() <= 1);
            seen.extend(items.iter().map(|d| d.task_instance_id));
        }
        seen.sort();
        due.sort();
        assert_eq!(seen, due, "each due task once, across the shards");
    }
}

#[tokio::test]
async fn a_record_over_the_item_limit_is_refused_as_too_large() {
    for (store, tasks, _changes) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let mut big = new_task("wf");
        big.input = json!({ "text": "x".repeat(500 * 1024) });
        let refused = tasks
            .create(&Creation::new(big, now, now).task)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, StoreError::TooLarge { limit: 409_600, .. }),
            "{refused:?}"
        );
        let mut fits = new_task("wf");
        fits.input = json!({ "text": "x".repeat(300 * 1024) });
        let created = tasks.create(&Creation::new(fits, now, now).task).await;
        assert!(created.unwrap().created);
    }
}

#[tokio::test]
async fn definition_versions_are_immutable_and_latest_resolves() {
    let t = TestStack::new().await.unwrap();
    let store = t.engine.definitions().store();
    let v1 = json!({ "name": "double", "type": "automated", "implementation": { "kind": "javascript", "source": "export default (i) => i" } });
    let mut v2 = v1.clone();
    v2["timeoutSeconds"] = json!(5);
    let first = store
        .register(TaskDefinition::parse(v1.clone()).unwrap())
        .await
        .unwrap();
    let second = store
        .register(TaskDefinition::parse(v2).unwrap())
        .await
        .unwrap();
    assert_eq!((first.version, second.version), (1, 2));
    // The same content as the latest version registers nothing new.
    let again = store
        .register(TaskDefinition::parse(v1.clone()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        again.version, 3,
        "v1's content differs from the latest (v2), so it is a new version"
    );
    let same = store
        .register(TaskDefinition::parse(v1.clone()).unwrap())
        .await
        .unwrap();
    assert_eq!(same.version, 3);
    // An explicit version that exists with other content is refused.
    let mut clash = v1.clone();
    clash["version"] = json!(1);
    clash["timeoutSeconds"] = json!(9);
    let err = store
        .register(TaskDefinition::parse(clash).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::VersionExists { version: 1, .. }),
        "{err}"
    );

    let name = DefinitionName::parse("double").unwrap();
    let latest = store
        .get(&DefinitionRef {
            name: name.clone(),
            version: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.version, 3);
    let exact = store
        .get(&DefinitionRef::parse("double:2").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exact.timeout_seconds, 5);
    assert_eq!(store.versions(&name).await.unwrap(), vec![1, 2, 3]);
    assert!(
        store
            .get(&DefinitionRef::parse("missing").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// A new task of `priority` assigned to `who` at `at`, due at `due`.
fn assigned_with(
    who: &Assignee,
    at: chrono::DateTime<Utc>,
    due: Option<chrono::DateTime<Utc>>,
    priority: i32,
) -> tel_core::domain::TaskInstance {
    assigned_as(
        NewTask {
            priority,
            ..new_task("wf")
        },
        who,
        at,
        due,
        None,
    )
}

/// `new`, created at `at` and assigned to `who` (by `settings`, if given).
fn assigned_as(
    new: NewTask,
    who: &Assignee,
    at: chrono::DateTime<Utc>,
    due: Option<chrono::DateTime<Utc>>,
    settings: Option<tel_core::domain::manual::ManualSettings>,
) -> tel_core::domain::TaskInstance {
    let assign = Action::Assign {
        assignee: who.clone(),
        due_at: due,
        schedule: settings,
        escalated: false,
        by: None,
    };
    Creation::new(new, at, at).then(assign, at).unwrap().task
}

#[tokio::test]
async fn the_view_indexes_order_each_view_and_hand_out_each_task_once() {
    use tel_core::ports::{DueWindow, InboxSort, InboxView, ViewQuery};
    for (store, tasks, _emulator) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let at = |s: i64| now + Duration::seconds(s);
        let (finance, alice) = (group("finance"), user("alice"));
        // The group's: (created, due, priority).
        let spec = [
            (0, Some(3600), 1),
            (1, None, 9),
            (2, Some(-60), 5),
            (3, Some(600), 5),
            (4, Some(-600), 0),
        ];
        let mut group_tasks = Vec::new();
        for (created, due, priority) in spec {
            let task = assigned_with(&finance, at(created), due.map(at), priority);
            tasks.create(&task).await.unwrap();
            group_tasks.push(task.task_instance_id);
        }
        let own = assigned_with(&alice, at(5), Some(at(300)), 0);
        tasks.create(&own).await.unwrap();
        // Alice claims the group's first task and completes its second after claiming it.
        let mut claimed = Vec::new();
        for i in [0, 1] {
            let task = tasks.get(group_tasks[i]).await.unwrap().unwrap();
            let t = transition(&task, Action::Claim { by: "alice".into() }, at(10)).unwrap();
            tasks.commit(&t).await.unwrap();
            claimed.push(t.task);
        }
        let done = transition(
            &claimed[1],
            Action::Complete {
                output: Some(json!({})),
                by: Some("alice".into()),
            },
            at(20),
        )
        .unwrap();
        tasks.commit(&done).await.unwrap();

        let query = |view, sort, due: Option<DueWindow>| ViewQuery {
            user: "alice".into(),
            groups: vec!["finance".into(), "nobody-else".into()],
            view,
            sort,
            due,
            definition: None,
            search: None,
            page: PageRequest::default(),
        };
        let g = &group_tasks;
        let cases = [
            // The group's unclaimed: 2, 3, 4 (0 and 1 were claimed).
            (
                query(InboxView::Unclaimed, InboxSort::Due, None),
                vec![g[4], g[2], g[3]],
            ),
            (
                query(InboxView::Unclaimed, InboxSort::Priority, None),
                vec![g[2], g[3], g[4]],
            ),
            (
                query(InboxView::Unclaimed, InboxSort::Created, None),
                vec![g[2], g[3], g[4]],
            ),
            (
                query(
                    InboxView::Unclaimed,
                    InboxSort::Priority,
                    Some(DueWindow {
                        from: None,
                        to: now,
                    }),
                ),
                vec![g[4], g[2]],
            ),
            // Hers: her own (due in 5 min) and the claimed one (due in an hour).
            (
                query(InboxView::Mine, InboxSort::Due, None),
                vec![own.task_instance_id, g[0]],
            ),
            (
                query(InboxView::Mine, InboxSort::Created, None),
                vec![g[0], own.task_instance_id],
            ),
            (
                query(InboxView::Completed, InboxSort::Due, None),
                vec![g[1]],
            ),
        ];
        for (q, expected) in cases {
            assert_view(tasks.as_ref(), store, &q, &expected).await;
        }
        // Bob sees none of it.
        let bobs = ViewQuery {
            user: "bob".into(),
            groups: vec![],
            ..query(InboxView::Mine, InboxSort::Due, None)
        };
        assert!(tasks.view(&bobs).await.unwrap().items.is_empty());
    }
}

/// `q` reads exactly `expected`, in order: whole, counted, and one task a
/// page (each once).
async fn assert_view(
    tasks: &dyn TaskStore,
    store: &str,
    q: &tel_core::ports::ViewQuery,
    expected: &[TaskInstanceId],
) {
    use tel_core::ports::ViewQuery;
    let ids = |page: &tel_core::ports::ViewPage| {
        page.items
            .iter()
            .map(|t| t.task_instance_id)
            .collect::<Vec<_>>()
    };
    let whole = tasks.view(q).await.unwrap();
    assert_eq!(ids(&whole), expected, "{store}: {q:?}");
    assert_eq!(whole.next_cursor, None);
    let count = tasks.view_count(q).await.unwrap();
    if q.due.is_none() {
        assert_eq!(count.count as usize, expected.len(), "{store}: {q:?}");
        assert!(!count.more);
    }
    let mut paged = Vec::new();
    let mut page = PageRequest {
        limit: Some(1),
        cursor: None,
    };
    loop {
        let one = tasks
            .view(&ViewQuery {
                page: page.clone(),
                ..q.clone()
            })
            .await
            .unwrap();
        paged.extend(ids(&one));
        match one.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
        assert!(paged.len() <= expected.len(), "{store}: pages repeat");
    }
    assert_eq!(paged, expected, "{store}: paged {q:?}");
}

/// A task of `definition` with `input`, assigned to `who` by settings that
/// make `employee` (text) and `amount` (number) searchable.
fn searchable_task(
    definition: &str,
    who: &Assignee,
    at: chrono::DateTime<Utc>,
    due: Option<chrono::DateTime<Utc>>,
    priority: i32,
    input: Value,
) -> tel_core::domain::TaskInstance {
    let settings = serde_json::from_value(json!({
        "assignment": { "strategy": "group", "id": "finance" },
        "searchable": { "employee": "text", "amount": "number" }
    }))
    .unwrap();
    let new = NewTask {
        priority,
        definition_name: definition.into(),
        input,
        ..new_task("wf")
    };
    assigned_as(new, who, at, due, Some(settings))
}

#[tokio::test]
async fn filtered_views_and_searches_read_the_search_entries_the_stream_files() {
    use tel_core::domain::{FieldKind, FieldSearch, Predicate};
    use tel_core::ports::{DueWindow, InboxSort, InboxView, ViewQuery};
    for (store, tasks, changes) in both().await {
        eprintln!("on {store}");
        let now = Utc::now();
        let at = |s: i64| now + Duration::seconds(s);
        let (finance, alice) = (group("finance"), user("alice"));
        let made = |def: &str,
                    who: &Assignee,
                    created,
                    due: Option<i64>,
                    priority,
                    employee: &str,
                    amount: f64| {
            searchable_task(
                def,
                who,
                at(created),
                due.map(at),
                priority,
                json!({ "employee": employee, "amount": amount }),
            )
        };
        let e1 = made("expense", &finance, 0, Some(3600), 1, "Alice Smith", 120.0);
        let e2 = made("expense", &finance, 1, Some(60), 9, "alan", 80.0);
        let e3 = made("expense", &finance, 2, None, 0, "Bob", 500.0);
        let e4 = made("expense", &alice, 3, Some(600), 0, "Alice Smith", 300.0);
        let e5 = made("expense", &finance, 4, Some(30), 0, "ALICE SMITH", 120.0);
        let l1 = made("leave", &finance, 5, None, 0, "alice smith", 1.0);
        for task in [&e1, &e2, &e3, &e4, &e5, &l1] {
            tasks.create(task).await.unwrap();
        }
        // Alice claims e2 and e3, and completes e3.
        for task in [&e2, &e3] {
            let t = transition(task, Action::Claim { by: "alice".into() }, at(10)).unwrap();
            tasks.commit(&t).await.unwrap();
            if task == &e3 {
                let done = transition(
                    &t.task,
                    Action::Complete {
                        output: Some(json!({})),
                        by: Some("alice".into()),
                    },
                    at(20),
                )
                .unwrap();
                tasks.commit(&done).await.unwrap();
            }
        }
        // What the publisher does for each write the stream carries.
        for change in changes.all().await {
            let filed = change.filed();
            if filed != change.previously_filed {
                tasks
                    .file_search(
                        change.task.task_instance_id,
                        change.previously_filed.as_ref(),
                        filed.as_ref(),
                    )
                    .await
                    .unwrap();
            }
        }
        let query = |view, definition: &str, sort| ViewQuery {
            user: "alice".into(),
            groups: vec!["finance".into(), "nobody-else".into()],
            view,
            sort,
            due: None,
            definition: Some(definition.into()),
            search: None,
            page: PageRequest::default(),
        };
        let searched = |view, field: &str, kind, predicate| ViewQuery {
            search: Some(FieldSearch::new(field, kind, predicate).unwrap()),
            ..query(view, "expense", InboxSort::Due)
        };
        let text = |p: Predicate| (FieldKind::Text, p);
        let id = |t: &tel_core::domain::TaskInstance| t.task_instance_id;
        // Equal keys come in id order.
        let mut same_name = vec![id(&e1), id(&e5)];
        same_name.sort_by_key(|i| i.to_string());
        let range = |min: Option<&str>, max: Option<&str>| Predicate::Range {
            min: min.map(Into::into),
            max: max.map(Into::into),
        };
        let cases = vec![
            (
                query(InboxView::Unclaimed, "expense", InboxSort::Due),
                vec![id(&e5), id(&e1)],
            ),
            (
                query(InboxView::Unclaimed, "expense", InboxSort::Priority),
                vec![id(&e1), id(&e5)],
            ),
            (
                query(InboxView::Unclaimed, "expense", InboxSort::Created),
                vec![id(&e1), id(&e5)],
            ),
            (
                query(InboxView::Unclaimed, "leave", InboxSort::Due),
                vec![id(&l1)],
            ),
            (
                query(InboxView::Mine, "expense", InboxSort::Due),
                vec![id(&e2), id(&e4)],
            ),
            (
                query(InboxView::Completed, "expense", InboxSort::Due),
                vec![id(&e3)],
            ),
            (query(InboxView::Completed, "leave", InboxSort::Due), vec![]),
            (
                ViewQuery {
                    due: Some(DueWindow {
                        from: None,
                        to: at(120),
                    }),
                    ..query(InboxView::Unclaimed, "expense", InboxSort::Due)
                },
                vec![id(&e5)],
            ),
            {
                let (kind, p) = text(Predicate::Equals("alice smith".into()));
                (
                    searched(InboxView::Unclaimed, "employee", kind, p),
                    same_name.clone(),
                )
            },
            {
                let (kind, p) = text(Predicate::Prefix("Al".into()));
                (
                    searched(InboxView::Unclaimed, "employee", kind, p),
                    same_name.clone(),
                )
            },
            {
                let (kind, p) = text(Predicate::Prefix("al".into()));
                (
                    searched(InboxView::Mine, "employee", kind, p),
                    vec![id(&e2), id(&e4)],
                )
            },
            (
                searched(
                    InboxView::Mine,
                    "amount",
                    FieldKind::Number,
                    range(Some("100"), None),
                ),
                vec![id(&e4)],
            ),
            (
                searched(
                    InboxView::Unclaimed,
                    "amount",
                    FieldKind::Number,
                    range(Some("100"), Some("120")),
                ),
                same_name.clone(),
            ),
            {
                let (kind, p) = text(Predicate::Equals("BOB".into()));
                (
                    searched(InboxView::Completed, "employee", kind, p),
                    vec![id(&e3)],
                )
            },
            {
                let (kind, p) = text(Predicate::Prefix("bo".into()));
                (searched(InboxView::Unclaimed, "employee", kind, p), vec![])
            },
        ];
        for (q, expected) in cases {
            assert_view(tasks.as_ref(), store, &q, &expected).await;
        }
        // Bob finds none of it, by any field.
        let bobs = ViewQuery {
            user: "bob".into(),
            groups: vec![],
            ..searched(
                InboxView::Mine,
                "amount",
                FieldKind::Number,
                range(None, None),
            )
        };
        assert!(tasks.view(&bobs).await.unwrap().items.is_empty());
    }
}

#[tokio::test]
async fn a_notice_claim_is_its_senders_alone_and_a_stale_one_is_taken_over() {
    use tel_core::ports::{NoticeClaim, NoticeLedger};
    let stack = TestStack::new().await.unwrap();
    let fake = Arc::new(InMemoryTaskStore::default());
    let ledgers: Vec<(&str, Arc<dyn NoticeLedger>)> = vec![
        ("the in-memory store", fake),
        ("DynamoDB", stack.engine.notices().clone()),
    ];
    for (store, ledger) in ledgers {
        let t0 = Utc::now();
        let expires = t0 + Duration::days(15);
        let key = format!("{}/assigned/email/ann", TaskInstanceId::new());
        let claim = |at, stale_before| ledger.claim(&key, at, stale_before, expires);
        assert_eq!(
            claim(t0, t0 - Duration::seconds(90)).await.unwrap(),
            NoticeClaim::Claimed
        );
        // Another delivery while the first sends: busy.
        let t1 = t0 + Duration::seconds(10);
        assert_eq!(
            claim(t1, t1 - Duration::seconds(90)).await.unwrap(),
            NoticeClaim::Busy,
            "{store}"
        );
        // The first sender died: 90 s later its claim is taken over.
        let t2 = t0 + Duration::seconds(100);
        assert_eq!(
            claim(t2, t2 - Duration::seconds(90)).await.unwrap(),
            NoticeClaim::Claimed,
            "{store}"
        );
        // The old sender, back, can neither give the new claim up nor mark it.
        ledger.release(&key, t0).await.unwrap();
        ledger.mark_sent(&key, t0).await.unwrap();
        let t3 = t0 + Duration::seconds(110);
        assert_eq!(
            claim(t3, t3 - Duration::seconds(90)).await.unwrap(),
            NoticeClaim::Busy,
            "{store}"
        );
        ledger.mark_sent(&key, t2).await.unwrap();
        let t4 = t0 + Duration::seconds(500);
        assert_eq!(
            claim(t4, t4 - Duration::seconds(90)).await.unwrap(),
            NoticeClaim::Sent,
            "{store}"
        );
        // A claim given back by its sender is claimed again at once.
        let other = format!("{key}-2");
        assert_eq!(
            ledger.claim(&other, t0, t0, expires).await.unwrap(),
            NoticeClaim::Claimed
        );
        ledger.release(&other, t0).await.unwrap();
        assert_eq!(
            ledger.claim(&other, t1, t0, expires).await.unwrap(),
            NoticeClaim::Claimed,
            "{store}"
        );
    }
}

/// A turn taken again by its taker (an `UpdateItem` applied but answered
/// with an error and retried, a redelivered assignment nobody overtook) is
/// the same turn, so round-robin skips no one; another taker moves on.
#[tokio::test]
async fn a_turn_taken_again_by_its_taker_is_the_same_turn() {
    use tel_core::ports::AssignmentState;
    let stack = TestStack::new().await.unwrap();
    let states: Vec<(&str, Arc<dyn AssignmentState>)> = vec![
        (
            "the in-memory store",
            Arc::new(InMemoryTaskStore::default()),
        ),
        ("DynamoDB", stack.engine.assignment().clone()),
    ];
    for (store, state) in states {
        let (a, b) = (
            TaskInstanceId::new().to_string(),
            TaskInstanceId::new().to_string(),
        );
        let mut turns = Vec::new();
        for taker in [&a, &a, &b, &b, &a] {
            turns.push(state.next_turn("round-robin#review", taker).await.unwrap());
        }
        assert_eq!(turns, [1, 1, 2, 2, 3], "{store}");
        // Counters are apart.
        assert_eq!(
            state.next_turn("least-loaded#review", &a).await.unwrap(),
            1,
            "{store}"
        );
    }
}

/// A stack upgraded from before the compact history runs old and new code
/// side by side for a while (docs/deploy.md): a history written either way
/// is read by a store that writes the other, and moved on by it.
#[tokio::test]
async fn a_history_written_either_way_is_read_and_moved_on_by_a_store_writing_the_other() {
    use tel_aws::dynamo::HistoryFormat;
    let objects = TestStack::with(
        Default::default(),
        tel_engine::config::Settings {
            history_format: HistoryFormat::Objects,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = aws_sdk_dynamodb::Client::new(&objects.sdk);
    let table = objects.stack.table_name.clone();
    let compact: Arc<dyn TaskStore> =
        Arc::new(tel_aws::DynamoTaskStore::new(client.clone(), &table));
    let stored_history = |id: TaskInstanceId| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key(
                    "PK",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("TASK#{id}")),
                )
                .key(
                    "SK",
                    aws_sdk_dynamodb::types::AttributeValue::S("TASK".into()),
                )
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            item["history"].as_s().unwrap().clone()
        }
    };
    // The stack's clock keeps milliseconds, as the deadline index does.
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
    let created = Creation::new(
        NewTask::of_step(("double", 1), "wf-upgrade", "s", json!({ "n": 1 })),
        now,
        now,
    )
    .task;
    let id = created.task_instance_id;
    objects.engine.tasks().create(&created).await.unwrap();
    assert!(
        stored_history(id).await.starts_with("[{"),
        "the old spelling"
    );
    assert_eq!(compact.get(id).await.unwrap().unwrap(), created);

    let started = transition(&created, Action::Start { lease_until: now }, now).unwrap();
    compact.commit(&started).await.unwrap();
    assert!(
        stored_history(id).await.starts_with("[["),
        "the compact spelling"
    );
    assert_eq!(
        objects.engine.tasks().get(id).await.unwrap().unwrap(),
        started.task
    );
    let done = transition(
        &started.task,
        Action::Complete {
            output: Some(json!({ "n": 2 })),
            by: None,
        },
        now,
    )
    .unwrap();
    objects.engine.tasks().commit(&done).await.unwrap();
    assert_eq!(compact.get(id).await.unwrap().unwrap(), done.task);
}
