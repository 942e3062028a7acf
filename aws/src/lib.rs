//! tel-aws: the ports over AWS services, named by technology (DynamoDB, SQS,
//! EventBridge, S3, Secrets Manager, Step Functions, Lambda), each SDK error
//! kept as the `source` and classified by its typed metadata (`aws_error`).
//! The only crate of the product that names an AWS SDK (`clients`).

pub mod aws_error;
pub mod clients;
pub mod cognito;
pub mod dynamo;
pub mod eventbridge;
mod http_client;
pub mod lambda;
pub mod s3;
pub mod secrets_manager;
pub mod ses;
pub mod sqs;
pub mod sqs_dead_letters;
pub mod step_functions;

pub use clients::{AwsClients, SdkConfig, load_config};

pub use dynamo::{DynamoDefinitionStore, DynamoIntegrationStore, DynamoTaskStore};
pub use eventbridge::EventBridgePublisher;
pub use sqs::SqsQueueSender;
pub use sqs_dead_letters::SqsDeadLetterQueues;
