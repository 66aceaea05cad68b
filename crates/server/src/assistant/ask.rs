//! Asking: `POST /api/v1/assistant/ask` (anonymous callers get public answers; a signed-in
//! citizen's personal questions run the service under their consent), suggestions (猜你想问)
//! and feedback. Every turn is stored — the question redacted, no person named — with its
//! domain event in the same transaction.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bianmin_assistant::answer::{TOPICS, topic_of};
use bianmin_assistant::index::Scratch;
use bianmin_assistant::intent::{self, Intent};
use bianmin_assistant::text::redact;
use bianmin_assistant::{Assistant, Outcome, auto_reply};
use bianmin_consent::Purpose;
use bianmin_store::{NewEvent, on_pool, on_tx};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::owner_of;
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;

/// Longest question, in characters.
const MAX_QUESTION_CHARS: usize = 200;
/// Suggestions returned.
const SUGGESTIONS: usize = 4;
/// Days of turns the suggestions' popularity is counted over when the assistant starts.
const POPULARITY_DAYS: i64 = 30;

const CLARIFY_TEXT: &str = "您是想问：";
const HANDOFF_TEXT: &str = "抱歉，这个问题我暂时无法准确回答，已记录并转给人工客服，工作人员会尽快联系您。您也可以拨打本行客服热线 95XXX（演示号码）。";

/// Body of `POST /api/v1/assistant/ask`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The question, 1–200 characters.
    pub question: String,
    /// The conversation, from an earlier reply (a new one starts without it).
    pub session_id: Option<Uuid>,
    /// The page the citizen is on (`hpf`, `sscard`, `traffic`, `loan`, `home`, …).
    pub page: Option<String>,
}

/// An entry offered as a clarification option or suggestion.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Candidate {
    /// Entry id.
    pub entry_id: String,
    /// Its question.
    pub question: String,
    /// Calibrated confidence (clarification options only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

/// The policy passage an answer rests on.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    /// `doc-id#article`.
    pub id: String,
    /// The document's title.
    pub title: String,
    /// The article's number.
    pub article: u32,
    /// The article's text.
    pub text: String,
}

/// What a personal question came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalView {
    /// `hpf_balance`, `traffic_violations`, `sscard` or `loan_line`.
    pub intent: &'static str,
    /// `done`, `need_slot`, `need_login`, `need_consent` or `failed`.
    pub status: &'static str,
    /// The slot asked for (`plate`).
    pub slot: Option<&'static str>,
    /// Where to go next (the login page, the service page that asks consent, the details).
    pub link: Option<String>,
    /// The figures the answer states.
    #[schema(value_type = Object)]
    pub data: Option<Value>,
}

/// The assistant's reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct AskReply {
    /// The conversation (send it with the next question).
    pub session_id: Uuid,
    /// This turn (for feedback).
    pub turn_id: Uuid,
    /// `answer`, `clarify` or `handoff`.
    #[schema(value_type = String)]
    pub outcome: Outcome,
    /// The answering entry.
    pub entry_id: Option<String>,
    /// Its question.
    pub question: Option<String>,
    /// The text to show.
    pub answer: Option<String>,
    /// The policy passage the answer rests on.
    pub source: Option<SourceView>,
    /// The department the answer belongs to.
    pub department: Option<String>,
    /// Demonstration content.
    pub demo: bool,
    /// The top candidate's calibrated confidence (1 for personal answers and auto-replies).
    pub confidence: f32,
    /// Clarification options.
    pub candidates: Vec<Candidate>,
    /// 猜你想问: questions to ask next.
    pub suggestions: Vec<Candidate>,
    /// A personal question's result.
    pub personal: Option<PersonalView>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    owner: Option<String>,
    pending: Option<String>,
    last_entry: Option<String>,
}

