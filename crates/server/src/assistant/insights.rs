//! What people ask, for the bank console: rates over a time window (answered, clarified,
//! handed off, resolution, helpfulness, satisfaction from the follow-up surveys), hot topics
//! against the window before, and clusters of unanswered questions to turn into FAQ entries.

use axum::extract::State;
use axum::response::Response;
use bianmin_assistant::mining::{Cluster, Topic, cluster_unanswered, hot_topics};
use bianmin_store::on_pool;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::no_store;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;

/// Turns read per window (the most recent).
const MAX_TURNS: i64 = 20_000;
/// Unanswered questions clustered (the most recent).
const MAX_UNANSWERED: usize = 2_000;

/// Query of the insights.
#[derive(Debug, Deserialize, IntoParams)]
pub struct InsightsQuery {
    /// Days in the window, 1–90 (default 7).
    pub days: Option<i64>,
}

/// Rates over the window.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Rates {
    /// Share of turns answered.
    pub answered: f64,
    /// Share of turns answered with a clarification.
    pub clarified: f64,
    /// Share of turns handed off to a person.
    pub handed_off: f64,
    /// Share of turns answered and not rated unhelpful.
    pub resolution_rate: f64,
    /// Share of rated answers rated helpful (none rated: null).
    pub helpful_rate: Option<f64>,
    /// Mean survey score, 1–5 (no survey answered: null).
    pub satisfaction: Option<f64>,
    /// Surveys answered.
    pub surveys: i64,
    /// Follow-ups delivered.
    pub followups_sent: i64,
}

/// The console's view of what people ask.
#[derive(Debug, Serialize, ToSchema)]
pub struct Insights {
    /// Start of the window.
    pub from: DateTime<Utc>,
    /// End of the window (now).
    pub to: DateTime<Utc>,
    /// Questions asked in the window.
    pub turns: usize,
    /// Rates.
    pub rates: Rates,
    /// Most asked keywords, with their count in the window before.
    #[schema(value_type = Vec<Object>)]
    pub hot_topics: Vec<Topic>,
    /// Unanswered questions grouped, largest group first.
    #[schema(value_type = Vec<Object>)]
    pub unanswered: Vec<Cluster>,
}

#[derive(sqlx::FromRow)]
struct TurnRow {
    question: String,
    outcome: String,
    helpful: Option<bool>,
    created_at: DateTime<Utc>,
}

/// Rates, hot topics and unanswered clusters over the last `days` days.
#[utoipa::path(get, path = "/api/v1/console/assistant/insights", tag = "assistant", params(InsightsQuery),
    responses((status = 200, body = Insights), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn insights(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<InsightsQuery>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::BankOperator, Role::Admin])?;
    let days = query.days.unwrap_or(7);
    if !(1..=90).contains(&days) {
        return Err(ApiError::invalid(
            "insights.invalid_days",
            "统计天数须在 1 到 90 之间。",
        ));
    }
    let to = state.clock().now();
    let from = to - TimeDelta::days(days);
    let before = from - TimeDelta::days(days);
    let (turns, surveys, followups): (Vec<TurnRow>, (i64, Option<f64>), (i64,)) = on_pool!(state.store(), pool => {
        let turns = sqlx::query_as(
            "SELECT question, outcome, helpful, created_at FROM assistant_turns \
             WHERE created_at >= $1 AND created_at <= $2 ORDER BY created_at DESC LIMIT $3",
        )
        .bind(before)
        .bind(to)
        .bind(MAX_TURNS)
        .fetch_all(pool)
        .await?;
        let surveys = sqlx::query_as(
            "SELECT COUNT(*), AVG(CAST(survey_score AS DOUBLE PRECISION)) FROM inbox_messages \
             WHERE answered_at >= $1 AND answered_at <= $2",
        )
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
        let followups = sqlx::query_as(
            "SELECT COUNT(*) FROM followups WHERE delivered_at >= $1 AND delivered_at <= $2 \
             AND channel <> 'undeliverable'",
        )
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
        (turns, surveys, followups)
    });
    let (window, previous): (Vec<&TurnRow>, Vec<&TurnRow>) =
        turns.iter().partition(|turn| turn.created_at >= from);
    let count = |outcome: &str| window.iter().filter(|turn| turn.outcome == outcome).count();
    let total = window.len();
    let share = |part: usize| {
        if total == 0 {
            0.0
        } else {
            part as f64 / total as f64
        }
    };
    let rated: Vec<bool> = window.iter().filter_map(|turn| turn.helpful).collect();
    let unhelpful_answers = window
        .iter()
        .filter(|turn| turn.outcome == "answer" && turn.helpful == Some(false))
        .count();
    let rates = Rates {
        answered: share(count("answer")),
        clarified: share(count("clarify")),
        handed_off: share(count("handoff")),
        resolution_rate: share(count("answer") - unhelpful_answers),
        helpful_rate: (!rated.is_empty())
            .then(|| rated.iter().filter(|helpful| **helpful).count() as f64 / rated.len() as f64),
        satisfaction: surveys.1,
        surveys: surveys.0,
        followups_sent: followups.0,
    };
    let questions = |turns: &[&TurnRow]| {
        turns
            .iter()
            .map(|turn| turn.question.clone())
            .collect::<Vec<_>>()
    };
    let unanswered: Vec<String> = window
        .iter()
        .filter(|turn| turn.outcome == "handoff")
        .take(MAX_UNANSWERED)
        .map(|turn| turn.question.clone())
        .collect();
    let window_questions = questions(&window);
    let previous_questions = questions(&previous);
    let assistant = state.assistant().get(&state).await?;
    let (hot_topics, unanswered) = tokio::task::spawn_blocking(move || {
        let analyzer = assistant.index().analyzer();
        (
            hot_topics(analyzer, &window_questions, &previous_questions, 15),
            cluster_unanswered(analyzer, &unanswered, 10),
        )
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(no_store(Insights {
        from,
        to,
        turns: total,
        rates,
        hot_topics,
        unanswered,
    }))
}
