//! `PayloadStore` over S3: one object per stored payload, in the stack's
//! bucket (encrypted, private, expired by its lifecycle rule).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use super::aws_error::classify;
use tel_core::domain::PayloadRef;
use tel_core::ports::{PayloadError, PayloadStore};

#[derive(Clone)]
pub struct S3PayloadStore {
    client: Client,
    bucket: String,
}

/// An S3 client for `sdk`: addressing buckets by path when an emulator
/// stands in for AWS (`AWS_ENDPOINT_URL`: it serves every bucket under its
/// own host), by virtual host otherwise.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let path_style = sdk.endpoint_url().is_some();
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build(),
    )
}

impl S3PayloadStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl PayloadStore for S3PayloadStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PayloadError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| classify("PutObject", format!("bucket {}", self.bucket), e))?;
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>, PayloadError> {
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                let error = classify("GetObject", format!("s3://{bucket}/{key}"), e);
                return Err(if missing {
                    PayloadError::NotFound {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    }
                } else {
                    error.into()
                });
            }
        };
        let length = out.content_length().unwrap_or(0).max(0) as u64;
        if length > max_bytes {
            return Err(PayloadError::TooLarge {
                bytes: length,
                limit: max_bytes,
            });
        }
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| PayloadError::Unreadable {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn presign(&self, at: &PayloadRef, valid_for: Duration) -> Result<String, PayloadError> {
        let config =
            PresigningConfig::expires_in(valid_for).map_err(|e| PayloadError::Unreadable {
                bucket: at.bucket.clone(),
                key: at.key.clone(),
                reason: e.to_string(),
            })?;
        let request = self
            .client
            .get_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .presigned(config)
            .await
            .map_err(|e| {
                classify(
                    "GetObject (presign)",
                    format!("s3://{}/{}", at.bucket, at.key),
                    e,
                )
            })?;
        Ok(request.uri().to_owned())
    }

    async fn presign_upload(&self, key: &str, valid_for: Duration) -> Result<String, PayloadError> {
        let refused = |reason: String| PayloadError::Refused { reason };
        let config = PresigningConfig::expires_in(valid_for).map_err(|e| refused(e.to_string()))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .presigned(config)
            .await
            .map_err(|e| classify("PutObject (presign)", format!("key {key}"), e))?;
        Ok(request.uri().to_owned())
    }
}
