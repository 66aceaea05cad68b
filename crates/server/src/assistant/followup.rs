//! Follow-ups (自动回访): after a completed service — a fine paid, a loan approved — a message
//! with a short satisfaction survey is scheduled once, and delivered when due through the
//! configured channels: the in-app inbox (built in) and SMS (an interface; the development sink
//! keeps what would have been sent, sealed, in `sms_outbox`). The citizen's answers are recorded
//! on the message and counted in the console's insights.
//!
//! Scheduling reads the services' own tables (`fine_payments`, `loan_applications`) from a
//! cursor, with a unique `(kind, reference_id)`: a follow-up is scheduled at least once and
//! never twice, and a crash between the service and the follow-up loses nothing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bianmin_core::Money;
use bianmin_store::{NewEvent, on_pool, on_tx};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};
use crate::lending::{open_json, seal_json};

/// Source rows looked at per kind and round.
const SCHEDULE_BATCH: i64 = 500;
/// Follow-ups delivered per round.
const DELIVERY_BATCH: usize = 100;
/// Undelivered follow-ups looked at per round, earliest due first.
const PENDING_SCAN: i64 = 2_000;
/// How far back the first round looks for completed services.
const FIRST_LOOKBACK_DAYS: i64 = 7;
/// The longest configurable delay: a week.
const MAX_DELAY_MINUTES: u32 = 10_080;
/// Longest survey comment, in characters.
const MAX_COMMENT_CHARS: usize = 200;

/// The survey's question.
pub const SURVEY_QUESTION: &str = "您对本次服务满意吗？";
/// The survey's answers, best first.
pub const SURVEY_OPTIONS: [(u8, &str); 5] = [
    (5, "非常满意"),
    (4, "满意"),
    (3, "一般"),
    (2, "不满意"),
    (1, "非常不满意"),
];

/// A kind of completed service that is followed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FinePaid,
    LoanApproved,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::FinePaid, Kind::LoanApproved];

    fn name(self) -> &'static str {
        match self {
            Kind::FinePaid => "traffic.fine_paid",
            Kind::LoanApproved => "loan.approved",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    fn title(self) -> &'static str {
        match self {
            Kind::FinePaid => "交通罚款缴纳回访",
            Kind::LoanApproved => "闪电贷申请回访",
        }
    }
}

/// Schedules follow-ups for services completed since the last round, then delivers those due.
/// Returns (scheduled, delivered).
pub async fn run_round(state: &AppState) -> Result<(u64, u64), ApiError> {
    let mut scheduled = 0;
    for kind in Kind::ALL {
        scheduled += schedule(state, kind).await?;
    }
    let delivered = deliver_due(state).await?;
    Ok((scheduled, delivered))
}

async fn schedule(state: &AppState, kind: Kind) -> Result<u64, ApiError> {
    let now = state.clock().now().trunc_subsecs(6);
    let (last,): (Option<DateTime<Utc>>,) = on_pool!(state.store(), pool => {
        sqlx::query_as("SELECT MAX(source_at) FROM followups WHERE kind = $1")
            .bind(kind.name())
            .fetch_one(pool)
            .await?
    });
    let since = last.unwrap_or(now - TimeDelta::days(FIRST_LOOKBACK_DAYS));
    let sources: Vec<(Uuid, Uuid, DateTime<Utc>)> = on_pool!(state.store(), pool => {
        match kind {
            Kind::FinePaid => sqlx::query_as(
                "SELECT id, person_id, paid_at FROM fine_payments WHERE paid_at >= $1 \
                 ORDER BY paid_at, id LIMIT $2",
            ),
            Kind::LoanApproved => sqlx::query_as(
                "SELECT id, person_id, decided_at FROM loan_applications \
                 WHERE outcome = 'approved' AND decided_at >= $1 ORDER BY decided_at, id LIMIT $2",
            ),
        }
        .bind(since)
        .bind(SCHEDULE_BATCH)
        .fetch_all(pool)
        .await?
    });
    if sources.is_empty() {
        return Ok(0);
    }
    let delay = TimeDelta::minutes(i64::from(
        state
            .config()
            .assistant
            .followup_delay_minutes
            .min(MAX_DELAY_MINUTES),
    ));
    let mut tx = state.store().begin_write().await?;
    let mut inserted = 0;
    for (reference, person, at) in sources {
        let done = on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO followups (id, person_id, kind, reference_id, source_at, due_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, reference_id) DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(person)
            .bind(kind.name())
            .bind(reference.to_string())
            .bind(at)
            .bind(at + delay)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        inserted += done;
    }
    tx.commit().await?;
    Ok(inserted)
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    person_id: Uuid,
    kind: String,
    reference_id: String,
    source_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
}

