//! timeout-sweeper Lambda function, run on a schedule.

use tel_engine::handlers::Sweeper;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_engine::lambda::init_tracing();
    let (_, engine) = tel_engine::bootstrap::from_env().await?;
    tel_engine::lambda::run_sweeper(Sweeper::new(engine)).await
}
