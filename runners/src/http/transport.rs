//! The call on the wire: a client per integration (its connect timeout, the
//! SSRF-guarded resolver, no proxy, no automatic redirects), redirects
//! followed by hand with every target checked again, and transport failures
//! said as what they are.

use std::time::{Duration, Instant};

use serde_json::json;

use super::HttpRunner;
use super::failure::Failure;
use super::resolver::GuardedResolver;
use tel_core::domain::TaskError;
use tel_core::domain::mapping::BuiltRequest;
use tel_core::domain::task_error::{
    EXECUTION_ERROR, INTEGRATION_ERROR, MAPPING_ERROR, PAYLOAD_TOO_LARGE, PERMISSION_DENIED,
    TIMEOUT,
};
use tel_core::integrations::Integration;
use tel_core::integrations::ssrf::{self, Refused};

const MAX_REDIRECTS: usize = 5;

/// A response body read without a definition's `limits.maxOutputBytes`
/// stops here (the deployment's default payload cap).
pub(super) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;

impl HttpRunner {
    /// The integration's client: its connect timeout, the SSRF-guarded resolver, no redirects, no proxy.
    pub(super) fn client(&self, integration: &Integration) -> Result<reqwest::Client, Failure> {
        let key = integration.reference();
        if let Some(client) = self.clients.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(client);
        }
        tel_aws::clients::install_crypto_provider();
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
    pub(super) fn check_url(integration: &Integration, url: &url::Url) -> Result<(), Failure> {
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

    pub(super) fn transport(&self, integration: &Integration, e: reqwest::Error) -> Failure {
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

    /// The response's body, chunk by chunk, refusing more than `cap` bytes
    /// (a downstream, or a host it redirects to, could otherwise fill the
    /// executor's memory before the output's own cap is ever checked).
    pub(super) async fn read_body(
        &self,
        integration: &Integration,
        mut response: reqwest::Response,
        cap: u64,
    ) -> Result<Vec<u8>, Failure> {
        let too_large = |bytes: u64| {
            Failure::permanent(
                PAYLOAD_TOO_LARGE,
                format!("{} answered with more than {cap} bytes", integration.name),
            )
            .with_details(
                json!({ "integration": integration.name, "bytes": bytes, "limitBytes": cap }),
            )
        };
        if let Some(length) = response.content_length()
            && length > cap
        {
            return Err(too_large(length));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport(integration, e))?
        {
            if (body.len() + chunk.len()) as u64 > cap {
                return Err(too_large((body.len() + chunk.len()) as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    pub(super) async fn send(
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
        // What authenticate adds are credentials: they go only to the origin
        // they were meant for (see the redirects below).
        let plain_headers = headers.len();
        self.authenticate(
            integration,
            client,
            &mut headers,
            &mut query,
            secrets,
            fresh_token,
        )
        .await?;
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
        let origin = url.origin();
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
            // Another host, port or scheme (https → http included) gets no
            // credentials: an allowed host may still not be the one they are for.
            if url.origin() != origin {
                headers.truncate(plain_headers);
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
}