/// The message of a follow-up: what was done, when, and the invitation to rate it.
async fn compose(state: &AppState, due: &DueRow, kind: Kind) -> Result<String, ApiError> {
    let day = (due.source_at + TimeDelta::hours(8)).format("%Y年%m月%d日");
    Ok(match kind {
        Kind::FinePaid => {
            let reference = Uuid::parse_str(&due.reference_id).map_err(ApiError::internal)?;
            let row: Option<(i64, String)> = on_pool!(state.store(), pool => {
                sqlx::query_as("SELECT amount_fen, receipt_no FROM fine_payments WHERE id = $1")
                    .bind(reference)
                    .fetch_optional(pool)
                    .await?
            });
            let (amount, receipt) =
                row.ok_or_else(|| ApiError::internal("a followed-up payment vanished"))?;
            format!(
                "您于{day}通过本行缴纳交通罚款 {} 元（回执号 {receipt}），交管局已收到缴款信息。请对本次缴款服务进行评价，您的反馈将帮助我们改进。",
                Money::from_fen(amount)
            )
        }
        Kind::LoanApproved => format!(
            "您的闪电贷申请已于{day}获批。请对申请过程（资料授权、审批速度、页面说明）进行评价；如对额度或利率有疑问，可在「智能客服」中咨询。"
        ),
    })
}

/// The configured channels this build knows (`inbox`, `sms`), the inbox when none is.
fn channels_in_force(state: &AppState) -> Vec<String> {
    let mut channels: Vec<String> = Vec::new();
    for channel in &state.config().assistant.followup_channels {
        let channel = channel.trim().to_ascii_lowercase();
        if matches!(channel.as_str(), "inbox" | "sms") && !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    if channels.is_empty() {
        channels.push("inbox".to_owned());
    }
    channels
}

/// Delivers the follow-ups that are due; returns how many.
pub async fn deliver_due(state: &AppState) -> Result<u64, ApiError> {
    let now = state.clock().now().trunc_subsecs(6);
    // Due-ness is decided here, not in SQL: SQLite compares times as text, and two instants
    // written with different sub-second digits do not compare as instants.
    let due: Vec<DueRow> = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, DueRow>(
            "SELECT id, person_id, kind, reference_id, source_at, due_at FROM followups \
             WHERE delivered_at IS NULL ORDER BY due_at, id LIMIT $1",
        )
        .bind(PENDING_SCAN)
        .fetch_all(pool)
        .await?
    });
    let due: Vec<DueRow> = due
        .into_iter()
        .filter(|row| row.due_at <= state.clock().now())
        .take(DELIVERY_BATCH)
        .collect();
    let channels = channels_in_force(state);
    let mut delivered = 0;
    for row in due {
        let Some(kind) = Kind::parse(&row.kind) else {
            continue;
        };
        let message_id = Uuid::now_v7();
        let sms_id = Uuid::now_v7();
        // A person erased since has no key: the follow-up is closed undelivered.
        let sealed = match compose(state, &row, kind).await {
            Ok(body) => {
                let inbox = seal_json(
                    state,
                    row.person_id,
                    "inbox_messages",
                    "body_enc",
                    message_id,
                    &body,
                )
                .await;
                let sms = seal_json(
                    state,
                    row.person_id,
                    "sms_outbox",
                    "body_enc",
                    sms_id,
                    &body,
                )
                .await;
                inbox.and_then(|inbox| sms.map(|sms| (inbox, sms))).ok()
            }
            Err(error) => return Err(error),
        };
        let mut tx = state.store().begin_write().await?;
        let channel = match &sealed {
            None => "undeliverable".to_owned(),
            Some(_) => channels.join(","),
        };
        // Claimed first: another instance (or round) that delivered it since leaves nothing to do.
        let claimed = on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE followups SET delivered_at = $2, channel = $3 WHERE id = $1 AND delivered_at IS NULL")
                .bind(row.id)
                .bind(now)
                .bind(&channel)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                == 1
        });
        if !claimed {
            continue;
        }
        on_tx!(&mut tx, conn => {
            if let Some((inbox, sms)) = &sealed {
                if channels.iter().any(|c| c == "inbox") {
                    sqlx::query(
                        "INSERT INTO inbox_messages (id, person_id, followup_id, kind, title, body_enc, created_at) \
                         VALUES ($1, $2, $3, 'followup', $4, $5, $6)",
                    )
                    .bind(message_id)
                    .bind(row.person_id)
                    .bind(row.id)
                    .bind(kind.title())
                    .bind(inbox)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                }
                if channels.iter().any(|c| c == "sms") {
                    sqlx::query(
                        "INSERT INTO sms_outbox (id, person_id, followup_id, body_enc, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(sms_id)
                    .bind(row.person_id)
                    .bind(row.id)
                    .bind(sms)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                }
            }
        });
        tx.append_event(&NewEvent::new(
            "assistant.followup_sent",
            "followup",
            row.id.to_string(),
            json!({ "kind": kind.name(), "channel": channel }),
            now,
        ))
        .await?;
        tx.commit().await?;
        delivered += 1;
    }
    Ok(delivered)
}

