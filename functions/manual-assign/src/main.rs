//! manual-assign Lambda function: configuration and clients once, then the shared handler.

use tel_engine::handlers::ManualAssign;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_engine::lambda::init_tracing();
    let (_, engine) = tel_engine::bootstrap::from_env().await?;
    tel_engine::lambda::run_sqs(ManualAssign::new(engine)).await
}
