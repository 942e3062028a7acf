//! `tel watch`: lifecycle events as they arrive.

use anyhow::Result;
use tel_local::EventTap;
use tel_local::event_tap::{LIFECYCLE_PATTERN, describe};

/// A tap with a name of its own, so several watchers can run at once.
pub async fn open_tap(sdk: &aws_config::SdkConfig, bus: &str) -> Result<EventTap> {
    let name = format!(
        "tel-watch-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    EventTap::subscribe(sdk, bus, &name, LIFECYCLE_PATTERN).await
}

pub fn print(envelope: &serde_json::Value) {
    println!(
        "{}  {}",
        chrono::Local::now().format("%H:%M:%S%.3f"),
        describe(envelope)
    );
}

/// A notification as `tel dev` shows it, among the events.
pub fn print_notice(notice: &tel_engine::handlers::SentNotice) {
    println!(
        "{}  notice {} {} to {} ({}): {}",
        chrono::Local::now().format("%H:%M:%S%.3f"),
        notice.channel,
        notice.kind.as_str(),
        notice.to,
        notice.task_instance_id,
        notice.subject
    );
}

pub async fn watch_forever() -> Result<()> {
    let (sdk, config, _) = super::engine().await?;
    let tap = open_tap(&sdk, &config.event_bus_name).await?;
    eprintln!("watching {} (Ctrl-C to stop)", config.event_bus_name);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            events = tap.receive(1) => events?.iter().for_each(print),
        }
    }
    tap.close().await;
    Ok(())
}
