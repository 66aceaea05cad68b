//! Background work of a running server: writing service-use events in batches; reporting fine
//! payments to the 交管局 until each is acknowledged (woken after every payment, and every few
//! seconds for retries that came due); on PostgreSQL, listening for consent revocations made
//! by other instances.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::app::AppState;

/// How often due retries are looked for without a wake-up.
const TICK: Duration = Duration::from_secs(5);
/// Payments reported per round.
const BATCH: i64 = 50;

/// Service-use events written per transaction.
const USAGE_BATCH: usize = 500;

/// Starts the workers; abort the handles to stop them (then call
/// [`AppState::flush_usage`] to write what is still queued).
pub fn spawn(state: AppState) -> Vec<JoinHandle<()>> {
    let usage = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                state.flush_usage(USAGE_BATCH, true).await;
            }
        })
    };
    let revocations = state
        .gateway()
        .and_then(|gateway| gateway.listen_for_revocations(state.store()));
    let notifier = tokio::spawn(async move {
        let Some(traffic) = state.traffic().cloned() else {
            return;
        };
        loop {
            tokio::select! {
                () = state.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
            match traffic.notify_due(BATCH).await {
                Ok(report) if report.acknowledged + report.rescheduled > 0 => {
                    tracing::info!(
                        acknowledged = report.acknowledged,
                        rescheduled = report.rescheduled,
                        "fine payments reported to the traffic police"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "fine notification round failed"),
            }
        }
    });
    let mut handles = vec![usage, notifier];
    handles.extend(revocations);
    handles
}
