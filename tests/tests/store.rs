//! The DynamoDB store against the emulator: conditional transitions,
//! idempotent creation, the three indexes, and definition versions.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tel_core::domain::{
    Action, Assignee, AssigneeType, Creation, DeadlineKind, DefinitionName, DefinitionRef, NewTask,
    TaskDefinition, TaskInstanceId, TaskStatus, transition,
};
use tel_core::ports::{PageRequest, StoreError};
use tel_tests::TestStack;

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
    let t = TestStack::new().await.unwrap();
    let now = Utc::now();
    let creation = Creation::new(new_task("wf"), now, now);
    t.engine.tasks().create(&creation.task).await.unwrap();

    // Two executors read the same new task and both try to start it.
    let first = transition(&creation.task, Action::Start { lease_until: now }, now).unwrap();
    let second = transition(&creation.task, Action::Start { lease_until: now }, now).unwrap();
    let (a, b) = tokio::join!(
        t.engine.tasks().commit(&first),
        t.engine.tasks().commit(&second)
    );
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

    let stored = t.task(creation.task.task_instance_id).await.unwrap();
    assert_eq!(
        (stored.status, stored.attempt, stored.version),
        (TaskStatus::Running, 1, 2)
    );
    let history = t.history(stored.task_instance_id).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["created", "started"],
        "one history entry per winning transition"
    );
}

#[tokio::test]
async fn creating_an_existing_task_returns_it_unchanged() {
    let t = TestStack::new().await.unwrap();
    let now = Utc::now();
    let creation = Creation::new(new_task("wf"), now, now);
    let first = t.engine.tasks().create(&creation.task).await.unwrap();
    assert!(first.created);
    let mut again = creation.clone();
    again.task.input = json!({ "n": 99 });
    let second = t.engine.tasks().create(&again.task).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.task.input, json!({ "n": 1 }));
    assert_eq!(
        t.history(creation.task.task_instance_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_idempotency_key_names_one_task_so_a_repeat_writes_nothing() {
    let t = TestStack::new().await.unwrap();
    let now = Utc::now();
    let key = |k: &str| TaskInstanceId::derived(&format!("sqs:{k}"));
    assert_eq!(key("m-1"), key("m-1"));
    assert_ne!(key("m-1"), key("m-2"));
    let mut first = new_task("wf");
    first.task_instance_id = key("m-1");
    let mut repeat = new_task("wf-other");
    repeat.task_instance_id = key("m-1");
    let a = t
        .engine
        .tasks()
        .create(&Creation::new(first, now, now).task)
        .await
        .unwrap();
    let b = t
        .engine
        .tasks()
        .create(&Creation::new(repeat, now, now).task)
        .await
        .unwrap();
    assert!(a.created && !b.created);
    assert_eq!(
        b.task.workflow_instance_id, "wf",
        "the first request's task"
    );
}

#[tokio::test]
async fn the_workflow_index_lists_a_workflows_tasks_in_order_with_pages() {
    let t = TestStack::new().await.unwrap();
    let now = Utc::now();
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = now + Duration::milliseconds(i);
        let c = Creation::new(new_task("wf-a"), created, created);
        ids.push(c.task.task_instance_id);
        t.engine.tasks().create(&c.task).await.unwrap();
    }
    t.engine
        .tasks()
        .create(&Creation::new(new_task("wf-b"), now, now).task)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = t
            .engine
            .tasks()
            .tasks_of_workflow(
                "wf-a",
                PageRequest {
                    limit: Some(2),
                    cursor,
                },
            )
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|t| t.task_instance_id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids);
}

#[tokio::test]
async fn the_inbox_index_lists_an_assignees_tasks_by_status() {
    let t = TestStack::new().await.unwrap();
    let now = Utc::now();
    let finance = Assignee {
        kind: AssigneeType::Group,
        id: "finance".into(),
    };
    let alice = Assignee {
        kind: AssigneeType::User,
        id: "alice".into(),
    };
    let mut assigned = Vec::new();
    for who in [&finance, &finance, &alice] {
        let c = Creation::new(new_task("wf"), now, now)
            .then(
                Action::Assign {
                    assignee: who.clone(),
                    due_at: None,
                    schedule: None,
                    escalated: false,
                    by: None,
                },
                now,
            )
            .unwrap();
        t.engine.tasks().create(&c.task).await.unwrap();
        assigned.push(c.task);
    }
    // Alice claims the first finance task: it leaves the group's inbox for hers.
    let claimed = transition(&assigned[0], Action::Claim { by: "alice".into() }, now).unwrap();
    t.engine.tasks().commit(&claimed).await.unwrap();

    let group = t
        .engine
        .tasks()
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
    let hers = t
        .engine
        .tasks()
        .inbox(std::slice::from_ref(&alice), None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(hers.items.len(), 2);
    let hers_claimed = t
        .engine
        .tasks()
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
    let bob = Assignee {
        kind: AssigneeType::User,
        id: "bob".into(),
    };
    assert!(
        t.engine
            .tasks()
            .inbox(std::slice::from_ref(&bob), None, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn the_deadline_index_holds_only_pending_deadlines_and_returns_due_ones() {
    let t = TestStack::new().await.unwrap();
    let shards = t.engine.settings().deadline_shards;
    let now = Utc::now();
    let past = now - Duration::seconds(5);
    let future = now + Duration::hours(1);
    let due = Creation::new(new_task("wf"), now, past);
    let later = Creation::new(new_task("wf"), now, future);
    for c in [&due, &later] {
        t.engine.tasks().create(&c.task).await.unwrap();
    }
    let due_ids = all_due_tasks(&t, shards).await;
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
    t.engine.tasks().commit(&failed).await.unwrap();
    let due_after = all_due_tasks(&t, shards).await;
    assert!(!due_after.contains(&due.task.task_instance_id));

    // A transition that moves the deadline earlier moves the index entry with it.
    let sooner = transition(&later.task, Action::Redeliver { redeliver_at: past }, now).unwrap();
    assert_eq!(
        sooner.task.next_deadline().unwrap().0,
        DeadlineKind::Redeliver
    );
    t.engine.tasks().commit(&sooner).await.unwrap();
    assert!(
        all_due_tasks(&t, shards)
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
    t.engine.tasks().commit(&postponed).await.unwrap();
    let stored = t.task(later.task.task_instance_id).await.unwrap();
    assert!(
        all_due_tasks(&t, shards)
            .await
            .contains(&stored.task_instance_id)
    );
    t.engine
        .tasks()
        .reschedule(&stored, Some(future))
        .await
        .unwrap();
    assert!(
        !all_due_tasks(&t, shards)
            .await
            .contains(&stored.task_instance_id)
    );
    let rescheduled = t.task(stored.task_instance_id).await.unwrap();
    assert_eq!(rescheduled.version, stored.version, "not a transition");
    assert_eq!(rescheduled.wake_at, Some(past_millis(future)));
    // A stale reschedule (the task moved on since it was read) is refused.
    let stale = t
        .engine
        .tasks()
        .reschedule(&later.task, None)
        .await
        .unwrap_err();
    assert!(stale.is_conflict(), "{stale}");
}

/// A time as the deadline index keeps it: to the millisecond.
fn past_millis(at: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap()
}

async fn all_due_tasks(t: &TestStack, shards: u16) -> Vec<TaskInstanceId> {
    let mut ids = Vec::new();
    for shard in 0..shards {
        for item in t.engine.tasks().due(shard, Utc::now(), 100).await.unwrap() {
            ids.push(item.task_instance_id);
        }
    }
    ids
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