fn page_topic(page: Option<&str>) -> &'static str {
    match page.unwrap_or_default() {
        "hpf" => "hpf",
        "si" | "sscard" => "si",
        "traffic" => "traffic",
        "loan" => "loan",
        "account" | "consents" | "devices" => "account",
        _ => "home",
    }
}

fn clean_page(page: Option<String>) -> Option<String> {
    page.map(|page| page.trim().to_ascii_lowercase())
        .filter(|page| {
            (1..=32).contains(&page.len())
                && page.bytes().all(|byte| {
                    byte.is_ascii_lowercase()
                        || byte.is_ascii_digit()
                        || byte == b'-'
                        || byte == b'_'
                })
        })
}

/// The signed-in citizen's person, if the caller is one.
fn citizen_person(principal: Option<&Principal>) -> Option<Uuid> {
    principal
        .filter(|principal| principal.role == Role::Citizen)
        .and_then(|principal| principal.person_id)
}

fn candidate(assistant: &Assistant, entry: usize, confidence: Option<f32>) -> Candidate {
    let entry = assistant.entry(entry);
    Candidate {
        entry_id: entry.id.clone(),
        question: entry.question.clone(),
        confidence,
    }
}

/// Answers a question: public questions from the knowledge base (answer, clarify or hand off),
/// personal ones by running the service for the signed-in citizen.
#[utoipa::path(post, path = "/api/v1/assistant/ask", tag = "assistant", request_body = AskRequest,
    responses((status = 200, body = AskReply), (status = 422, body = Problem)))]
