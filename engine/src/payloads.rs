//! The claim check: payloads over the deployment's threshold go to the
//! payload store before a task is written, and come back (checked against
//! their size and SHA-256) when a handler needs them.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ApplyError, TaskEngine};
use tel_core::domain::{ObjectLocation, PayloadField, PayloadRef, TaskInstance};
use tel_core::ports::PayloadError;

/// Where senders put request inputs (`inputRef`); the only objects adopted.
pub const REQUEST_PAYLOAD_PREFIX: &str = "requests/";

/// Where a task's own payloads live: `tasks/<id>/v<version>-<field>-<sha256>.json`.
pub(crate) fn task_payload_key(task: &TaskInstance, field: PayloadField, sha256: &str) -> String {
    format!(
        "tasks/{}/v{}-{}-{sha256}.json",
        task.task_instance_id,
        task.version,
        field.as_str()
    )
}

/// A key under `requests/` with no `.` or `..` segment (which some
/// clients and proxies resolve on the way, reaching outside the prefix).
pub fn is_request_payload_key(key: &str) -> bool {
    key.strip_prefix(REQUEST_PAYLOAD_PREFIX)
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .split('/')
                    .all(|segment| !matches!(segment, "." | ".."))
        })
}

impl TaskEngine {
    /// Stores elsewhere every payload of `task` over the threshold that is
    /// not stored yet, and refuses one over the per-task cap. Without a
    /// payload store, payloads stay inline.
    pub(super) async fn offload(&self, task: &mut TaskInstance) -> Result<(), PayloadError> {
        let settings = &self.settings;
        for field in PayloadField::ALL {
            let (value, stored) = task.payload(field);
            if stored.is_some() || value.is_null() {
                continue;
            }
            let bytes = serde_json::to_vec(value).expect("JSON values serialise");
            let size = bytes.len() as u64;
            if size > settings.max_payload_bytes {
                return Err(PayloadError::TooLarge {
                    bytes: size,
                    limit: settings.max_payload_bytes,
                });
            }
            let Some(store) = &self.payloads else {
                continue;
            };
            if size <= settings.payload_threshold_bytes {
                continue;
            }
            // The key names the content (its SHA-256): a key is never written
            // with other content, so a later writer — a duplicate request
            // naming someone else's taskInstanceId, before its create fails —
            // cannot replace what a stored reference reads.
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let key = task_payload_key(task, field, &sha256);
            let at = PayloadRef {
                bucket: store.bucket().to_owned(),
                key,
                size,
                sha256,
            };
            store.put(&at.key, bytes).await?;
            let value = value.clone();
            task.set_payload(field, value, Some(at));
        }
        Ok(())
    }

    /// Reads back the payloads of `fields` that live elsewhere and are not
    /// loaded yet.
    pub async fn load_payloads(
        &self,
        task: &mut TaskInstance,
        fields: &[PayloadField],
    ) -> Result<(), ApplyError> {
        for &field in fields {
            let (value, stored) = task.payload(field);
            let (false, Some(at)) = (!value.is_null(), stored.clone()) else {
                continue;
            };
            let value = self.read_payload(&at).await?;
            task.set_payload(field, value, Some(at));
        }
        Ok(())
    }

    /// A stored payload, checked against its reference.
    pub async fn read_payload(&self, at: &PayloadRef) -> Result<Value, PayloadError> {
        let unreadable = |reason: String| PayloadError::Unreadable {
            bucket: at.bucket.clone(),
            key: at.key.clone(),
            reason,
        };
        let store = self
            .payloads
            .as_ref()
            .ok_or_else(|| unreadable("this deployment has no payload bucket".into()))?;
        let bytes = store.get(&at.bucket, &at.key, at.size).await?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if bytes.len() as u64 != at.size || digest != at.sha256 {
            return Err(unreadable(format!(
                "{} bytes with SHA-256 {digest}, not the {} bytes with {} it was stored as",
                bytes.len(),
                at.size,
                at.sha256
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| unreadable(format!("not JSON: {e}")))
    }

    /// A request's input that an orchestrator put in the payload bucket:
    /// read (at most the per-task cap), checked to be JSON, and referenced
    /// where it is (no copy). Only objects under `requests/` are adopted,
    /// never tel's own task payloads: a sender could otherwise name the
    /// stored input of a task it cannot see and read it back as its own.
    pub async fn adopt_payload(
        &self,
        location: &ObjectLocation,
    ) -> Result<(Value, PayloadRef), PayloadError> {
        let refused = |reason: &str| PayloadError::Refused {
            reason: reason.to_owned(),
        };
        let store = self
            .payloads
            .as_ref()
            .ok_or_else(|| refused("this deployment has no payload bucket"))?;
        // Said without naming the bucket: a caller learns nothing of tel's storage.
        if location.bucket != store.bucket() {
            return Err(refused(
                "inputRef must name an object of the payload bucket",
            ));
        }
        if !is_request_payload_key(&location.key) {
            return Err(refused(&format!(
                "inputRef must name an object under {REQUEST_PAYLOAD_PREFIX}"
            )));
        }
        let unreadable = |reason: String| PayloadError::Unreadable {
            bucket: location.bucket.clone(),
            key: location.key.clone(),
            reason,
        };
        let bytes = store
            .get(
                &location.bucket,
                &location.key,
                self.settings.max_payload_bytes,
            )
            .await?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| unreadable(format!("the input is not JSON: {e}")))?;
        let at = PayloadRef {
            bucket: location.bucket.clone(),
            key: location.key.clone(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        Ok((value, at))
    }
}
