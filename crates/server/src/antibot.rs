//! Behaviour scoring at the HTTP edge (`docs/security.md`, "Behaviour scoring"): every `/api/`
//! request except sign-in is scored, per subject, for the marks of a crawler — enumerated or
//! too many distinct identifiers, machine-regular timing, errors, automation signatures — by
//! `bianmin-guard`'s [`BehaviourTracker`]; a rising score slows the subject down, then asks
//! for a proof of work, then blocks it for a while. Each raise is logged and stored with its
//! evidence for the bank console ([`escalations`]).
//!
//! Subjects are the signed-in session and the signing device; a request with neither is
//! scored by its address. Addresses are not scored otherwise: many citizens share one behind
//! carrier-grade NAT, and their lookups together would look broad.
//!
//! Handlers that look something up by an identifier (a plate, a resident id) say so with
//! [`lookup`], so that the tracker sees the identifiers a subject tries and whether they
//! found anything.

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{ACCEPT_LANGUAGE, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bianmin_guard::{
    Assessment, BehaviourTracker, ClientSignals, Escalation, Evidence, Level, Observation, Outcome,
};
use bianmin_sdk::{HEADER_CHALLENGE, HEADER_CLIENT};
use bianmin_store::{on_pool, on_tx};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::guard::EndpointClass;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;
use crate::signing::SignedBy;

/// What a handler looked up, put into its response's extensions by [`lookup`].
#[derive(Debug, Clone)]
pub struct LookupTarget {
    /// The identifier, normalised so that equal identifiers compare equal.
    pub value: String,
    /// Whether anything was found under it.
    pub found: bool,
}

/// Marks `response` as the answer to a lookup of `value`, which `found` something or not.
pub fn lookup(mut response: Response, value: impl Into<String>, found: bool) -> Response {
    response.extensions_mut().insert(LookupTarget {
        value: value.into(),
        found,
    });
    response
}

/// Who is scored for a request: (kind, key) pairs, most specific first.
fn subjects(
    state: &AppState,
    request: &Request,
    signed: Option<&SignedBy>,
) -> Vec<(&'static str, String)> {
    let mut subjects = Vec::with_capacity(2);
    if let Some(signed) = signed {
        subjects.push(("device", format!("device:{}", signed.device_id)));
    }
    if let Some(session) = crate::auth::session_id_in(request.headers(), state.session_key()) {
        subjects.push(("session", format!("session:{session}")));
    }
    if subjects.is_empty()
        && let Some(ip) = state
            .guard()
            .client_ip(request.extensions(), request.headers())
    {
        subjects.push(("ip", format!("ip:{}", crate::guard::address_key(ip))));
    }
    subjects
}

fn client_signals(headers: &HeaderMap, signed: bool) -> ClientSignals {
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    let client = headers.get(HEADER_CLIENT).and_then(|v| v.to_str().ok());
    ClientSignals {
        user_agent: user_agent.map(str::to_owned),
        accept_language: headers.contains_key(ACCEPT_LANGUAGE),
        webdriver: client.is_some_and(|client| {
            client
                .split(';')
                .any(|part| part.trim().eq_ignore_ascii_case("webdriver"))
        }),
        signed,
    }
}

fn outcome(status: StatusCode, target: Option<&LookupTarget>) -> Outcome {
    if status.is_server_error() {
        Outcome::Error
    } else if status == StatusCode::NOT_FOUND || target.is_some_and(|t| !t.found) {
        Outcome::NotFound
    } else if status.is_client_error() {
        Outcome::Rejected
    } else {
        Outcome::Ok
    }
}

/// Middleware: applies each subject's standing before the request is served (block → 403
/// `guard.blocked` with `Retry-After`; challenge → 428 `guard.challenge` unless the request
/// answers one; slow → a delay), then adds the request to each subject's window.
pub async fn score_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(tracker) = state.guard().behaviour() else {
        return next.run(request).await;
    };
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), MatchedPath::as_str)
        .to_owned();
    let class = match EndpointClass::of(request.method(), &path) {
        // Sign-in has its own guard (lockouts, stuffing detection).
        None | Some(EndpointClass::Login) => return next.run(request).await,
        Some(class) => class,
    };
    let signed = request.extensions().get::<SignedBy>().copied();
    let subjects = subjects(&state, &request, signed.as_ref());
    let Some((_, primary)) = subjects.first().cloned() else {
        return next.run(request).await;
    };
    let now = state.clock().now();
    let standing = subjects
        .iter()
        .map(|(_, subject)| tracker.standing(subject, now))
        .max_by_key(|assessment| assessment.level)
        .unwrap_or_else(|| tracker.standing(&primary, now));
    // An unsigned request counts against the client only where a signature was due: device
    // enrolment, for one, is never signed.
    let client = client_signals(
        request.headers(),
        signed.is_some() || !crate::signing::required_for(&path),
    );
    let observe = |target: Option<&LookupTarget>, outcome: Outcome| {
        let observation = Observation {
            at: now,
            class: class.as_str().to_owned(),
            target: target.map(|t| t.value.clone()),
            outcome,
            client: client.clone(),
        };
        for (kind, subject) in &subjects {
            let assessment = tracker.observe(subject, observation.clone());
            if let Some(escalation) = assessment.escalation {
                record(&state, kind, escalation, assessment.until, class, &path);
            }
        }
    };
    match standing.level {
        Level::Block => return blocked(&standing, now).into_response(),
        Level::Challenge => {
            if let Err(refusal) =
                answer_challenge(&state, tracker, &subjects, &primary, request.headers(), now).await
            {
                // A client that keeps asking without doing the work is refused each time, and
                // each refusal counts: it does not stay challenged for ever, it gets blocked.
                observe(None, Outcome::Rejected);
                return refusal.into_response();
            }
        }
        Level::Slow => tokio::time::sleep(standing.delay).await,
        Level::Normal => {}
    }
    let response = next.run(request).await;
    let target = response.extensions().get::<LookupTarget>();
    observe(target, outcome(response.status(), target));
    response
}