pub async fn ask(
    State(state): State<AppState>,
    principal: Option<Principal>,
    ApiJson(body): ApiJson<AskRequest>,
) -> Result<Response, ApiError> {
    let question = body.question.trim().to_owned();
    let length = question.chars().count();
    if length == 0 || length > MAX_QUESTION_CHARS || question.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "assistant.invalid_question",
            format!("请输入 1–{MAX_QUESTION_CHARS} 个字的问题。"),
        ));
    }
    let page = clean_page(body.page);
    let person = citizen_person(principal.as_ref());
    let owner = person.map(owner_of);
    let assistant = state.assistant().get(&state).await?;
    let now = state.clock().now().trunc_subsecs(6);

    // The conversation: continued only by whoever started it.
    let session = match body.session_id {
        Some(id) => load_session(&state, id)
            .await?
            .filter(|row| row.owner == owner)
            .map(|row| (id, row)),
        None => None,
    };
    let (session_id, pending, last_entry, new_session) = match session {
        Some((id, row)) => (
            id,
            row.pending
                .and_then(|text| serde_json::from_str::<Intent>(&text).ok()),
            row.last_entry,
            false,
        ),
        None => (Uuid::now_v7(), None, None, true),
    };

    let mut reply = AskReply {
        session_id,
        turn_id: Uuid::now_v7(),
        outcome: Outcome::Handoff,
        entry_id: None,
        question: None,
        answer: None,
        source: None,
        department: None,
        demo: false,
        confidence: 1.0,
        candidates: Vec::new(),
        suggestions: Vec::new(),
        personal: None,
    };
    let mut next_pending = None;
    let personal_intent = pending
        .as_ref()
        .and_then(|pending| intent::fill(pending, &question))
        .or_else(|| intent::detect(&question));
    if let Some(social) = auto_reply(&question).filter(|_| personal_intent.is_none()) {
        reply.outcome = social.outcome;
        reply.answer = Some(social.text.to_owned());
    } else if let Some(wanted) = personal_intent {
        let result = run_personal(&state, principal.as_ref(), &wanted).await;
        reply.outcome = if result.status == "need_slot" {
            Outcome::Clarify
        } else {
            Outcome::Answer
        };
        reply.answer = Some(result.text);
        if result.status == "need_slot" {
            next_pending = Some(wanted.clone());
        }
        reply.personal = Some(PersonalView {
            intent: intent_name(&wanted),
            status: result.status,
            slot: wanted.missing().map(|(slot, _)| slot),
            link: result.link,
            data: result.data,
        });
    } else {
        let today = state.clock().today_china();
        let answered = {
            let mut scratch = Scratch::default();
            assistant.ask(&question, Some(today), &mut scratch)
        };
        reply.outcome = answered.outcome;
        reply.confidence = answered.confidence;
        match answered.outcome {
            Outcome::Answer => {
                let number = answered.entry.expect("an answer has an entry");
                let entry = assistant.entry(number);
                reply.entry_id = Some(entry.id.clone());
                reply.question = Some(entry.question.clone());
                reply.answer = Some(entry.answer.clone());
                reply.department = Some(entry.department.clone()).filter(|d| !d.is_empty());
                reply.demo = entry.demo;
                reply.source = entry.source.as_deref().and_then(|source| {
                    assistant
                        .kb()
                        .passage(source)
                        .map(|(doc, passage)| SourceView {
                            id: passage.id.clone(),
                            title: doc.title.clone(),
                            article: passage.article,
                            text: passage.text.clone(),
                        })
                });
            }
            Outcome::Clarify => {
                reply.answer = Some(CLARIFY_TEXT.to_owned());
                reply.candidates = Assistant::clarification(&answered)
                    .into_iter()
                    .map(|(entry, p)| candidate(&assistant, entry, Some(p)))
                    .collect();
            }
            Outcome::Handoff => reply.answer = Some(HANDOFF_TEXT.to_owned()),
        }
    }
    reply.suggestions = suggestions_after(&state, &assistant, &reply, page.as_deref());

    // The turn, the conversation and the event, together.
    let pending_json = next_pending
        .as_ref()
        .map(|intent| serde_json::to_string(intent).map_err(ApiError::internal))
        .transpose()?;
    let new_last_entry = reply.entry_id.clone().or(last_entry.clone());
    let event = NewEvent::new(
        "assistant.turn",
        "assistant_session",
        session_id.to_string(),
        json!({
            "outcome": reply.outcome,
            "topic": reply.entry_id.as_deref().map(topic_of),
            "department": reply.department,
            "intent": reply.personal.as_ref().map(|p| p.intent),
            "personal_status": reply.personal.as_ref().map(|p| p.status),
            "page": page,
            "signed_in": person.is_some(),
            "confidence_band": confidence_band(reply.confidence),
            "channel": "h5",
        }),
        now,
    );
    let mut tx = state.store().begin_write().await?;
    on_tx!(&mut tx, conn => {
        if new_session {
            sqlx::query(
                "INSERT INTO assistant_sessions (id, owner, pending, last_entry, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(session_id)
            .bind(&owner)
            .bind(&pending_json)
            .bind(&new_last_entry)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        } else {
            sqlx::query(
                "UPDATE assistant_sessions SET pending = $2, last_entry = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(session_id)
            .bind(&pending_json)
            .bind(&new_last_entry)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query(
            "INSERT INTO assistant_turns (id, session_id, page, question, outcome, entry_id, intent, \
             confidence, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(reply.turn_id)
        .bind(session_id)
        .bind(&page)
        .bind(redact(&question))
        .bind(outcome_name(reply.outcome))
        .bind(&reply.entry_id)
        .bind(reply.personal.as_ref().map(|p| p.intent))
        .bind(f64::from(reply.confidence))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    });
    tx.append_event(&event).await?;
    tx.commit().await?;
    if let Some(entry) = &reply.entry_id {
        state
            .assistant()
            .popularity(|popularity| popularity.record(last_entry.as_deref(), entry));
    }
    // The assistant answers only about the signed-in citizen, whatever number a question
    // names; a run of questions naming one resident id or plate after another is a crawler
    // trying anyway, and behaviour scoring should see it.
    let response = no_store(reply);
    Ok(match identifier_in(&question) {
        Some(identifier) => crate::antibot::lookup(response, identifier, false),
        None => response,
    })
}

/// The first resident id (18 characters, or an old 15-digit one) or plate number a question
/// names, as typed (plates in upper case without `·`).
fn identifier_in(question: &str) -> Option<String> {
    let characters: Vec<char> = question.chars().collect();
    let mut index = 0;
    while index < characters.len() {
        let start = index;
        while index < characters.len()
            && (characters[index].is_ascii_digit()
                || (index - start == 17 && matches!(characters[index], 'x' | 'X')))
        {
            index += 1;
        }
        if matches!(index - start, 15 | 18) {
            return Some(
                characters[start..index]
                    .iter()
                    .collect::<String>()
                    .to_uppercase(),
            );
        }
        index = index.max(start + 1);
    }
    bianmin_assistant::intent::find_plate(&question.replace(['·', ' '], ""))
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Answer => "answer",
        Outcome::Clarify => "clarify",
        Outcome::Handoff => "handoff",
    }
}

fn confidence_band(confidence: f32) -> &'static str {
    match confidence {
        c if c >= 0.8 => "high",
        c if c >= 0.5 => "medium",
        _ => "low",
    }
}

fn intent_name(intent: &Intent) -> &'static str {
    match intent {
        Intent::HpfBalance => "hpf_balance",
        Intent::TrafficViolations { .. } => "traffic_violations",
        Intent::SsCard => "sscard",
        Intent::LoanLine => "loan_line",
    }
}

