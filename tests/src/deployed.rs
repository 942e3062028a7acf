//! The stack `tel deploy --local` deployed on LocalStack, as its users reach
//! it: the requests queue, the bus, and the HTTP API (through the gateway
//! stand-in, run here, which checks this crate's test tokens and hands each
//! request to the deployed `api` function). Nothing of tel runs in the test
//! process but that gateway: the functions are the real binaries, invoked by
//! LocalStack behind the template's event source mappings and rules.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use serde_json::Value;
use tel_api::auth::AuthConfig;
use tel_local::LocalStack;
use tel_local::deploy::deployed;
use tel_local::event_tap::LIFECYCLE_PATTERN;
use tel_local::gateway::{Gateway, serve};

use crate::EventWatcher;
use crate::api::{Api, SECRET};

/// The variables `tel deploy --local` wrote (`TEL_DEPLOYED_ENV`, else
/// `.tel/deployed.env` of the repository).
fn deployed_env() -> Result<BTreeMap<String, String>> {
    let file = std::env::var("TEL_DEPLOYED_ENV").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.tel/deployed.env").to_owned()
    });
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!("{file}: no deployed stack (scripts/test deploys one on LocalStack: `tel deploy --local`)")
    })?;
    Ok(text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect())
}

pub struct Deployed {
    pub sdk: SdkConfig,
    pub stack: LocalStack,
    pub api: Api,
    /// The deployed functions' names, by binary (`router` → `<stack>-router`).
    pub stack_name: String,
}

impl Deployed {
    /// The deployed stack, with the HTTP API served for it on a free port.
    pub async fn connect() -> Result<Self> {
        crate::init_logs();
        let vars = deployed_env()?;
        let var = |k: &str| vars.get(k).cloned().with_context(|| format!("{k} unset"));
        let endpoint = var("AWS_ENDPOINT_URL")?;
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(tel_aws::clients::shared_https_client())
            .endpoint_url(&endpoint)
            .region(aws_config::Region::new(
                vars.get("AWS_REGION")
                    .cloned()
                    .unwrap_or("us-east-1".into()),
            ))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await;
        let stack_name = var("TEL_STACK_NAME")?;
        let stack = deployed(&sdk, &stack_name).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let gateway = Gateway::new(&sdk, var("TEL_API_FUNCTION")?, AuthConfig::hs256(SECRET));
        tokio::spawn(serve(listener, gateway, std::future::pending()));
        Ok(Self {
            sdk,
            stack,
            api: Api {
                base,
                http: crate::http_client(),
            },
            stack_name,
        })
    }

    pub fn queue_url(&self, logical_id: &str) -> String {
        self.stack
            .queue(logical_id)
            .expect("a queue of the template")
            .url
            .clone()
    }

    /// Sends raw request bodies to the requests queue, one message each.
    pub async fn send_requests(&self, bodies: &[String]) -> Result<Vec<String>> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut ids = Vec::new();
        for body in bodies {
            let out = sqs
                .send_message()
                .queue_url(self.queue_url("RequestsQueue"))
                .message_body(body)
                .send()
                .await?;
            ids.extend(out.message_id);
        }
        Ok(ids)
    }

    /// A fresh queue subscribed to every lifecycle event of the stack's bus.
    pub async fn watch_events(&self) -> Result<EventWatcher> {
        EventWatcher::subscribe(&self.sdk, &self.stack.event_bus_name, LIFECYCLE_PATTERN).await
    }

    /// The lines a deployed function logged (its CloudWatch log group) that
    /// contain `needle`.
    pub async fn logged(&self, function: &str, needle: &str) -> Result<Vec<String>> {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&self.sdk);
        let group = format!("/aws/lambda/{}-{function}", self.stack_name);
        let mut lines = Vec::new();
        let mut token = None;
        loop {
            let page = match logs
                .filter_log_events()
                .log_group_name(&group)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(page) => page,
                // No invocation yet: no group yet.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Ok(lines);
                }
                Err(e) => return Err(e.into()),
            };
            lines.extend(
                page.events()
                    .iter()
                    .filter_map(|e| e.message())
                    .filter(|m| m.contains(needle))
                    .map(str::to_owned),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(lines);
            }
        }
    }

    /// Waits until `function` has logged a line with `needle` at least `count` times.
    pub async fn wait_logged(
        &self,
        function: &str,
        needle: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.logged(function, needle).await?;
            if lines.len() >= count {
                return Ok(lines);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{function} logged {needle:?} {} times in {timeout:?}, not {count}",
                lines.len()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Every message now in the queue `logical_id` (read and made visible again).
    pub async fn peek(&self, logical_id: &str) -> Result<Vec<Value>> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let out = sqs
            .receive_message()
            .queue_url(self.queue_url(logical_id))
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| m.body())
            .map(|b| serde_json::from_str(b).unwrap_or(Value::String(b.to_owned())))
            .collect())
    }
}