fn blocked(standing: &Assessment, now: DateTime<Utc>) -> ApiError {
    let seconds = standing.until.map_or(60, |until| {
        (until - now).num_seconds().max(1).cast_unsigned()
    });
    ApiError::new(
        StatusCode::FORBIDDEN,
        "guard.blocked",
        format!(
            "检测到异常的自动化访问，已暂停服务约 {} 分钟。如为误判，请联系客服并提供请求编号。",
            seconds.div_ceil(60)
        ),
    )
    .with_retry_after(seconds)
}

/// Accepts the request's answer to a challenge, or refuses it with a fresh challenge.
async fn answer_challenge(
    state: &AppState,
    tracker: &BehaviourTracker,
    subjects: &[(&'static str, String)],
    primary: &str,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let challenges = state.guard().challenges();
    let Some(answer) = headers.get(HEADER_CHALLENGE) else {
        return Err(challenge(
            state,
            primary,
            "guard.challenge",
            "需要完成安全校验后才能继续访问。",
        ));
    };
    let verified = match answer.to_str().ok().and_then(|a| a.rsplit_once(':')) {
        Some((token, counter)) => match counter.trim().parse::<u64>() {
            Ok(counter) => challenges.verify(primary, token.trim(), counter).await,
            Err(_) => Err(bianmin_guard::GuardError::ChallengeMalformed),
        },
        None => Err(bianmin_guard::GuardError::ChallengeMalformed),
    };
    match verified {
        Ok(()) => {
            for (_, subject) in subjects {
                tracker.challenge_passed(subject, now);
            }
            Ok(())
        }
        Err(error) => {
            tracing::info!(%error, "challenge answer refused");
            Err(challenge(
                state,
                primary,
                "guard.challenge_failed",
                "安全校验未通过或已过期，请重新完成校验。",
            ))
        }
    }
}

fn challenge(state: &AppState, subject: &str, code: &'static str, detail: &str) -> ApiError {
    let issued = state.guard().challenges().issue(subject);
    ApiError::new(StatusCode::PRECONDITION_REQUIRED, code, detail).with_extension(
        "challenge",
        serde_json::to_value(&issued).unwrap_or_default(),
    )
}

/// Logs an escalation and stores it for the console (in the background: the request that
/// raised it should not wait for the write).
fn record(
    state: &AppState,
    kind: &'static str,
    escalation: Escalation,
    until: Option<DateTime<Utc>>,
    class: EndpointClass,
    path: &str,
) {
    let subject = state.guard().pseudonym(&escalation.subject);
    let signals: Vec<&str> = escalation
        .evidence
        .iter()
        .map(|e| e.signal.code())
        .collect();
    tracing::warn!(
        subject_kind = kind,
        subject = %subject,
        from = ?escalation.from,
        to = ?escalation.to,
        score = escalation.score,
        signals = ?signals,
        class = class.as_str(),
        path,
        "automated behaviour: friction raised"
    );
    metrics::counter!("guard_escalations_total", "to" => level_name(escalation.to)).increment(1);
    let row = EscalationView {
        id: Uuid::now_v7(),
        at: escalation.at,
        subject_kind: kind.to_owned(),
        subject,
        from: level_name(escalation.from).to_owned(),
        to: level_name(escalation.to).to_owned(),
        score: escalation.score,
        until,
        class: class.as_str().to_owned(),
        path: path.to_owned(),
        evidence: escalation.evidence.iter().map(EvidenceView::from).collect(),
    };
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(error) = store(&state, &row).await {
            tracing::error!(%error, "cannot store an escalation");
        }
    });
}