async fn load_session(state: &AppState, id: Uuid) -> Result<Option<SessionRow>, ApiError> {
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as::<_, SessionRow>(
            "SELECT owner, pending, last_entry FROM assistant_sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
    }))
}

/// What running a personal question came to.
struct PersonalResult {
    status: &'static str,
    text: String,
    link: Option<String>,
    data: Option<Value>,
}

impl PersonalResult {
    fn new(status: &'static str, text: impl Into<String>, link: Option<&str>) -> PersonalResult {
        PersonalResult {
            status,
            text: text.into(),
            link: link.map(str::to_owned),
            data: None,
        }
    }
}

/// The service page of an intent (consent is asked there).
fn service_page(intent: &Intent) -> &'static str {
    match intent {
        Intent::HpfBalance => "/citizen/hpf/",
        Intent::TrafficViolations { .. } => "/citizen/traffic/",
        Intent::SsCard => "/citizen/sscard/",
        Intent::LoanLine => "/citizen/loan/",
    }
}

/// Runs the service behind a personal question, as the citizen's own request (the same
/// handler, consent check, usage event and masking as the service page).
async fn run_personal(
    state: &AppState,
    principal: Option<&Principal>,
    wanted: &Intent,
) -> PersonalResult {
    let page = service_page(wanted);
    let Some(principal) = principal
        .filter(|principal| principal.role == Role::Citizen && principal.person_id.is_some())
    else {
        return PersonalResult::new(
            "need_login",
            "查询本人信息需要先登录，登录后我可以直接帮您查。",
            Some("/"),
        );
    };
    if let Some((_, prompt)) = wanted.missing() {
        return PersonalResult::new("need_slot", prompt, None);
    }
    let state_arg = State(state.clone());
    let response = match wanted {
        Intent::HpfBalance => crate::hpf::my_account(state_arg, principal.clone()).await,
        Intent::TrafficViolations { plate } => {
            let plate = plate.clone().filter(|plate| plate != "*");
            crate::traffic::violations(
                state_arg,
                principal.clone(),
                ApiQuery(crate::traffic::ViolationsQuery { plate }),
            )
            .await
        }
        Intent::SsCard => crate::sscard::my_card(state_arg, principal.clone()).await,
        Intent::LoanLine => crate::lending::line::my_line(state_arg, principal.clone()).await,
    };
    let body = match response {
        Ok(response) => match axum::body::to_bytes(response.into_body(), 1 << 20).await {
            Ok(bytes) => serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        },
        Err(error) if error.code() == "consent.required" => {
            return PersonalResult::new(
                "need_consent",
                "查询需要您先授权本行获取相关数据。授权一次后，我就可以直接为您查询。",
                Some(page),
            );
        }
        Err(error) if error.status() == StatusCode::NOT_FOUND => {
            return PersonalResult::new("done", error.detail().to_owned(), Some(page));
        }
        Err(error) => {
            tracing::warn!(%error, intent = intent_name(wanted), "a personal question failed");
            return PersonalResult::new(
                "failed",
                format!("查询暂时没有成功：{}", error.detail()),
                Some(page),
            );
        }
    };
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    let (answer, data) = match wanted {
        Intent::HpfBalance => (
            format!(
                "您的公积金账户余额为 {} 元（截至 {}），月缴存额 {} 元，已连续缴存 {} 个月。",
                text("balance"),
                text("as_of"),
                text("monthly_deposit"),
                body.get("months_contributed")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            ),
            json!({ "balance": text("balance"), "monthly_deposit": text("monthly_deposit"), "as_of": text("as_of") }),
        ),
        Intent::TrafficViolations { plate } => {
            let violations = body
                .get("violations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let unpaid = violations
                .iter()
                .filter(|v| v.get("status").and_then(Value::as_str) == Some("unpaid"))
                .count();
            let which = match plate.as_deref() {
                Some("*") | None => "您名下车辆".to_owned(),
                Some(plate) => format!("车牌 {}", crate::traffic::mask_plate(plate)),
            };
            let answer = if violations.is_empty() {
                format!("{which}目前没有交通违法记录。")
            } else {
                format!(
                    "{which}共有 {} 条交通违法记录，其中 {unpaid} 条罚款未缴，合计应缴 {} 元。可在「交通罚没」页面查看详情并缴款。",
                    violations.len(),
                    text("unpaid_total")
                )
            };
            (
                answer,
                json!({ "count": violations.len(), "unpaid": unpaid, "unpaid_total": text("unpaid_total") }),
            )
        }
        Intent::SsCard => (
            format!(
                "您的社保卡状态：{}。{}",
                text("status_text"),
                if body.get("bound").and_then(Value::as_bool) == Some(true) {
                    "电子社保卡已在本机启用，可在「电子社保卡」页面出示二维码。"
                } else {
                    "电子社保卡尚未在本机启用，可在「电子社保卡」页面申领启用。"
                }
            ),
            json!({ "status": text("status"), "bound": body.get("bound") }),
        ),
        Intent::LoanLine => (
            format!(
                "您的闪电贷额度 {} 元，可用 {} 元，待还本金 {} 元。{}",
                text("limit"),
                text("available"),
                text("principal"),
                body.get("due_date")
                    .and_then(Value::as_str)
                    .map(|due| format!("本期最低还款 {} 元，还款日 {due}。", text("minimum_due")))
                    .unwrap_or_default()
            ),
            json!({ "limit": text("limit"), "available": text("available"), "principal": text("principal") }),
        ),
    };
    PersonalResult {
        status: "done",
        text: answer,
        link: Some(page.to_owned()),
        data: Some(data),
    }
}

/// 猜你想问 after a reply: related questions after an answer, the page's questions otherwise.
fn suggestions_after(
    state: &AppState,
    assistant: &Assistant,
    reply: &AskReply,
    page: Option<&str>,
) -> Vec<Candidate> {
    let kb = assistant.kb();
    let number_of = |id: &str| kb.entries.iter().position(|entry| entry.id == id);
    let entries = match reply.entry_id.as_deref().and_then(number_of) {
        Some(number) => {
            let next: Vec<(usize, u32)> = state.assistant().popularity(|popularity| {
                popularity
                    .asked_next(&kb.entries[number].id)
                    .into_iter()
                    .filter_map(|(id, count)| number_of(&id).map(|n| (n, count)))
                    .collect()
            });
            assistant.related(number, &next, SUGGESTIONS)
        }
        None if reply.outcome == Outcome::Clarify && reply.personal.is_none() => Vec::new(),
        None => page_suggestions(state, assistant, page_topic(page)),
    };
    entries
        .into_iter()
        .map(|entry| candidate(assistant, entry, None))
        .collect()
}

fn page_suggestions(state: &AppState, assistant: &Assistant, topic: &str) -> Vec<usize> {
    state.assistant().popularity(|popularity| {
        assistant.for_topic(topic, SUGGESTIONS, &|entry| {
            popularity.asked(&assistant.entry(entry).id)
        })
    })
}

/// Query of `GET /api/v1/assistant/suggest`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SuggestQuery {
    /// What the citizen has typed so far.
    pub q: Option<String>,
    /// The page they are on.
    pub page: Option<String>,
    /// An entry just answered: questions related to it.
    pub entry_id: Option<String>,
}

