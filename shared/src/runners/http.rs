//! The `http` runner: integration tasks. It builds the request from the task
//! with the definition's mapping, authenticates with credentials read by
//! reference at call time, calls through an SSRF-guarded client, sorts
//! failures into retryable and not, feeds the integration's circuit breaker,
//! and builds the output from the response.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tracing::{info, warn};

use super::{Admission, RunError, RunJob, Runner};
use crate::clock::Clock;
use crate::domain::mapping::{BuiltRequest, MappingError, RequestSpec, ResponseSpec};
use crate::domain::task_error::{
    EXECUTION_ERROR, INTEGRATION_ERROR, MAPPING_ERROR, PERMISSION_DENIED, TIMEOUT,
};
use crate::domain::{DefinitionRef, EVENT_SOURCE, Implementation, TaskError};
use crate::integrations::Integration;
use crate::integrations::breaker::{self, Admission as Breaker, Change};
use crate::integrations::definition::{Auth, KeyPlacement};
use crate::integrations::ssrf::{self, GuardedResolver, Refused};
use crate::ports::{
    BreakerStore, BusEvent, ConcurrencySlots, EventPublisher, IntegrationStore, SecretSource,
};

/// How much of an error response's body is kept in the error details.
const BODY_EXCERPT_CHARS: usize = 2_000;
const MAX_REDIRECTS: usize = 5;
/// An integration looked up by reference is reused this long.
const INTEGRATION_CACHE: Duration = Duration::from_secs(30);
/// A token is refreshed this long before it expires.
const TOKEN_MARGIN: chrono::Duration = chrono::Duration::seconds(60);
/// Breaker writes lost to another executor are retried this often.
const BREAKER_ROUNDS: usize = 4;

pub struct HttpRunner {
    integrations: Arc<dyn IntegrationStore>,
    breakers: Arc<dyn BreakerStore>,
    slots: Arc<dyn ConcurrencySlots>,
    secrets: Arc<dyn SecretSource>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    known: Mutex<HashMap<String, (Arc<Integration>, Instant)>>,
    clients: Mutex<HashMap<String, reqwest::Client>>,
    tokens: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
}

/// A call's failure, before it becomes the task's error.
struct Failure {
    error: TaskError,
    retryable: bool,
    retry_after: Option<Duration>,
    /// Whether it says the downstream is in trouble (for the breaker).
    downstream: bool,
}

impl Failure {
    fn permanent(code: &str, message: String) -> Self {
        Self {
            error: TaskError::new(code, message),
            retryable: false,
            retry_after: None,
            downstream: false,
        }
    }
}

impl From<Failure> for RunError {
    fn from(f: Failure) -> Self {
        RunError {
            error: f.error,
            retryable: f.retryable,
            retry_after: f.retry_after,
        }
    }
}

impl From<MappingError> for Failure {
    fn from(e: MappingError) -> Self {
        Failure::permanent(MAPPING_ERROR, e.to_string())
    }
}

/// Replaces every secret value in `text` before it goes anywhere.
fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "***"))
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value.trim()).ok()?.into();
    (at - now).to_std().ok()
}

impl HttpRunner {
    pub fn new(
        integrations: Arc<dyn IntegrationStore>,
        breakers: Arc<dyn BreakerStore>,
        slots: Arc<dyn ConcurrencySlots>,
        secrets: Arc<dyn SecretSource>,
        publisher: Arc<dyn EventPublisher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            integrations,
            breakers,
            slots,
            secrets,
            publisher,
            clock,
            known: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn spec<'a>(
        job: &'a RunJob<'_>,
    ) -> Result<(&'a str, &'a RequestSpec, &'a ResponseSpec), Failure> {
        match &job.definition.implementation {
            Some(Implementation::Http {
                integration,
                request,
                response,
            }) => Ok((integration, request, response)),
            _ => Err(Failure::permanent(
                EXECUTION_ERROR,
                "not an http implementation".into(),
            )),
        }
    }

