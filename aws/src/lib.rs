//! tel-aws: the ports over AWS services, named by technology (DynamoDB, SQS,
//! EventBridge, S3, Secrets Manager, Step Functions), each SDK error kept as
//! the `source` and classified by its typed metadata (`aws_error`).

pub mod aws_error;
pub mod dynamo;
pub mod eventbridge;
pub mod s3;
pub mod secrets_manager;
pub mod sqs;
pub mod step_functions;

pub use dynamo::{DynamoDefinitionStore, DynamoIntegrationStore, DynamoTaskStore};
pub use eventbridge::EventBridgePublisher;
pub use sqs::SqsQueueSender;