/// Suggestions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestions {
    /// Questions, best first.
    pub suggestions: Vec<Candidate>,
}

/// 猜你想问: while typing (`q`), after an answer (`entry_id`), or for the page — and, for a
/// signed-in citizen, the services they have authorised.
#[utoipa::path(get, path = "/api/v1/assistant/suggest", tag = "assistant", params(SuggestQuery),
    responses((status = 200, body = Suggestions)))]
pub async fn suggest(
    State(state): State<AppState>,
    principal: Option<Principal>,
    ApiQuery(query): ApiQuery<SuggestQuery>,
) -> Result<Response, ApiError> {
    let assistant = state.assistant().get(&state).await?;
    let typed = query.q.as_deref().map(str::trim).unwrap_or_default();
    let typed: String = typed.chars().take(MAX_QUESTION_CHARS).collect();
    let entries = if !typed.is_empty() {
        let mut scratch = Scratch::default();
        state.assistant().popularity(|popularity| {
            assistant.suggest_typing(
                &typed,
                6,
                &|entry| popularity.asked(&assistant.entry(entry).id),
                &mut scratch,
            )
        })
    } else if let Some(number) = query.entry_id.as_deref().and_then(|id| {
        assistant
            .kb()
            .entries
            .iter()
            .position(|entry| entry.id == id)
    }) {
        let next: Vec<(usize, u32)> = state.assistant().popularity(|popularity| {
            popularity
                .asked_next(&assistant.entry(number).id)
                .into_iter()
                .filter_map(|(id, count)| {
                    assistant
                        .kb()
                        .entries
                        .iter()
                        .position(|entry| entry.id == id)
                        .map(|n| (n, count))
                })
                .collect()
        });
        assistant.related(number, &next, SUGGESTIONS)
    } else {
        let topic = page_topic(clean_page(query.page).as_deref());
        let mut entries = page_suggestions(&state, &assistant, topic);
        if topic == "home"
            && let Some(person) = citizen_person(principal.as_ref())
        {
            // The citizen's own services first: one question from each topic they authorised.
            let mut own: Vec<usize> = Vec::new();
            for topic in authorised_topics(&state, person).await {
                if let Some(first) = page_suggestions(&state, &assistant, topic)
                    .into_iter()
                    .next()
                {
                    own.push(first);
                }
            }
            for entry in entries {
                if !own.contains(&entry) {
                    own.push(entry);
                }
            }
            own.truncate(SUGGESTIONS);
            entries = own;
        }
        entries
    };
    Ok(no_store(Suggestions {
        suggestions: entries
            .into_iter()
            .map(|entry| candidate(&assistant, entry, None))
            .collect(),
    }))
}