/// A survey option.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyOption {
    /// 1–5.
    pub score: u8,
    /// Its label.
    pub label: &'static str,
}

/// The citizen's answer to a survey.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyAnswer {
    /// 1–5.
    pub score: i64,
    /// Their words, if any.
    pub comment: Option<String>,
    /// When.
    pub answered_at: DateTime<Utc>,
}

/// A follow-up's survey.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyView {
    /// The question.
    pub question: &'static str,
    /// The answers offered.
    pub options: Vec<SurveyOption>,
    /// The answer given, once answered.
    pub answered: Option<SurveyAnswer>,
}

/// A message in the citizen's inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Message id.
    pub id: Uuid,
    /// `followup`.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
    /// Whether it was opened.
    pub read: bool,
    /// The survey of a follow-up.
    pub survey: Option<SurveyView>,
}

/// The inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxView {
    /// Messages, newest first.
    pub messages: Vec<MessageView>,
    /// Messages not opened yet.
    pub unread: usize,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: Uuid,
    followup_id: Option<Uuid>,
    kind: String,
    title: String,
    body_enc: Vec<u8>,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
    survey_score: Option<i64>,
    survey_comment_enc: Option<Vec<u8>>,
    answered_at: Option<DateTime<Utc>>,
}

macro_rules! message_columns {
    () => {
        "id, followup_id, kind, title, body_enc, created_at, read_at, survey_score, survey_comment_enc, answered_at"
    };
}

async fn message_view(
    state: &AppState,
    person: Uuid,
    row: MessageRow,
) -> Result<MessageView, ApiError> {
    let body: String = open_json(
        state,
        person,
        "inbox_messages",
        "body_enc",
        row.id,
        &row.body_enc,
    )
    .await?;
    let comment: Option<String> = match &row.survey_comment_enc {
        Some(sealed) => Some(
            open_json(
                state,
                person,
                "inbox_messages",
                "survey_comment_enc",
                row.id,
                sealed,
            )
            .await?,
        ),
        None => None,
    };
    let survey = row.followup_id.map(|_| SurveyView {
        question: SURVEY_QUESTION,
        options: SURVEY_OPTIONS
            .iter()
            .map(|(score, label)| SurveyOption {
                score: *score,
                label,
            })
            .collect(),
        answered: row
            .survey_score
            .zip(row.answered_at)
            .map(|(score, answered_at)| SurveyAnswer {
                score,
                comment,
                answered_at,
            }),
    });
    Ok(MessageView {
        id: row.id,
        kind: row.kind,
        title: row.title,
        body,
        created_at: row.created_at,
        read: row.read_at.is_some(),
        survey,
    })
}

fn own_person(principal: &Principal) -> Result<Uuid, ApiError> {
    principal.require(&[Role::Citizen])?;
    principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))
}

fn unknown_message() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "inbox.unknown_message",
        "没有找到这条消息。",
    )
}

