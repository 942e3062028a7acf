//! People hear of their work: the notifier mails the people concerned
//! through the emulator's SES (read back from it) and posts to a chat's
//! webhook through a registered integration, once per event, as the
//! definition and each person's preferences say.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tel_core::domain::NotificationPreferences;
use tel_core::ports::{DeadLetterQueues, DirectoryEntry};
use tel_engine::config::Settings;
use tel_engine::metrics::{Metrics, Recorded};
use tel_local::{LocalRunner, RunnerOptions};
use tel_tests::api::{Api, As};
use tel_tests::mail::{SentMail, mail_to, verify_sender, wait_for_mail};
use tel_tests::{TestStack, fake_service, random_name, request};

const WAIT: Duration = Duration::from_secs(30);

/// A stack whose notifier mails from `sender` (verified when `verified`).
async fn stack_mailing_from(sender: &str, verified: bool, extra: &[(&str, &str)]) -> TestStack {
    let mut overrides = BTreeMap::from([
        ("VisibilityTimeoutSeconds".to_owned(), "2".to_owned()),
        ("MaxReceiveCount".to_owned(), "3".to_owned()),
        ("NotificationSender".to_owned(), sender.to_owned()),
    ]);
    overrides.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let t = TestStack::with(overrides, Settings::default())
        .await
        .unwrap();
    if verified {
        verify_sender(&t.sdk, sender).await.unwrap();
    }
    t
}

fn sender() -> String {
    format!("{}@example.com", random_name("tel"))
}

