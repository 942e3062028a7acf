//! A queue subscribed to a bus through a rule: how a consumer (the
//! orchestrator, a test, `tel watch`) sees lifecycle events.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

pub struct EventTap {
    sqs: aws_sdk_sqs::Client,
    events: aws_sdk_eventbridge::Client,
    pub queue_url: String,
    pub rule_name: String,
    pub bus_name: String,
}

/// Every lifecycle event of a bus.
pub const LIFECYCLE_PATTERN: &str = r#"{"source":["task-execution-layer"]}"#;

impl EventTap {
    /// Creates queue and rule, both called `name`.
    pub async fn subscribe(
        sdk: &SdkConfig,
        bus_name: &str,
        name: &str,
        pattern: &str,
    ) -> Result<Self> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await?
            .queue_url
            .context("CreateQueue returned no URL")?;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .context("queue has no ARN")?;
        events
            .put_rule()
            .name(name)
            .event_bus_name(bus_name)
            .event_pattern(pattern)
            .send()
            .await?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("tap")
            .arn(arn)
            .build()?;
        events
            .put_targets()
            .rule(name)
            .event_bus_name(bus_name)
            .targets(target)
            .send()
            .await?;
        Ok(Self {
            sqs,
            events,
            queue_url,
            rule_name: name.to_owned(),
            bus_name: bus_name.to_owned(),
        })
    }

    /// Event envelopes that arrived, waiting up to `wait_seconds` for the first.
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<Value>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await?;
        let mut events = Vec::new();
        let mut receipts = Vec::new();
        for (i, message) in out.messages.unwrap_or_default().into_iter().enumerate() {
            events.push(serde_json::from_str(
                message.body.as_deref().unwrap_or("null"),
            )?);
            if let Some(receipt) = message.receipt_handle {
                receipts.push(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()?,
                );
            }
        }
        if !receipts.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(receipts))
                .send()
                .await?;
        }
        Ok(events)
    }

    /// Removes the rule and the queue.
    pub async fn close(self) {
        let _ = self
            .events
            .remove_targets()
            .rule(&self.rule_name)
            .event_bus_name(&self.bus_name)
            .ids("tap")
            .send()
            .await;
        let _ = self
            .events
            .delete_rule()
            .name(&self.rule_name)
            .event_bus_name(&self.bus_name)
            .send()
            .await;
        let _ = self
            .sqs
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await;
    }
}

/// One readable line for an event envelope.
pub fn describe(envelope: &Value) -> String {
    let d = &envelope["detail"];
    let id = d["taskInstanceId"].as_str().unwrap_or("?");
    let short = id.get(id.len().saturating_sub(8)..).unwrap_or(id);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let extra = match envelope["detail-type"].as_str().unwrap_or_default() {
        "task.completed" => format!(
            "output={} attempts={} {}ms",
            d["output"], d["attempts"], d["durationMs"]
        ),
        "task.failed" | "task.timed_out" => {
            let fields: Vec<String> = d["error"]["details"]["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| format!("{} {}", text(&e["instancePath"]), text(&e["message"])))
                .collect();
            let fields = if fields.is_empty() {
                String::new()
            } else {
                format!(" [{}]", fields.join("; "))
            };
            format!(
                "{}: {}{fields}",
                text(&d["error"]["code"]),
                first_line(&text(&d["error"]["message"]))
            )
        }
        "task.retry_scheduled" => {
            format!("{} at {}", text(&d["error"]["code"]), text(&d["retryAt"]))
        }
        "task.started" => format!("attempt {}", d["attempt"]),
        "task.assigned" | "task.claimed" | "task.escalated" => {
            format!("{} {}", text(&d["assigneeType"]), text(&d["assigneeId"]))
        }
        _ => String::new(),
    };
    format!(
        "{:<22} …{short} {:<16} {extra}",
        envelope["detail-type"].as_str().unwrap_or("?"),
        text(&d["definition"])
    )
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