    async fn integration(&self, reference: &str) -> Result<Arc<Integration>, Failure> {
        if let Some((found, at)) = self
            .known
            .lock()
            .ok()
            .and_then(|k| k.get(reference).cloned())
            && at.elapsed() < INTEGRATION_CACHE
        {
            return Ok(found);
        }
        let parsed =
            DefinitionRef::parse(reference).map_err(|m| Failure::permanent(EXECUTION_ERROR, m))?;
        let found = self
            .integrations
            .get(&parsed)
            .await
            .map_err(|e| Failure {
                error: TaskError::new(INTEGRATION_ERROR, e.to_string()),
                retryable: true,
                retry_after: None,
                downstream: false,
            })?
            .ok_or_else(|| {
                Failure::permanent(
                    INTEGRATION_ERROR,
                    format!("no integration {reference} is registered"),
                )
            })?;
        let found = Arc::new(found);
        if let Ok(mut known) = self.known.lock() {
            known.insert(reference.to_owned(), (found.clone(), Instant::now()));
        }
        Ok(found)
    }

    /// The integration's client: its connect timeout, the SSRF-guarded resolver, no redirects, no proxy.
    fn client(&self, integration: &Integration) -> Result<reqwest::Client, Failure> {
        let key = integration.reference();
        if let Some(client) = self.clients.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(integration.timeouts.connect_ms))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver {
                integration: integration.name.to_string(),
                allow_private: integration.allow_private_networks,
            })
            .build()
            .map_err(|e| {
                Failure::permanent(
                    EXECUTION_ERROR,
                    format!("could not build an HTTP client: {}", e.without_url()),
                )
            })?;
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(key, client.clone());
        }
        Ok(client)
    }

    /// A URL the integration may call: an allowed host, and, for a literal address, not a special one.
    fn check_url(integration: &Integration, url: &url::Url) -> Result<(), Failure> {
        let host = url.host_str().unwrap_or_default();
        if !integration.host_allowed(host.trim_start_matches('[').trim_end_matches(']')) {
            return Err(Failure::permanent(
                PERMISSION_DENIED,
                format!(
                    "host {host} is not in the allowedHosts of integration {}",
                    integration.name
                ),
            ));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            ssrf::check(
                integration.name.as_str(),
                ip,
                integration.allow_private_networks,
            )
            .map_err(|r| Failure::permanent(PERMISSION_DENIED, r.to_string()))?;
        }
        Ok(())
    }

    async fn secret(&self, reference: &str, secrets: &mut Vec<String>) -> Result<String, Failure> {
        let value = self.secrets.secret(reference).await.map_err(|e| Failure {
            error: TaskError::new(INTEGRATION_ERROR, e.to_string()),
            retryable: matches!(e, crate::ports::SecretError::Unavailable { .. }),
            retry_after: None,
            downstream: false,
        })?;
        secrets.push(value.clone());
        Ok(value)
    }

    /// An OAuth2 client-credentials token: cached, or fetched from the token endpoint.
    async fn token(
        &self,
        integration: &Integration,
        client: &reqwest::Client,
        secrets: &mut Vec<String>,
        fresh: bool,
    ) -> Result<String, Failure> {
        let Auth::Oauth2ClientCredentials {
            token_url,
            client_id,
            secret_ref,
            scopes,
            audience,
        } = &integration.auth
        else {
            unreachable!("only called for oauth2")
        };
        let key = format!("{}|{token_url}|{client_id}", integration.name);
        let now = self.clock.now();
        if !fresh
            && let Some((token, expires)) =
                self.tokens.lock().ok().and_then(|t| t.get(&key).cloned())
            && now + TOKEN_MARGIN < expires
        {
            secrets.push(token.clone());
            return Ok(token);
        }
        let client_secret = self.secret(secret_ref, secrets).await?;
        let url = url::Url::parse(token_url)
            .map_err(|e| Failure::permanent(INTEGRATION_ERROR, format!("tokenUrl: {e}")))?;
        Self::check_url(integration, &url)?;
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if !scopes.is_empty() {
            form.push(("scope", scopes.join(" ")));
        }
        if let Some(audience) = audience {
            form.push(("audience", audience.clone()));
        }
        let response = client
            .post(url)
            .basic_auth(client_id, Some(&client_secret))
            .form(&form)
            .timeout(Duration::from_millis(integration.timeouts.total_ms))
            .send()
            .await
            .map_err(|e| self.transport(integration, e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|_| status.is_success())
            .ok_or_else(|| Failure {
                error: TaskError::new(
                    INTEGRATION_ERROR,
                    format!(
                        "the token endpoint of {} answered {status}",
                        integration.name
                    ),
                )
                .with_details(
                    json!({ "integration": integration.name, "status": status.as_u16() }),
                ),
                retryable: status.is_server_error() || status.as_u16() == 429,
                retry_after: None,
                downstream: status.is_server_error(),
            })?;
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(300);
        secrets.push(token.to_owned());
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(
                key,
                (token.to_owned(), now + chrono::Duration::seconds(lifetime)),
            );
        }
        info!(integration = %integration.name, lifetime, "oauth2 token fetched");
        Ok(token.to_owned())
    }

    fn transport(&self, integration: &Integration, e: reqwest::Error) -> Failure {
        // The refusal of a special address surfaces as a connect error; say it as it is.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if let Some(refused) = err.downcast_ref::<Refused>() {
                return Failure::permanent(PERMISSION_DENIED, refused.to_string());
            }
            source = err.source();
        }
        let e = e.without_url();
        let (code, message) = if e.is_timeout() {
            (
                TIMEOUT,
                format!(
                    "{} did not answer within {} ms",
                    integration.name, integration.timeouts.total_ms
                ),
            )
        } else if e.is_connect() {
            (
                INTEGRATION_ERROR,
                format!("could not connect to {}", integration.name),
            )
        } else {
            (
                INTEGRATION_ERROR,
                format!("calling {} failed: {e}", integration.name),
            )
        };
        Failure {
            error: TaskError::new(code, message)
                .with_details(json!({ "integration": integration.name })),
            retryable: true,
            retry_after: None,
            downstream: true,
        }
    }

    async fn send(
        &self,
        integration: &Integration,
        client: &reqwest::Client,
        built: &BuiltRequest,
        idempotency_key: &str,
        secrets: &mut Vec<String>,
        fresh_token: bool,
    ) -> Result<reqwest::Response, Failure> {
        let mut url = url::Url::parse(&integration.base_url)
            .map_err(|e| Failure::permanent(INTEGRATION_ERROR, format!("baseUrl: {e}")))?;
        let path = format!("{}{}", url.path().trim_end_matches('/'), built.path);
        url.set_path(&path);
        let mut query: Vec<(String, String)> = built.query.clone();
        let mut headers: Vec<(String, String)> = integration
            .default_headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        headers.extend(built.headers.iter().cloned());
        headers.push(("Idempotency-Key".into(), idempotency_key.to_owned()));
        match &integration.auth {
            Auth::None => {}
            Auth::ApiKey {
                r#in,
                name,
                secret_ref,
            } => {
                let key = self.secret(secret_ref, secrets).await?;
                match r#in {
                    KeyPlacement::Header => headers.push((name.clone(), key)),
                    KeyPlacement::Query => query.push((name.clone(), key)),
                }
            }
            Auth::Bearer { secret_ref } => {
                let token = self.secret(secret_ref, secrets).await?;
                headers.push(("Authorization".into(), format!("Bearer {token}")));
            }
            Auth::Basic { secret_ref } => {
                let text = self.secret(secret_ref, secrets).await?;
                let pair: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let (Some(user), Some(password)) =
                    (pair["username"].as_str(), pair["password"].as_str())
                else {
                    return Err(Failure::permanent(
                        INTEGRATION_ERROR,
                        format!("secret {secret_ref} must be JSON with username and password"),
                    ));
                };
                secrets.push(password.to_owned());
                use base64::Engine;
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                secrets.push(encoded.clone());
                headers.push(("Authorization".into(), format!("Basic {encoded}")));
            }
            Auth::Oauth2ClientCredentials { .. } => {
                let token = self
                    .token(integration, client, secrets, fresh_token)
                    .await?;
                headers.push(("Authorization".into(), format!("Bearer {token}")));
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter());
        }
        let mut method = reqwest::Method::from_bytes(built.method.as_bytes()).map_err(|_| {
            Failure::permanent(
                MAPPING_ERROR,
                format!("{} is not an HTTP method", built.method),
            )
        })?;
        let mut body = built.body.clone();
        let deadline = Instant::now() + Duration::from_millis(integration.timeouts.total_ms);
        for _ in 0..=MAX_REDIRECTS {
            Self::check_url(integration, &url)?;
            let mut request = client
                .request(method.clone(), url.clone())
                .timeout(deadline.saturating_duration_since(Instant::now()));
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.transport(integration, e))?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let Some(location) = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
            else {
                return Ok(response);
            };
            // Every redirect target is checked again: allowed host, no special address.
            url = url.join(location).map_err(|e| {
                Failure::permanent(
                    INTEGRATION_ERROR,
                    format!("bad redirect from {}: {e}", integration.name),
                )
            })?;
            if !matches!(response.status().as_u16(), 307 | 308) {
                method = reqwest::Method::GET;
                body = None;
            }
        }
        Err(Failure::permanent(
            INTEGRATION_ERROR,
            format!(
                "{} redirected more than {MAX_REDIRECTS} times",
                integration.name
            ),
        ))
    }

    async fn call(&self, job: &RunJob<'_>, integration: &Integration) -> Result<Value, Failure> {
        let (_, request, response) = Self::spec(job)?;
        let task = job.task;
        let document = json!({
            "input": task.input,
            "context": task.context,
            "task": { "taskInstanceId": task.task_instance_id, "workflowInstanceId": task.workflow_instance_id, "stepId": task.step_id, "attempt": task.attempt },
        });
        let built = request.build(&document)?;
        let client = self.client(integration)?;
        let mut secrets = Vec::new();
        // The same key on every attempt of this task: the downstream can de-duplicate.
        let key = task.task_instance_id.to_string();
        let mut answer = self
            .send(integration, &client, &built, &key, &mut secrets, false)
            .await?;
        if answer.status().as_u16() == 401
            && matches!(integration.auth, Auth::Oauth2ClientCredentials { .. })
        {
            info!(integration = %integration.name, "401: refreshing the oauth2 token once");
            answer = self
                .send(integration, &client, &built, &key, &mut secrets, true)
                .await?;
        }
        let status = answer.status();
        let headers: BTreeMap<String, String> = answer
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), v.to_owned()))
            })
            .collect();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| self.transport(integration, e))?;
        let text = String::from_utf8_lossy(&bytes);
        let body: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(text.to_string()));
        if status.is_success() {
            return Ok(response.output(status.as_u16(), &headers, &body)?);
        }
        let code = status.as_u16();
        let retryable = status.is_server_error() || code == 408 || code == 429;
        let excerpt: String = redact(&text, &secrets)
            .chars()
            .take(BODY_EXCERPT_CHARS)
            .collect();
        Err(Failure {
            error: TaskError::new(INTEGRATION_ERROR, format!("{} answered {status} to {} {}", integration.name, built.method, built.path))
                .with_details(json!({ "integration": integration.name, "status": code, "method": built.method, "path": built.path, "body": excerpt })),
            retryable,
            retry_after: headers.get("retry-after").and_then(|v| retry_after(v, self.clock.now())).filter(|_| retryable),
            downstream: retryable,
        })
    }

    /// Feeds an outcome to the breaker; announces the circuit opening or closing.
    async fn record(&self, integration: &Integration, failed: bool) {
        for _ in 0..BREAKER_ROUNDS {
            let Ok(state) = self.breakers.load(integration.name.as_str()).await else {
                return;
            };
            let (next, change) = breaker::record(
                &state,
                &integration.breaker,
                self.clock.now().timestamp_millis(),
                failed,
            );
            if next == state {
                return;
            }
            match self
                .breakers
                .save(integration.name.as_str(), &next, state.version)
                .await
            {
                Ok(true) => {
                    if let Some(change) = change {
                        self.announce(integration, change, &next).await;
                    }
                    return;
                }
                Ok(false) => continue,
                Err(e) => {
                    warn!(integration = %integration.name, error = %e, "breaker not updated");
                    return;
                }
            }
        }
    }

    async fn announce(
        &self,
        integration: &Integration,
        change: Change,
        state: &breaker::BreakerState,
    ) {
        let detail_type = match change {
            Change::Opened => "integration.circuit_opened",
            Change::Closed => "integration.circuit_closed",
        };
        warn!(integration = %integration.name, detail_type, "circuit changed");
        let detail = json!({
            "integration": integration.name,
            "circuit": state.circuit,
            "calls": state.calls,
            "failures": state.failures,
            "coolDownSeconds": integration.breaker.cool_down_seconds,
            "occurredAt": self.clock.now(),
        });
        let event = BusEvent {
            source: EVENT_SOURCE.to_owned(),
            detail_type: detail_type.to_owned(),
            detail: detail.to_string(),
        };
        if let Err(e) = self.publisher.publish(&[event]).await {
            warn!(integration = %integration.name, error = %e, "circuit event not published");
        }
    }
}

