//! Background work of a running server: writing service-use events in batches; reporting fine
//! payments to the 交管局 until each is acknowledged (woken after every payment, and every few
//! seconds for retries that came due); the nightly accrual of 闪电贷 lines; follow-ups (自动回访)
//! after completed services; the cockpit's ingestion of domain events into rollups; the daily
//! purges of the exchange message log and of anti-bot escalation records past their retention;
//! on PostgreSQL, listening for consent
//! revocations made by other instances.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::task::JoinHandle;

use crate::app::AppState;

/// How often due retries are looked for without a wake-up.
const TICK: Duration = Duration::from_secs(5);
/// Payments reported per round.
const BATCH: i64 = 50;

/// Credit lines accrued per transaction by the nightly job.
const ACCRUAL_BATCH: i64 = 1_000;
/// How often the daily jobs (accrual, purges) check whether a new day has begun (China
/// time), or retry a failed run.
const DAILY_TICK: Duration = Duration::from_secs(60);

/// How often completed services are looked at for follow-ups, and due ones delivered.
const FOLLOWUP_TICK: Duration = Duration::from_secs(10);

/// How often unconfirmed entrusted payments are sent to the core enterprise again.
const PAYMENT_TICK: Duration = Duration::from_secs(60);

/// How often the cockpit folds new domain events into its rollups.
const INSIGHT_TICK: Duration = Duration::from_secs(1);
/// How often the cockpit's minute and hour cells past their retention are deleted.
const INSIGHT_PRUNE_EVERY: Duration = Duration::from_secs(600);

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
    let accrual = tokio::spawn(daily(state.clone(), {
        let state = state.clone();
        move |today| {
            let state = state.clone();
            async move {
                match crate::lending::line::accrue_all(&state, today, ACCRUAL_BATCH).await {
                    Ok(lines) => {
                        if lines > 0 {
                            tracing::info!(lines, %today, "credit lines accrued");
                        }
                        true
                    }
                    Err(error) => {
                        tracing::warn!(?error, "nightly accrual failed");
                        false
                    }
                }
            }
        }
    }));
    let followups = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                match crate::assistant::followup::run_round(&state).await {
                    Ok((scheduled, delivered)) if scheduled + delivered > 0 => {
                        tracing::info!(scheduled, delivered, "follow-ups");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(?error, "follow-up round failed"),
                }
                tokio::time::sleep(FOLLOWUP_TICK).await;
            }
        })
    };
    let insight = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut pruned: Option<tokio::time::Instant> = None;
            loop {
                if pruned.is_none_or(|at| at.elapsed() >= INSIGHT_PRUNE_EVERY) {
                    pruned = Some(tokio::time::Instant::now());
                    match crate::insight::prune(&state, state.clock().now()).await {
                        Ok(0) => {}
                        Ok(deleted) => {
                            tracing::info!(deleted, "cockpit: old minute and hour cells pruned")
                        }
                        Err(error) => tracing::warn!(?error, "cockpit pruning failed"),
                    }
                }
                // A full batch means more is waiting: go on at once.
                let full = match crate::insight::ingest(&state).await {
                    Ok(round) => round.read >= crate::insight::BATCH as u64,
                    Err(error) => {
                        tracing::warn!(?error, "cockpit ingestion failed");
                        false
                    }
                };
                if !full {
                    tokio::time::sleep(INSIGHT_TICK).await;
                }
            }
        })
    };
    let log_purge = state.exchange().map(|exchange| {
        let log = Arc::clone(&exchange.log);
        let days = crate::exchange::log_retention_days(state.config());
        tokio::spawn(daily(state.clone(), move |_| {
            let log = Arc::clone(&log);
            async move {
                match log.purge_older_than(days).await {
                    Ok(deleted) => {
                        if deleted > 0 {
                            tracing::info!(deleted, days, "exchange log purged");
                        }
                        true
                    }
                    Err(error) => {
                        tracing::warn!(?error, "exchange log purge failed");
                        false
                    }
                }
            }
        }))
    });
    let escalation_purge = {
        let days = state.config().guard.behaviour.retention_days;
        let purging = state.clone();
        tokio::spawn(daily(state.clone(), move |_| {
            let state = purging.clone();
            async move {
                match crate::antibot::purge(&state, days).await {
                    Ok(deleted) => {
                        if deleted > 0 {
                            tracing::info!(deleted, days, "anti-bot escalations purged");
                        }
                        true
                    }
                    Err(error) => {
                        tracing::warn!(%error, "anti-bot escalation purge failed");
                        false
                    }
                }
            }
        }))
    };
    // 供应链融资: accrue the lines, run the early warnings, retry unconfirmed entrusted payments.
    let supply = {
        let supplying = state.clone();
        tokio::spawn(daily(state.clone(), move |today| {
            let state = supplying.clone();
            async move {
                let accrued = crate::supply::line::accrue_all(&state, today).await;
                let payments = crate::supply::line::confirm_pending(&state).await;
                let monitored = if state.gateway().is_some() {
                    crate::supply::monitor::run_all(&state).await.map(Some)
                } else {
                    Ok(None)
                };
                match (accrued, payments, monitored) {
                    (Ok(lines), Ok(confirmed), Ok(acted)) => {
                        if lines + confirmed > 0 || acted.unwrap_or(0) > 0 {
                            tracing::info!(lines, confirmed, ?acted, "supply-chain nightly run");
                        }
                        true
                    }
                    (accrued, payments, monitored) => {
                        tracing::warn!(
                            ?accrued,
                            ?payments,
                            ?monitored,
                            "supply-chain nightly run failed"
                        );
                        false
                    }
                }
            }
        }))
    };
    // Entrusted payments A集团 has not confirmed yet (it was unreachable at the draw) are sent
    // again every minute, so the core enterprise does not wait for the night.
    let payments = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PAYMENT_TICK).await;
                match crate::supply::line::confirm_pending(&state).await {
                    Ok(0) => {}
                    Ok(confirmed) => tracing::info!(confirmed, "entrusted payments confirmed"),
                    Err(error) => tracing::warn!(?error, "entrusted payment round failed"),
                }
            }
        })
    };
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
    let mut handles = vec![
        usage,
        accrual,
        followups,
        insight,
        escalation_purge,
        supply,
        payments,
        notifier,
    ];
    handles.extend(log_purge);
    handles.extend(revocations);
    handles
}

/// Runs `job` for today once at start (catching up after downtime), then whenever the date in
/// China changes; a run that reports failure (`false`) is tried again a tick later.
async fn daily<F, R>(state: AppState, mut job: F)
where
    F: FnMut(NaiveDate) -> R,
    R: Future<Output = bool>,
{
    let mut done_for = None;
    loop {
        let today = state.clock().today_china();
        if done_for != Some(today) && job(today).await {
            done_for = Some(today);
        }
        tokio::time::sleep(DAILY_TICK).await;
    }
}
