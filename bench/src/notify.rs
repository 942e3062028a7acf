//! How soon a person hears of a task: from its assignment (the
//! `task.assigned` event's `occurredAt`, the assignment's write) to its mail
//! in the emulator's SES, for a burst of manual tasks given to one group.
//! The mail is looked for every 25 ms, so each figure may be up to 25 ms late.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tel_core::ports::DirectoryEntry;
use tel_engine::config::Settings;
use tel_tests::mail::{sent_mail, verify_sender};
use tel_tests::{TestStack, endpoint, random_name, request};

use super::stats::summarize;

pub async fn run(tasks: usize) -> anyhow::Result<()> {
    let sender = format!("{}@example.com", random_name("bench"));
    let t = TestStack::with(
        BTreeMap::from([("NotificationSender".to_owned(), sender.clone())]),
        Settings::default(),
    )
    .await?;
    verify_sender(&t.sdk, &sender).await?;
    let group = random_name("finance");
    let address = format!("{}@example.com", random_name("ann"));
    t.engine
        .people()
        .register(&DirectoryEntry {
            id: "ann".into(),
            email: address.clone(),
            groups: vec![group.clone()],
        })
        .await?;
    t.register(json!({
        "name": "approve", "type": "manual", "title": "Approve #{n}",
        "outputSchema": { "type": "object" },
        "manual": { "assignment": { "strategy": "group", "id": group } }
    }))
    .await?;
    let (mut events, runner) = t.run_watched().await;
    // One at a time (the closed loop: a person's latency), then all at once.
    let mut closed = Vec::new();
    for n in 0..tasks.min(20) {
        let body = request("approve", json!({ "n": n }));
        t.send_requests(&[body.to_string()]).await?;
        let id = body["taskInstanceId"].as_str().unwrap_or_default();
        let assigned = events
            .wait_for_type("task.assigned", Some(id), Duration::from_secs(30))
            .await?;
        let at: DateTime<Utc> = serde_json::from_value(assigned["detail"]["occurredAt"].clone())?;
        let seen = mails_seen(&address, n..n + 1).await?;
        closed.push((seen[&n] - at).to_std().unwrap_or_default());
    }
    println!(
        "one task at a time ({} tasks): assignment → mail {}",
        closed.len(),
        summarize(closed)
    );
    let first = tasks.min(20);
    let bodies: Vec<serde_json::Value> = (first..first + tasks)
        .map(|n| request("approve", json!({ "n": n })))
        .collect();
    let started = std::time::Instant::now();
    t.send_requests(&bodies.iter().map(|b| b.to_string()).collect::<Vec<_>>())
        .await?;
    let seen = mails_seen(&address, first..first + tasks).await?;
    let all_mailed = started.elapsed();
    let mut lags = Vec::new();
    for (n, body) in (first..).zip(&bodies) {
        let id = body["taskInstanceId"].as_str().unwrap_or_default();
        let assigned = events
            .wait_for_type("task.assigned", Some(id), Duration::from_secs(30))
            .await?;
        let at: DateTime<Utc> = serde_json::from_value(assigned["detail"]["occurredAt"].clone())?;
        lags.push((seen[&n] - at).to_std().unwrap_or_default());
    }
    runner.stop().await;
    println!(
        "a burst of {tasks} for one group: assignment → mail {} (every mail within {:.1} s of the burst)",
        summarize(lags),
        all_mailed.as_secs_f64()
    );
    Ok(())
}

/// When the mail of each task numbered in `wanted` was first seen.
async fn mails_seen(
    address: &str,
    wanted: std::ops::Range<usize>,
) -> anyhow::Result<BTreeMap<usize, DateTime<Utc>>> {
    let started = std::time::Instant::now();
    let mut seen: BTreeMap<usize, DateTime<Utc>> = BTreeMap::new();
    while seen.len() < wanted.len() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {} mails within 2 minutes",
            seen.len(),
            wanted.len()
        );
        let now = Utc::now();
        for mail in sent_mail(&endpoint()).await? {
            let number = mail
                .subject
                .rsplit('#')
                .next()
                .and_then(|n| n.parse::<usize>().ok());
            if let Some(n) = number.filter(|n| wanted.contains(n))
                && mail.to.iter().any(|to| to == address)
            {
                seen.entry(n).or_insert(now);
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(seen)
}
