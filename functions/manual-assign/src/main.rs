//! manual-assign Lambda function: configuration and clients once, then the shared handler.

use tel_shared::handlers::ManualAssign;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_shared::lambda::init_tracing();
    let (_, engine) = tel_shared::bootstrap::from_env().await?;
    tel_shared::lambda::run_sqs(ManualAssign::new(engine)).await
}
