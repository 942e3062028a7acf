//! router Lambda function: configuration and clients once, then the shared handler.

use tel_shared::handlers::Router;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_shared::lambda::init_tracing();
    let (_, engine) = tel_shared::bootstrap::from_env().await?;
    tel_shared::lambda::run_sqs(Router::new(engine)).await
}