/// The topics of the services `person` has live consents for, most recent first.
async fn authorised_topics(state: &AppState, person: Uuid) -> Vec<&'static str> {
    let Ok(mut consents) = state.ledger().list_for(person, state.clock().now()).await else {
        return Vec::new();
    };
    consents.sort_by_key(|consent| std::cmp::Reverse(consent.updated_at));
    let mut topics = Vec::new();
    for consent in consents {
        let topic = match consent.purpose {
            Purpose::ServiceHpfQuery => "hpf",
            Purpose::ServiceSsCard => "si",
            Purpose::ServiceTraffic => "traffic",
            Purpose::LoanUnderwriting | Purpose::LoanCreditReport => "loan",
            _ => continue,
        };
        if TOPICS.contains(&topic) && !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    topics
}

/// Body of `POST /api/v1/assistant/feedback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The turn rated.
    pub turn_id: Uuid,
    /// Whether the answer helped.
    pub helpful: bool,
}

/// Records whether an answer helped (once per turn; later ratings are ignored).
#[utoipa::path(post, path = "/api/v1/assistant/feedback", tag = "assistant", request_body = FeedbackRequest,
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn feedback(
    State(state): State<AppState>,
    principal: Option<Principal>,
    ApiJson(body): ApiJson<FeedbackRequest>,
) -> Result<StatusCode, ApiError> {
    let owner = citizen_person(principal.as_ref()).map(owner_of);
    let now = state.clock().now().trunc_subsecs(6);
    let mut tx = state.store().begin_write().await?;
    let found: Option<(Option<String>, Option<bool>)> = on_tx!(&mut tx, conn => {
        sqlx::query_as(
            "SELECT s.owner, t.helpful FROM assistant_turns t JOIN assistant_sessions s ON s.id = t.session_id \
             WHERE t.id = $1",
        )
        .bind(body.turn_id)
        .fetch_optional(&mut *conn)
        .await?
    });
    // Only the conversation's owner may rate it; anyone else learns nothing.
    let Some((turn_owner, rated)) = found.filter(|(turn_owner, _)| *turn_owner == owner) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "assistant.unknown_turn",
            "没有找到这条回答。",
        ));
    };
    if rated.is_none() {
        on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE assistant_turns SET helpful = $2 WHERE id = $1 AND helpful IS NULL")
                .bind(body.turn_id)
                .bind(body.helpful)
                .execute(&mut *conn)
                .await?;
        });
        tx.append_event(&NewEvent::new(
            "assistant.feedback",
            "assistant_turn",
            body.turn_id.to_string(),
            json!({ "helpful": body.helpful, "signed_in": turn_owner.is_some() }),
            now,
        ))
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// (session, entry) of the answers of the last days, oldest first: the popularity counts.
pub(crate) async fn recent_answers(state: &AppState) -> Result<Vec<(Uuid, String)>, ApiError> {
    let since: DateTime<Utc> = state.clock().now() - TimeDelta::days(POPULARITY_DAYS);
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as::<_, (Uuid, String)>(
            "SELECT session_id, entry_id FROM assistant_turns \
             WHERE entry_id IS NOT NULL AND created_at >= $1 ORDER BY created_at, id",
        )
        .bind(since)
        .fetch_all(pool)
        .await?
    }))
}

#[cfg(test)]
mod tests {
    use super::identifier_in;

    #[test]
    fn questions_naming_an_id_or_a_plate_are_lookups() {
        assert_eq!(
            identifier_in("查一下 51010419900101001x 的公积金余额").as_deref(),
            Some("51010419900101001X")
        );
        assert_eq!(
            identifier_in("身份证510104900101003还有违章吗").as_deref(),
            Some("510104900101003")
        );
        assert_eq!(
            identifier_in("川a·12345 有几条违章").as_deref(),
            Some("川A12345")
        );
        // A phone (11 digits), an amount and a year are not identifiers.
        assert_eq!(identifier_in("13800000001 是我的手机"), None);
        assert_eq!(identifier_in("2025年公积金能贷多少，月缴 1200 元"), None);
    }
}