#[async_trait]
impl Runner for HttpRunner {
    fn kind(&self) -> &'static str {
        "http"
    }

    async fn admit(&self, job: &RunJob<'_>) -> Result<Admission, RunError> {
        let (reference, _, _) = Self::spec(job)?;
        let integration = self.integration(reference).await?;
        let probe_ttl =
            Duration::from_millis(integration.timeouts.total_ms) + Duration::from_secs(5);
        for _ in 0..BREAKER_ROUNDS {
            let state = self
                .breakers
                .load(integration.name.as_str())
                .await
                .map_err(|e| {
                    RunError::retryable(TaskError::new(INTEGRATION_ERROR, e.to_string()))
                })?;
            match breaker::admit(
                &state,
                &integration.breaker,
                self.clock.now().timestamp_millis(),
                probe_ttl,
            ) {
                (Breaker::Wait(delay), _) => {
                    let reason =
                        format!("the circuit of {} is {:?}", integration.name, state.circuit);
                    return Ok(Admission::Wait { delay, reason });
                }
                (Breaker::Allow, Some(next)) => match self
                    .breakers
                    .save(integration.name.as_str(), &next, state.version)
                    .await
                {
                    Ok(true) => break,
                    Ok(false) => continue,
                    Err(e) => {
                        return Err(RunError::retryable(TaskError::new(
                            INTEGRATION_ERROR,
                            e.to_string(),
                        )));
                    }
                },
                (Breaker::Allow, None) => break,
            }
        }
        if let Some(rate) = integration.limits.rate_per_second {
            let now = self.clock.now();
            let allowed = self
                .slots
                .take_rate(
                    &format!("integration:{}", integration.name),
                    now.timestamp(),
                    rate,
                )
                .await
                .map_err(|e| {
                    RunError::retryable(TaskError::new(INTEGRATION_ERROR, e.to_string()))
                })?;
            if !allowed {
                let rest_of_second = 1000 - u64::from(now.timestamp_subsec_millis()).min(999);
                let reason = format!(
                    "{rate} calls per second to {} already started",
                    integration.name
                );
                return Ok(Admission::Wait {
                    delay: Duration::from_millis(rest_of_second),
                    reason,
                });
            }
        }
        let pools = integration
            .limits
            .max_concurrent
            .map(|max| (format!("integration:{}", integration.name), max))
            .into_iter()
            .collect();
        Ok(Admission::Go { pools })
    }

    async fn run(&self, job: RunJob<'_>) -> Result<Value, RunError> {
        let (reference, _, _) = Self::spec(&job)?;
        let integration = self.integration(reference).await?;
        let outcome = self.call(&job, &integration).await;
        let downstream_failed = matches!(&outcome, Err(f) if f.downstream);
        self.record(&integration, downstream_failed).await;
        outcome.map_err(RunError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after("Thu, 26 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("token s3cr3t-value echoed", &["s3cr3t-value".into()]),
            "token *** echoed"
        );
    }
}