/// Registers `id` in the stack's directory with an address of this test's
/// own (the emulator's sent mail is shared by every test); returns it.
async fn person(t: &TestStack, id: &str, groups: &[&str]) -> String {
    let email = format!("{}@example.com", random_name(id));
    t.engine
        .people()
        .register(&DirectoryEntry {
            id: id.to_owned(),
            email: email.clone(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        })
        .await
        .unwrap();
    email
}

/// A manual approval titled after its input, with `manual` merged over a
/// group assignment.
fn approval(name: &str, group: &str, manual: Value) -> Value {
    let mut settings = json!({ "assignment": { "strategy": "group", "id": group } });
    if let (Some(settings), Value::Object(extra)) = (settings.as_object_mut(), manual) {
        settings.extend(extra);
    }
    json!({
        "name": name, "type": "manual",
        "title": "Approve {employee}'s expense of {amount} EUR",
        "manual": settings,
        "outputSchema": { "type": "object" }
    })
}

/// Delivers `event` to the notification queue again, as SQS may.
async fn deliver_again(t: &TestStack, event: &Value) {
    t.sqs()
        .send_message()
        .queue_url(t.queue_url("NotificationQueue"))
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();
}

fn subjects(mail: &[SentMail]) -> Vec<String> {
    let mut subjects: Vec<String> = mail.iter().map(|m| m.subject.clone()).collect();
    subjects.sort();
    subjects
}

#[tokio::test]
async fn a_group_assignment_and_its_reminder_mail_each_member_once_even_when_delivered_twice() {
    let from = sender();
    let t = stack_mailing_from(&from, true, &[]).await;
    let group = random_name("finance");
    let ann = person(&t, "ann", &[&group]).await;
    let bob = person(&t, "bob", &[&group]).await;
    // Dan turned mail off; carl is in another group.
    let dan = person(&t, "dan", &[&group]).await;
    t.engine
        .people()
        .set_preferences(
            "dan",
            &NotificationPreferences {
                email: false,
                webhook: true,
            },
        )
        .await
        .unwrap();
    let carl = person(&t, "carl", &[&random_name("other")]).await;
    t.register(approval("approve", &group, json!({ "reminders": [1] })))
        .await
        .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let body = request("approve", json!({ "employee": "Ann", "amount": 42 }));
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    t.send_requests(&[body.to_string()]).await.unwrap();

    let assigned = events
        .wait_for_type("task.assigned", Some(&id), WAIT)
        .await
        .unwrap();
    let reminder = events
        .wait_for_type("task.reminder", Some(&id), WAIT)
        .await
        .unwrap();
    for address in [&ann, &bob] {
        wait_for_mail(address, 2, WAIT).await.unwrap();
    }
    // Each event again: a duplicate delivery sends nothing twice.
    deliver_again(&t, &assigned).await;
    deliver_again(&t, &reminder).await;
    runner.quiesce(WAIT).await.unwrap();

    for address in [&ann, &bob] {
        let mail = mail_to(address).await.unwrap();
        assert_eq!(
            subjects(&mail),
            [
                "[tel] Reminder, still waiting: Approve Ann's expense of 42 EUR",
                format!("[tel] Waiting for the group {group}: Approve Ann's expense of 42 EUR")
                    .as_str(),
            ],
            "{address}"
        );
        for m in &mail {
            assert_eq!(m.source, from);
            assert!(
                m.text
                    .contains(&format!("Open it: http://tel.test/ui/#/tasks/{id}")),
                "{}",
                m.text
            );
            assert!(m.text.contains("Definition: approve:1"), "{}", m.text);
        }
    }
    assert!(
        mail_to(&dan).await.unwrap().is_empty(),
        "dan turned mail off"
    );
    assert!(
        mail_to(&carl).await.unwrap().is_empty(),
        "carl is not in the group"
    );
    runner.stop().await;
}

#[tokio::test]
async fn an_escalation_tells_the_new_holder_and_the_person_who_had_claimed_it() {
    let from = sender();
    let t = stack_mailing_from(&from, true, &[]).await;
    let group = random_name("finance");
    let ann = person(&t, "ann", &[&group]).await;
    let bob = person(&t, "bob", &[&group]).await;
    let cfo = person(&t, "cfo", &[]).await;
    t.register(approval(
        "approve",
        &group,
        json!({ "escalation": [{ "afterSeconds": 3, "to": { "type": "USER", "id": "cfo" } }] }),
    ))
    .await
    .unwrap();
    let api = Api::serve(&t).await;
    let (mut events, runner) = t.run_watched().await;
    let body = request("approve", json!({ "employee": "Bo", "amount": 7 }));
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    t.send_requests(&[body.to_string()]).await.unwrap();
    events
        .wait_for_type("task.assigned", Some(&id), WAIT)
        .await
        .unwrap();
    // Told while the group holds it (a notice about a holder the task has
    // since left is not sent).
    wait_for_mail(&ann, 1, WAIT).await.unwrap();
    wait_for_mail(&bob, 1, WAIT).await.unwrap();
    let (status, claimed) = api
        .post(
            &As::user("ann", &[&group]),
            &format!("/tasks/{id}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let escalated = events
        .wait_for_type("task.escalated", Some(&id), WAIT)
        .await
        .unwrap();
    assert_eq!(escalated["detail"]["previousAssigneeId"], "ann");
    assert_eq!(escalated["detail"]["previousAssigneeType"], "USER");
    wait_for_mail(&cfo, 1, WAIT).await.unwrap();
    wait_for_mail(&ann, 2, WAIT).await.unwrap();
    deliver_again(&t, &escalated).await;
    runner.quiesce(WAIT).await.unwrap();

    let title = "Approve Bo's expense of 7 EUR";
    assert_eq!(
        subjects(&mail_to(&cfo).await.unwrap()),
        [format!("[tel] Escalated to cfo: {title}")]
    );
    assert_eq!(
        subjects(&mail_to(&ann).await.unwrap()),
        [
            format!("[tel] No longer yours, now with cfo: {title}"),
            format!("[tel] Waiting for the group {group}: {title}"),
        ]
    );
    // Bob never held it: he heard of the assignment only.
    assert_eq!(
        subjects(&mail_to(&bob).await.unwrap()),
        [format!("[tel] Waiting for the group {group}: {title}")]
    );
    runner.stop().await;
}

#[tokio::test]
async fn a_webhook_posts_once_through_its_integration_naming_who_wants_to_hear() {
    let t = stack_mailing_from(&sender(), true, &[]).await;
    let (base, service) = fake_service::start().await;
    let chat = json!({ "name": "team-chat", "baseUrl": format!("{base}/hooks"), "allowPrivateNetworks": true });
    t.engine
        .integrations()
        .register(tel_core::integrations::Integration::parse(chat).unwrap())
        .await
        .unwrap();
    let group = random_name("finance");
    let ann = person(&t, "ann", &[&group]).await;
    person(&t, "bob", &[&group]).await;
    // Bob keeps mail but is not to be named in the channel.
    t.engine
        .people()
        .set_preferences(
            "bob",
            &NotificationPreferences {
                email: true,
                webhook: false,
            },
        )
        .await
        .unwrap();
    t.register(approval(
        "approve",
        &group,
        json!({ "notify": { "email": false, "webhook": { "integration": "team-chat" } } }),
    ))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let body = request("approve", json!({ "employee": "Cy", "amount": 9 }));
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    t.send_requests(&[body.to_string()]).await.unwrap();
    let assigned = events
        .wait_for_type("task.assigned", Some(&id), WAIT)
        .await
        .unwrap();
    runner.quiesce(WAIT).await.unwrap();
    deliver_again(&t, &assigned).await;
    runner.quiesce(WAIT).await.unwrap();

    let posts = service.hook_posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0],
        json!({ "text": format!("Waiting for the group {group}: Approve Cy's expense of 9 EUR (for ann) http://tel.test/ui/#/tasks/{id}") })
    );
    assert!(
        mail_to(&ann).await.unwrap().is_empty(),
        "the definition turned mail off"
    );
    runner.stop().await;
}

#[tokio::test]
async fn a_failing_mail_service_holds_no_task_and_its_notices_wait_for_a_redrive() {
    // The sender is not verified: SES refuses every mail.
    let from = sender();
    let t = stack_mailing_from(&from, false, &[]).await;
    let group = random_name("finance");
    let ann = person(&t, "ann", &[&group]).await;
    t.register(approval("approve", &group, json!({})))
        .await
        .unwrap();
    let recorded = Arc::new(Recorded::default());
    let engine = Arc::new(
        t.engine
            .rebuild()
            .metrics(Metrics::new(recorded.clone()))
            .build(),
    );
    let mut events = t.watch_events().await.unwrap();
    let options = RunnerOptions {
        wait_seconds: 1,
        sweep_every: Duration::from_millis(500),
        stream_checkpoint: Some(t.stream_checkpoint.clone()),
        ui_url: Some("http://tel.test/ui/".into()),
        ..RunnerOptions::default()
    };
    let runner = LocalRunner::start(
        &t.sdk,
        &t.stack,
        engine.clone(),
        tel_runners::standard(&t.sdk, &engine),
        &options,
    )
    .unwrap();
    let body = request("approve", json!({ "employee": "Di", "amount": 1 }));
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    t.send_requests(&[body.to_string()]).await.unwrap();
    events
        .wait_for_type("task.assigned", Some(&id), WAIT)
        .await
        .unwrap();

    // Three deliveries fail, then the event waits in the dead-letter queue.
    let queues = tel_aws::clients::dead_letter_queues(&t.sdk);
    let dead_letters = t.queue_url("NotificationDeadLetterQueue");
    let deadline = tokio::time::Instant::now() + WAIT;
    while engine
        .queues()
        .depth(&dead_letters)
        .await
        .unwrap()
        .pending()
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(mail_to(&ann).await.unwrap().is_empty());
    let failed = recorded
        .lines()
        .iter()
        .filter(|l| l.contains("\"NotificationsFailed\""))
        .count();
    assert_eq!(failed, 3, "one failure counted per delivery");
    let source = t.queue_url("NotificationQueue");
    let queue_name = source.rsplit('/').next().unwrap();
    let notes = engine.dead_letters().notes(queue_name).await.unwrap();
    assert!(
        notes.iter().any(|n| n.reason.contains("MessageRejected")),
        "the operator sees why: {notes:?}"
    );
    // The task did not wait: it is assigned, and a person can work it.
    let task = t
        .task(tel_core::domain::TaskInstanceId::parse(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(task.status, tel_core::domain::TaskStatus::Assigned);

    // Once the mail service is mended, a redrive sends the notice.
    verify_sender(&t.sdk, &from).await.unwrap();
    let moved = queues
        .redrive(
            &dead_letters,
            &t.queue_url("NotificationQueue"),
            10,
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    wait_for_mail(&ann, 1, WAIT).await.unwrap();
    let api = Api::serve(&t).await;
    let (status, done) = api
        .post(
            &As::user("ann", &[&group]),
            &format!("/tasks/{id}/complete"),
            json!({ "output": {} }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    runner.stop().await;
}

fn attribute(name: &str, value: &str) -> aws_sdk_cognitoidentityprovider::types::AttributeType {
    aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

#[tokio::test]
async fn addresses_and_groups_come_from_the_cognito_user_pool() {
    let t0 = TestStack::new().await.unwrap();
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&t0.sdk);
    let pool = match cognito
        .create_user_pool()
        .pool_name(random_name("people"))
        .send()
        .await
    {
        Ok(out) => out.user_pool.and_then(|p| p.id).unwrap(),
        // LocalStack's community edition has no Cognito: moto runs this test.
        Err(e) => {
            eprintln!(
                "skipped: this emulator has no Cognito user pools ({})",
                aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e)
            );
            return;
        }
    };
    let group = random_name("finance");
    cognito
        .create_group()
        .user_pool_id(&pool)
        .group_name(&group)
        .send()
        .await
        .unwrap();
    let mut addresses = Vec::new();
    // Cy's address was never confirmed: it gets no task mail.
    let mut unconfirmed = String::new();
    for (user, verified) in [("ann", "true"), ("bob", "true"), ("cy", "false")] {
        let email = format!("{}@example.com", random_name(user));
        cognito
            .admin_create_user()
            .user_pool_id(&pool)
            .username(user)
            .user_attributes(attribute("email", &email))
            .user_attributes(attribute("email_verified", verified))
            .send()
            .await
            .unwrap();
        cognito
            .admin_add_user_to_group()
            .user_pool_id(&pool)
            .username(user)
            .group_name(&group)
            .send()
            .await
            .unwrap();
        if verified == "true" {
            addresses.push(email);
        } else {
            unconfirmed = email;
        }
    }
    let t = stack_mailing_from(&sender(), true, &[("CognitoUserPoolId", &pool)]).await;
    // Nobody is registered in tel's own directory: the pool is asked.
    t.register(approval("approve", &group, json!({})))
        .await
        .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let body = request("approve", json!({ "employee": "Ed", "amount": 3 }));
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    t.send_requests(&[body.to_string()]).await.unwrap();
    events
        .wait_for_type("task.assigned", Some(&id), WAIT)
        .await
        .unwrap();
    for address in &addresses {
        let mail = wait_for_mail(address, 1, WAIT).await.unwrap();
        assert!(mail[0].subject.contains("Approve Ed's expense of 3 EUR"));
    }
    runner.quiesce(WAIT).await.unwrap();
    assert!(mail_to(&unconfirmed).await.unwrap().is_empty());
    runner.stop().await;
}

#[tokio::test]
async fn only_admins_register_people_and_each_person_sets_only_their_own_channels() {
    let t = TestStack::new().await.unwrap();
    let api = Api::serve(&t).await;
    let (admin, alice, mallory) = (
        As::admin(),
        As::user("alice", &["finance"]),
        As::user("mallory", &["finance"]),
    );
    let alice_entry = json!({ "email": "alice@example.com", "groups": ["finance"] });
    let (status, body) = api
        .call(
            &admin,
            Method::PUT,
            "/directory/people/alice",
            Some(alice_entry),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Mallory would receive alice's task mail at his own address.
    let (status, body) = api
        .call(
            &mallory,
            Method::PUT,
            "/directory/people/alice",
            Some(json!({ "email": "mallory@evil.example" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = api
            .call(&mallory, method.clone(), "/directory/people/alice", None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {body}");
    }
    let (status, entry) = api.get(&alice, "/directory/people/alice").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(entry["email"], "alice@example.com");

    // Preferences are the caller's own: mallory turning mail off touches only his.
    let (status, body) = api
        .call(
            &mallory,
            Method::PUT,
            "/me/notifications",
            Some(json!({ "email": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "email": false, "webhook": true }));
    let (_, own) = api.get(&alice, "/me/notifications").await;
    assert_eq!(own, json!({ "email": true, "webhook": true }));
    let (status, body) = api
        .call(
            &admin,
            Method::PUT,
            "/directory/people/bob",
            Some(json!({ "email": "two@example.com, three@example.com" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "INVALID_PERSON");
}

#[tokio::test]
async fn a_definition_posts_notifications_only_through_an_integration_its_registrant_may_use() {
    let t = TestStack::new().await.unwrap();
    let api = Api::serve(&t).await;
    let (admin, carl) = (As::admin(), As::user("carl", &[]));
    // The executives' channel: only its own group may use it.
    let (status, body) = api
        .call(
            &admin,
            Method::PUT,
            "/integrations/exec-chat",
            Some(json!({
                "baseUrl": "https://hooks.example.com/exec",
                "access": { "use": { "groups": ["executives"] } }
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let definition = |notify: Value| {
        let mut d = approval("approve", "finance", json!({ "notify": notify }));
        d["access"] = json!({ "manage": { "users": ["carl"] } });
        d
    };
    let (status, body) = api
        .call(
            &admin,
            Method::PUT,
            "/definitions/approve",
            Some(definition(json!({}))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Carl manages the definition, not the channel: he cannot post through it.
    let (status, body) = api
        .call(
            &carl,
            Method::PUT,
            "/definitions/approve",
            Some(definition(
                json!({ "webhook": { "integration": "exec-chat" } }),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["detail"], "you may not use integration exec-chat",
        "worded as for a missing one"
    );
    let (status, body) = api
        .call(
            &carl,
            Method::PUT,
            "/definitions/approve",
            Some(definition(json!({ "reminder": [] }))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
