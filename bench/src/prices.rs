//! AWS list prices, us-east-1, on-demand, in dollars, as read on the date
//! below from the services' pricing pages (docs/cost.md lists each with its
//! source). Change them here and there together.

/// The date the prices below were read.
pub const PRICES_AS_OF: &str = "2026-11-27";

/// DynamoDB on-demand: per write request unit (1 KB of item written).
pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
/// DynamoDB on-demand: per read request unit (4 KB read, strongly consistent; half for eventually consistent).
pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
/// DynamoDB Streams: per GetRecords request unit, free when Lambda reads the stream.
pub const DYNAMODB_STREAM_READ_BY_LAMBDA: f64 = 0.0;
/// SQS standard queues: per request (each 64 KB chunk of a request's payload is one).
pub const SQS_REQUEST: f64 = 0.40 / 1e6;
/// EventBridge: per custom event published (each 64 KB chunk is one).
pub const EVENTBRIDGE_EVENT: f64 = 1.00 / 1e6;
/// Lambda: per request (invocation).
pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// Lambda on arm64 (the template's default): per GB-second, first tier.
pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
/// Step Functions Standard: per state transition.
pub const STEP_FUNCTIONS_STANDARD_TRANSITION: f64 = 0.025 / 1e3;
/// Step Functions Express: per request (execution).
pub const STEP_FUNCTIONS_EXPRESS_REQUEST: f64 = 1.00 / 1e6;
/// Step Functions Express: per GB-second (billed in 100 ms steps, 64 MB at least), first tier.
pub const STEP_FUNCTIONS_EXPRESS_GB_SECOND: f64 = 0.000_016_67;