/// The signed-in citizen's inbox, newest first.
#[utoipa::path(get, path = "/api/v1/me/inbox", tag = "assistant",
    responses((status = 200, body = InboxView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn inbox(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let person = own_person(&principal)?;
    let rows: Vec<MessageRow> = on_pool!(state.store(), pool => {
        sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM inbox_messages WHERE person_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100"
        ))
        .bind(person)
        .fetch_all(pool)
        .await?
    });
    let mut messages = Vec::with_capacity(rows.len());
    for row in rows {
        messages.push(message_view(&state, person, row).await?);
    }
    let unread = messages.iter().filter(|message| !message.read).count();
    Ok(no_store(InboxView { messages, unread }))
}

async fn own_message(state: &AppState, person: Uuid, id: Uuid) -> Result<MessageRow, ApiError> {
    let row: Option<MessageRow> = on_pool!(state.store(), pool => {
        sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM inbox_messages WHERE id = $1 AND person_id = $2"
        ))
        .bind(id)
        .bind(person)
        .fetch_optional(pool)
        .await?
    });
    row.ok_or_else(unknown_message)
}

/// Marks a message read.
#[utoipa::path(post, path = "/api/v1/me/inbox/{id}/read", tag = "assistant",
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let person = own_person(&principal)?;
    own_message(&state, person, id).await?;
    let now = state.clock().now().trunc_subsecs(6);
    on_pool!(state.store(), pool => {
        sqlx::query("UPDATE inbox_messages SET read_at = $3 WHERE id = $1 AND person_id = $2 AND read_at IS NULL")
            .bind(id)
            .bind(person)
            .bind(now)
            .execute(pool)
            .await?;
    });
    Ok(StatusCode::NO_CONTENT)
}

/// Body of a survey answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyRequest {
    /// 1 (非常不满意) to 5 (非常满意).
    pub score: u8,
    /// The citizen's words, at most 200 characters.
    pub comment: Option<String>,
}

/// Answers a follow-up's survey, once.
#[utoipa::path(post, path = "/api/v1/me/inbox/{id}/survey", tag = "assistant", request_body = SurveyRequest,
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 200, body = MessageView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn answer_survey(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SurveyRequest>,
) -> Result<Response, ApiError> {
    let person = own_person(&principal)?;
    if !(1..=5).contains(&body.score) {
        return Err(ApiError::invalid(
            "inbox.invalid_score",
            "评分须为 1 到 5。",
        ));
    }
    let comment = body
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|comment| !comment.is_empty());
    if comment.is_some_and(|comment| {
        comment.chars().count() > MAX_COMMENT_CHARS || comment.chars().any(char::is_control)
    }) {
        return Err(ApiError::invalid(
            "inbox.invalid_comment",
            format!("留言最多 {MAX_COMMENT_CHARS} 个字，且不能包含控制字符。"),
        ));
    }
    let row = own_message(&state, person, id).await?;
    let Some(followup) = row.followup_id else {
        return Err(ApiError::invalid(
            "inbox.no_survey",
            "这条消息没有满意度调查。",
        ));
    };
    let sealed_comment = match comment {
        Some(comment) => Some(
            seal_json(
                &state,
                person,
                "inbox_messages",
                "survey_comment_enc",
                id,
                &comment,
            )
            .await?,
        ),
        None => None,
    };
    let kind: Option<(String,)> = on_pool!(state.store(), pool => {
        sqlx::query_as("SELECT kind FROM followups WHERE id = $1").bind(followup).fetch_optional(pool).await?
    });
    let now = state.clock().now().trunc_subsecs(6);
    let mut tx = state.store().begin_write().await?;
    let updated = on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE inbox_messages SET survey_score = $3, survey_comment_enc = $4, answered_at = $5, \
             read_at = COALESCE(read_at, $5) WHERE id = $1 AND person_id = $2 AND answered_at IS NULL",
        )
        .bind(id)
        .bind(person)
        .bind(i64::from(body.score))
        .bind(&sealed_comment)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if updated == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "inbox.already_answered",
            "您已评价过本次服务，感谢您的反馈。",
        ));
    }
    tx.append_event(&NewEvent::new(
        "assistant.survey_answered",
        "followup",
        followup.to_string(),
        json!({ "kind": kind.map(|(kind,)| kind), "score": body.score, "commented": comment.is_some() }),
        now,
    ))
    .await?;
    tx.commit().await?;
    let row = own_message(&state, person, id).await?;
    Ok(no_store(message_view(&state, person, row).await?))
}
