//! The AWS configuration and the SDK clients, made here so that no crate
//! but this one names an AWS SDK: functions, the engine and the API build
//! their adapters from an `SdkConfig` through these.

use std::sync::Arc;

pub use aws_config::{BehaviorVersion, SdkConfig};

pub use crate::http_client::{install_crypto_provider, shared_https_client};

use crate::secrets_manager::SecretsManagerSource;
use crate::sqs_dead_letters::SqsDeadLetterQueues;

/// The configuration a function runs with: region, credentials and the
/// endpoint (`AWS_ENDPOINT_URL` locally) from the environment, and one
/// HTTPS client for every SDK client made from it.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crate::http_client::shared_https_client())
        .load()
        .await
}

/// Every SDK client the adapters use, from one configuration.
#[derive(Clone)]
pub struct AwsClients {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub step_functions: aws_sdk_sfn::Client,
    pub s3: aws_sdk_s3::Client,
}

impl AwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            step_functions: aws_sdk_sfn::Client::new(sdk),
            s3: crate::s3::client(sdk),
        }
    }
}

/// The dead-letter queues over SQS.
pub fn dead_letter_queues(sdk: &SdkConfig) -> Arc<SqsDeadLetterQueues> {
    Arc::new(SqsDeadLetterQueues::new(aws_sdk_sqs::Client::new(sdk)))
}

/// Secrets Manager, each secret reused for `cache` (rotation is seen within it).
pub fn secrets(sdk: &SdkConfig, cache: std::time::Duration) -> SecretsManagerSource {
    SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(sdk), cache)
}

/// A runner that invokes Lambda functions.
pub fn lambda_runner(sdk: &SdkConfig) -> crate::lambda::LambdaRunner {
    crate::lambda::LambdaRunner::new(aws_sdk_lambda::Client::new(sdk))
}

/// Mail through SES from `sender`, in `configuration_set` when given.
pub fn mailer(
    sdk: &SdkConfig,
    sender: &str,
    configuration_set: Option<String>,
) -> crate::ses::SesMailer {
    crate::ses::SesMailer::new(aws_sdk_ses::Client::new(sdk), sender, configuration_set)
}

/// People's addresses and groups from a Cognito user pool.
pub fn cognito_directory(sdk: &SdkConfig, user_pool_id: &str) -> crate::cognito::CognitoDirectory {
    crate::cognito::CognitoDirectory::new(
        aws_sdk_cognitoidentityprovider::Client::new(sdk),
        user_pool_id,
    )
}
