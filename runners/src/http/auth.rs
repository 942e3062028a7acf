//! Credentials on a call: API keys, bearer and basic credentials read by
//! reference at call time, OAuth2 client-credentials tokens cached until a
//! minute before they expire; and every secret value redacted from what the
//! call reports.

use std::time::Duration;

use serde_json::{Value, json};
use tracing::info;

use super::HttpRunner;
use super::failure::Failure;
use tel_core::domain::TaskError;
use tel_core::domain::task_error::{INTEGRATION_ERROR, PERMISSION_DENIED};
use tel_core::integrations::Integration;
use tel_core::integrations::definition::{Auth, KeyPlacement};

/// A token endpoint's answer is a small JSON document; more is refused.
const MAX_TOKEN_RESPONSE_BYTES: u64 = 64 * 1024;

/// A token is refreshed this long before it expires.
const TOKEN_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// Replaces every secret value in `text` before it goes anywhere.
pub(super) fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "***"))
}

impl HttpRunner {
    /// Adds the integration's credentials to the request's headers or query;
    /// every secret value used goes into `secrets`, to be redacted.
    pub(super) async fn authenticate(
        &self,
        integration: &Integration,
        client: &reqwest::Client,
        headers: &mut Vec<(String, String)>,
        query: &mut Vec<(String, String)>,
        secrets: &mut Vec<String>,
        fresh_token: bool,
    ) -> Result<(), Failure> {
        // Checked at registration too; here it also holds for versions
        // registered before the rule, or written to the table by hand.
        if let Some(reference) = integration.auth.secret_ref()
            && !integration.owns_secret(&self.secrets_prefix, reference)
        {
            return Err(Failure::permanent(
                PERMISSION_DENIED,
                format!(
                    "integration {} may read only its own secrets ({}{}…), not {reference}",
                    integration.name, self.secrets_prefix, integration.name
                ),
            ));
        }
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
        Ok(())
    }

    pub(super) async fn secret(
        &self,
        reference: &str,
        secrets: &mut Vec<String>,
    ) -> Result<String, Failure> {
        let value = self.secrets.secret(reference).await.map_err(|e| Failure {
            error: TaskError::new(INTEGRATION_ERROR, e.to_string()),
            retryable: matches!(e, tel_core::ports::SecretError::Unavailable { .. }),
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
        let body = self
            .read_body(integration, response, MAX_TOKEN_RESPONSE_BYTES)
            .await?;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("token s3cr3t-value echoed", &["s3cr3t-value".into()]),
            "token *** echoed"
        );
    }
}
