use async_trait::async_trait;

use super::StoreError;
use crate::domain::DefinitionRef;
use crate::integrations::Integration;
use crate::integrations::breaker::BreakerState;

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Stores a new version (0: the next one); as for definitions.
    async fn register(&self, integration: Integration) -> Result<Integration, StoreError>;

    /// The named version, or the latest.
    async fn get(&self, reference: &DefinitionRef) -> Result<Option<Integration>, StoreError>;
}

/// The breaker state of each integration, shared by every executor.
#[async_trait]
pub trait BreakerStore: Send + Sync {
    /// The current state; a never-used integration's is closed at version 0.
    async fn load(&self, integration: &str) -> Result<BreakerState, StoreError>;

    /// Writes `next` if the stored version is still `expected_version`; false if someone else wrote first.
    async fn save(
        &self,
        integration: &str,
        next: &BreakerState,
        expected_version: u64,
    ) -> Result<bool, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Only the reference is ever named, never the value.
    #[error("secret {0} does not exist or may not be read")]
    NotFound(String),
    #[error("secret {reference} could not be read: {reason}")]
    Unavailable { reference: String, reason: String },
}

/// Credentials by reference, read at call time.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self, reference: &str) -> Result<String, SecretError>;
}
