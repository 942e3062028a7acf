//! `SecretSource` over AWS Secrets Manager, with a short in-memory cache so
//! a busy executor does not read the same secret for every call. Values are
//! never logged; errors name the reference only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use tel_core::ports::{SecretError, SecretSource};

pub struct SecretsManagerSource {
    client: Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl SecretsManagerSource {
    pub fn new(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn secret(&self, reference: &str) -> Result<String, SecretError> {
        if let Some((value, at)) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(reference).cloned())
            && at.elapsed() < self.ttl
        {
            return Ok(value);
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(reference)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(GetSecretValueError::ResourceNotFoundException(_)) => {
                    SecretError::NotFound(reference.to_owned())
                }
                // The service's message could in principle quote the request; keep only its kind.
                _ => SecretError::Unavailable {
                    reference: reference.to_owned(),
                    reason: e
                        .as_service_error()
                        .map(|s| s.meta().code().unwrap_or("service error").to_owned())
                        .unwrap_or_else(|| "network or timeout".to_owned()),
                },
            })?;
        let value = out.secret_string.ok_or_else(|| SecretError::Unavailable {
            reference: reference.to_owned(),
            reason: "the secret has no string value".to_owned(),
        })?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(reference.to_owned(), (value.clone(), Instant::now()));
        }
        Ok(value)
    }
}
