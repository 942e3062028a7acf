//! executor Lambda function: configuration, clients and runners once, then the shared handler.

use tel_engine::handlers::Executor;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_engine::lambda::init_tracing();
    let (sdk, engine) = tel_engine::bootstrap::from_env().await?;
    let runners = tel_runners::standard(&sdk, &engine);
    tel_engine::lambda::run_sqs(Executor::new(engine, runners)).await
}