async fn store(state: &AppState, row: &EscalationView) -> Result<(), ApiError> {
    let evidence = serde_json::to_string(&row.evidence).map_err(ApiError::internal)?;
    let mut tx = state.store().begin_write().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO guard_escalations \
             (id, at, subject_kind, subject, from_level, to_level, score, until, class, path, evidence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(row.id)
        .bind(row.at)
        .bind(&row.subject_kind)
        .bind(&row.subject)
        .bind(&row.from)
        .bind(&row.to)
        .bind(i32::try_from(row.score).unwrap_or(i32::MAX))
        .bind(row.until)
        .bind(&row.class)
        .bind(&row.path)
        .bind(evidence)
        .execute(conn)
        .await?;
    });
    tx.commit().await?;
    Ok(())
}

/// Deletes escalation records older than `days`; the count deleted.
pub async fn purge(state: &AppState, days: u32) -> Result<u64, ApiError> {
    let cutoff = state.clock().now() - TimeDelta::days(i64::from(days.max(1)));
    let mut tx = state.store().begin_write().await?;
    let deleted = on_tx!(&mut tx, conn => {
        sqlx::query("DELETE FROM guard_escalations WHERE at < $1")
            .bind(cutoff)
            .execute(conn)
            .await?
            .rows_affected()
    });
    tx.commit().await?;
    Ok(deleted)
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Normal => "normal",
        Level::Slow => "slow",
        Level::Challenge => "challenge",
        Level::Block => "block",
    }
}

/// One signal's part in an escalation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvidenceView {
    /// `enumeration`, `breadth`, `regular_timing`, `error_ratio` or `automation`.
    pub signal: String,
    /// Points it added to the score.
    pub points: u32,
    /// What was seen, in Chinese; never quotes an identifier.
    pub detail: String,
}

impl From<&Evidence> for EvidenceView {
    fn from(evidence: &Evidence) -> Self {
        EvidenceView {
            signal: evidence.signal.code().to_owned(),
            points: evidence.points,
            detail: evidence.detail.clone(),
        }
    }
}

/// A raise of a subject's friction level.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationView {
    /// Record id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// `session`, `device` or `ip`.
    pub subject_kind: String,
    /// The subject's pseudonym (12 hexadecimal digits).
    pub subject: String,
    /// The level before: `normal`, `slow` or `challenge`.
    pub from: String,
    /// The level reached: `slow`, `challenge` or `block`.
    pub to: String,
    /// The score (0–100) that led here.
    pub score: u32,
    /// When a block ends; `null` for other levels.
    pub until: Option<DateTime<Utc>>,
    /// Endpoint class of the request that raised it.
    pub class: String,
    /// Route of that request.
    pub path: String,
    /// The signals behind the score.
    pub evidence: Vec<EvidenceView>,
}

#[derive(sqlx::FromRow)]
struct EscalationRow {
    id: Uuid,
    at: DateTime<Utc>,
    subject_kind: String,
    subject: String,
    from_level: String,
    to_level: String,
    score: i32,
    until: Option<DateTime<Utc>>,
    class: String,
    path: String,
    evidence: String,
}

