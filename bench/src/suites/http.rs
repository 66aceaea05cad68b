//! `http`: what the application's HTTP stack costs per request. Three targets are loaded in turn
//! with the same plan:
//!
//! - `bare`: a bare axum handler returning a tiny JSON document, the baseline;
//! - `healthz`: `GET /healthz` of the real application, the same work plus the whole middleware
//!   stack (request ids, tracing spans, metrics, security headers, timeout, body limit);
//! - `me_db_read`: `GET /api/v1/me` with a bearer token, which adds verifying the token's
//!   HMAC-SM3 tag and reading the session and principal row from the database.

use hyper::header::AUTHORIZATION;

use super::Settings;
use crate::figure::Figures;
use crate::load::{self, LoadReport, Target};
use crate::servers::{AppServer, BareServer};

/// The demo persona whose session `/api/v1/me` reads.
const PERSONA: &str = "citizen-zhang";

/// Runs the suite.
pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    let plan = settings.load_plan();

    announce("bare axum handler", settings);
    let bare = BareServer::start().await?;
    let baseline = load::run(&Target::get(bare.address(), BareServer::PATH), &plan).await?;
    bare.stop().await?;
    record(figures, "bare", &baseline, None);

    let app = AppServer::start(settings.database_url.as_deref()).await?;

    announce("GET /healthz", settings);
    let healthz = load::run(&Target::get(app.address(), "/healthz"), &plan).await?;
    record(figures, "healthz", &healthz, Some(&baseline));

    announce(
        &format!("GET /api/v1/me as {PERSONA} ({})", app.backend().name()),
        settings,
    );
    let token = app.sign_in(PERSONA).await?;
    let me = Target::get(app.address(), "/api/v1/me")
        .with_header(AUTHORIZATION, &format!("Bearer {token}"))?;
    let me_db_read = load::run(&me, &plan).await?;
    record(figures, "me_db_read", &me_db_read, Some(&baseline));

    app.stop().await
}

/// Progress on stderr, so that stdout stays the table or the JSON lines.
fn announce(target: &str, settings: &Settings) {
    eprintln!(
        "http: loading {target} ({:.1} s warm-up, {:.1} s measured)",
        settings.warmup.as_secs_f64(),
        settings.duration.as_secs_f64()
    );
}

/// Records `{label}.rps`, `.p50_ms`, `.p99_ms` (against `baseline`'s where given) and, if any
/// request failed, `{label}.errors`.
pub(super) fn record(
    figures: &mut Figures,
    label: &str,
    report: &LoadReport,
    baseline: Option<&LoadReport>,
) {
    let rps = report.requests_per_second();
    match baseline {
        Some(base) => figures.record_against(
            format!("{label}.rps"),
            rps,
            "req/s",
            base.requests_per_second(),
        ),
        None => figures.record(format!("{label}.rps"), rps, "req/s"),
    }
    for (name, quantile) in [("p50_ms", 0.50), ("p99_ms", 0.99)] {
        // No successful request means no latency to report; the errors figure says why.
        let Some(latency) = report.latency_ms(quantile) else {
            continue;
        };
        let name = format!("{label}.{name}");
        match baseline.and_then(|base| base.latency_ms(quantile)) {
            Some(base) => figures.record_against(name, latency, "ms", base),
            None => figures.record(name, latency, "ms"),
        }
    }
    if report.errors > 0 {
        figures.record(format!("{label}.errors"), report.errors as f64, "requests");
    }
}
