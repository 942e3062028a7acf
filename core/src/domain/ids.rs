//! Identifiers: task instance ids and references to task definitions
//! (`name` or `name:version`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A task instance id: a caller's UUID, a new UUIDv7, or one derived from an
/// idempotency key (UUIDv8), so that a repeated request names the same task
/// and its creation is one conditional write. Indexes sort by creation time,
/// never by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskInstanceId(Uuid);

impl TaskInstanceId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id of the task a request with this idempotency key creates: the
    /// same key always gives the same id.
    pub fn derived(key: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("tel-task/{key}"));
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(Uuid::new_v8(bytes))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Uuid::parse_str(text)
            .map(Self)
            .map_err(|e| format!("taskInstanceId must be a UUID: {e}"))
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// A stable shard number in `0..shards`, taken from the id's random bits.
    pub fn shard(&self, shards: u16) -> u16 {
        let bytes = self.0.as_bytes();
        let tail = u16::from_be_bytes([bytes[14], bytes[15]]);
        tail % shards.max(1)
    }
}

impl Default for TaskInstanceId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TaskInstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TaskInstanceId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A definition name: lower-case letters, digits, `.`, `_` and `-`, starting
/// with a letter or digit, at most 64 characters. No `:` (it separates the version).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DefinitionName(String);

impl DefinitionName {
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid_first = text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let valid_rest = text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if text.len() > 64 || !valid_first || !valid_rest {
            return Err(format!(
                "\"{text}\" is not a valid definition name: use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DefinitionName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DefinitionName> for String {
    fn from(value: DefinitionName) -> Self {
        value.0
    }
}

impl fmt::Display for DefinitionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a request names: a definition's latest version, or one exact version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DefinitionRef {
    pub name: DefinitionName,
    pub version: Option<u32>,
}

impl DefinitionRef {
    /// Parses `name` or `name:version`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            None => Ok(Self {
                name: DefinitionName::parse(text)?,
                version: None,
            }),
            Some((name, version)) => {
                let version = version
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| {
                        format!("\"{text}\": the version after ':' must be a positive integer")
                    })?;
                Ok(Self {
                    name: DefinitionName::parse(name)?,
                    version: Some(version),
                })
            }
        }
    }
}

impl fmt::Display for DefinitionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}:{v}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_refs_parse_with_and_without_version() {
        let latest = DefinitionRef::parse("order.total").unwrap();
        assert_eq!(latest.version, None);
        let exact = DefinitionRef::parse("order.total:3").unwrap();
        assert_eq!(exact.version, Some(3));
        assert_eq!(exact.to_string(), "order.total:3");
        assert!(DefinitionRef::parse("order:0").is_err());
        assert!(DefinitionRef::parse("order:x").is_err());
        assert!(DefinitionRef::parse("Order").is_err());
        assert!(DefinitionRef::parse("").is_err());
    }

    #[test]
    fn ids_sort_by_creation_and_shard_stably() {
        let first = TaskInstanceId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = TaskInstanceId::new();
        assert!(first.to_string() < second.to_string());
        assert_eq!(first.shard(8), first.shard(8));
        assert!(first.shard(8) < 8);
    }
}