impl TryFrom<EscalationRow> for EscalationView {
    type Error = ApiError;

    fn try_from(row: EscalationRow) -> Result<Self, ApiError> {
        Ok(EscalationView {
            id: row.id,
            at: row.at,
            subject_kind: row.subject_kind,
            subject: row.subject,
            from: row.from_level,
            to: row.to_level,
            score: u32::try_from(row.score).map_err(ApiError::internal)?,
            until: row.until,
            class: row.class,
            path: row.path,
            evidence: serde_json::from_str(&row.evidence).map_err(ApiError::internal)?,
        })
    }
}

/// Query of `GET /api/v1/console/guard/escalations`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EscalationsQuery {
    /// Most records, 1–200 (default 50).
    pub limit: Option<u32>,
    /// Only raises to this level: `slow`, `challenge` or `block`.
    pub level: Option<String>,
}

/// Escalations reached in the last 24 hours, by level.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EscalationCounts {
    /// Raised to slow.
    pub slow: u64,
    /// Raised to challenge.
    pub challenge: u64,
    /// Raised to block.
    pub block: u64,
}

/// The console's view of anti-bot escalations.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationsView {
    /// Where rate-limit budgets live: `redis`, `local` or `off`.
    pub mode: String,
    /// Whether behaviour scoring is on.
    pub behaviour: bool,
    /// `required`, `optional` or `off`.
    pub signatures: String,
    /// Start of the window of `counts` (24 hours ago).
    pub since: DateTime<Utc>,
    /// Escalations in that window by level reached.
    pub counts: EscalationCounts,
    /// The latest escalations, newest first.
    pub items: Vec<EscalationView>,
}

/// The latest escalations of automated behaviour with their evidence (bank operator, auditor,
/// admin).
#[utoipa::path(get, path = "/api/v1/console/guard/escalations", tag = "ops", params(EscalationsQuery),
    responses((status = 200, body = EscalationsView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn escalations(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<EscalationsQuery>,
) -> Result<Json<EscalationsView>, ApiError> {
    principal.require(&[Role::BankOperator, Role::Auditor, Role::Admin])?;
    let limit = i64::from(query.limit.unwrap_or(50));
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid(
            "guard.invalid_limit",
            "limit 须在 1 到 200 之间。",
        ));
    }
    let level = match query.level.as_deref() {
        None | Some("") => None,
        Some(level @ ("slow" | "challenge" | "block")) => Some(level.to_owned()),
        Some(_) => {
            return Err(ApiError::invalid(
                "guard.invalid_level",
                "level 只能是 slow、challenge 或 block。",
            ));
        }
    };
    let since = state.clock().now() - TimeDelta::hours(24);
    let (rows, counts): (Vec<EscalationRow>, Vec<(String, i64)>) = on_pool!(state.store(), pool => {
        let rows = sqlx::query_as(
            "SELECT id, at, subject_kind, subject, from_level, to_level, score, until, class, \
                    path, evidence \
             FROM guard_escalations WHERE ($1 IS NULL OR to_level = $1) \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(&level)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let counts = sqlx::query_as(
            "SELECT to_level, COUNT(*) FROM guard_escalations WHERE at >= $1 GROUP BY to_level",
        )
        .bind(since)
        .fetch_all(pool)
        .await?;
        (rows, counts)
    });
    let mut tally = EscalationCounts::default();
    for (level, count) in counts {
        let count = u64::try_from(count).unwrap_or(0);
        match level.as_str() {
            "slow" => tally.slow = count,
            "challenge" => tally.challenge = count,
            "block" => tally.block = count,
            _ => {}
        }
    }
    let guard = state.guard();
    Ok(Json(EscalationsView {
        mode: guard.mode().to_owned(),
        behaviour: guard.behaviour().is_some(),
        signatures: match guard.signatures() {
            crate::config::SignatureMode::Required => "required",
            crate::config::SignatureMode::Optional => "optional",
            crate::config::SignatureMode::Off => "off",
        }
        .to_owned(),
        since,
        counts: tally,
        items: rows
            .into_iter()
            .map(EscalationView::try_from)
            .collect::<Result<_, _>>()?,
    }))
}
