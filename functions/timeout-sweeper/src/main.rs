//! timeout-sweeper Lambda function, run on a schedule.

use tel_shared::handlers::Sweeper;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_shared::lambda::init_tracing();
    let (_, engine) = tel_shared::bootstrap::from_env().await?;
    tel_shared::lambda::run_sweeper(Sweeper::new(engine)).await
}
