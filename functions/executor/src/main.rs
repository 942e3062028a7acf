//! executor Lambda function: configuration, clients and runners once, then the shared handler.

use tel_shared::handlers::Executor;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_shared::lambda::init_tracing();
    let (sdk, engine) = tel_shared::bootstrap::from_env().await?;
    let runners = tel_runners::standard(&sdk, &engine);
    tel_shared::lambda::run_sqs(Executor::new(engine, runners)).await
}
