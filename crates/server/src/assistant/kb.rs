//! The knowledge base in the database: every entry with its current version, every version
//! ever saved, the starter entries imported into an empty database, `bianmin kb import` /
//! `export`, and the console's CRUD (bank operators and administrators). A change rebuilds the
//! assistant's index.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bianmin_assistant::Entry;
use bianmin_assistant::kb::{KnowledgeBase, parse_source};
use bianmin_store::{AuditEntry, Store, StoreError, Tx, on_pool, on_tx};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;

/// Who may edit the knowledge base.
const EDITORS: &[Role] = &[Role::BankOperator, Role::Admin];
/// The longest page of entries the console may ask for.
const MAX_PAGE: usize = 200;

/// An entry as the console sees it: the entry and its version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryView {
    /// The entry.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub entry: Entry,
    /// Its current version (send it back when saving).
    pub version: i64,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
    /// Who saved it (`principal:<id>`, `system`, `cli`).
    pub updated_by: String,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    body: String,
    version: i64,
    deleted: bool,
    updated_at: DateTime<Utc>,
    updated_by: String,
}

impl EntryRow {
    fn view(self) -> Result<EntryView, ApiError> {
        Ok(EntryView {
            entry: serde_json::from_str(&self.body).map_err(ApiError::internal)?,
            version: self.version,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        })
    }
}

fn now(state: &AppState) -> DateTime<Utc> {
    state.clock().now().trunc_subsecs(6)
}

/// The entries in force (not deleted), by id.
pub async fn load_entries(store: &Store) -> Result<Vec<Entry>, ApiError> {
    let rows: Vec<(String,)> = on_pool!(store, pool => {
        sqlx::query_as("SELECT body FROM kb_entries WHERE deleted = $1 ORDER BY id")
            .bind(false)
            .fetch_all(pool)
            .await?
    });
    rows.into_iter()
        .map(|(body,)| serde_json::from_str(&body).map_err(ApiError::internal))
        .collect()
}

/// Imports the starter knowledge base when the database has no entry at all (a fresh
/// installation); an installation whose entries were all deleted stays empty.
pub async fn seed_if_empty(store: &Store, at: DateTime<Utc>) -> Result<usize, ApiError> {
    let (count,): (i64,) = on_pool!(store, pool => {
        sqlx::query_as("SELECT COUNT(*) FROM kb_entries").fetch_one(pool).await?
    });
    if count > 0 {
        return Ok(0);
    }
    let report = import(
        store,
        &KnowledgeBase::starter().entries,
        "system",
        at.trunc_subsecs(6),
    )
    .await?;
    Ok(report.created)
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// New entries.
    pub created: usize,
    /// Entries whose text changed (a new version each).
    pub updated: usize,
    /// Entries already as imported.
    pub unchanged: usize,
}

/// Saves `entries` (already validated) in one transaction: new ids get version 1, changed
/// entries a new version, identical ones nothing; a deleted entry imported again comes back.
pub async fn import(
    store: &Store,
    entries: &[Entry],
    actor: &str,
    at: DateTime<Utc>,
) -> Result<ImportReport, ApiError> {
    let policies = KnowledgeBase::starter();
    for entry in entries {
        check_source(&policies, entry)?;
    }
    let mut report = ImportReport::default();
    let mut tx = store.begin_write().await?;
    for entry in entries {
        let body = serde_json::to_string(entry).map_err(ApiError::internal)?;
        match current(&mut tx, &entry.id).await? {
            None => {
                write_version(&mut tx, &entry.id, 1, "import", &body, false, actor, at).await?;
                report.created += 1;
            }
            Some(row) if row.body == body && !row.deleted => report.unchanged += 1,
            Some(row) => {
                write_version(
                    &mut tx,
                    &entry.id,
                    row.version + 1,
                    "import",
                    &body,
                    false,
                    actor,
                    at,
                )
                .await?;
                report.updated += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// Every entry (not deleted) as JSONL, by id.
pub async fn export(store: &Store) -> Result<String, ApiError> {
    Ok(bianmin_assistant::kb::to_jsonl(&load_entries(store).await?))
}

fn check_source(kb: &KnowledgeBase, entry: &Entry) -> Result<(), ApiError> {
    entry
        .validate()
        .map_err(|error| ApiError::invalid("kb.invalid_entry", error.to_string()))?;
    if let Some(source) = &entry.source
        && kb.passage(source).is_none()
    {
        let known = parse_source(source).map_or(String::new(), |(doc, _)| doc.to_owned());
        return Err(ApiError::invalid(
            "kb.unknown_source",
            format!(
                "{}：依据 {source} 不存在（政策文件 {known} 中没有该条）。",
                entry.id
            ),
        ));
    }
    Ok(())
}

/// The entry's row, locked for the rest of `tx` (PostgreSQL; SQLite's write transaction
/// already excludes other writers), so two saves of one version cannot both pass the check.
async fn current(tx: &mut Tx, id: &str) -> Result<Option<EntryRow>, ApiError> {
    const COLUMNS: &str =
        "SELECT body, version, deleted, updated_at, updated_by FROM kb_entries WHERE id = $1";
    Ok(match tx {
        Tx::Sqlite(conn) => sqlx::query_as::<_, EntryRow>(COLUMNS)
            .bind(id)
            .fetch_optional(&mut **conn)
            .await
            .map_err(StoreError::from)?,
        Tx::Postgres(conn) => sqlx::query_as::<_, EntryRow>(
            "SELECT body, version, deleted, updated_at, updated_by FROM kb_entries WHERE id = $1 \
             FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut **conn)
        .await
        .map_err(StoreError::from)?,
    })
}

/// Writes version `version` of entry `id` and makes it current.
#[allow(clippy::too_many_arguments)]
async fn write_version(
    tx: &mut Tx,
    id: &str,
    version: i64,
    action: &str,
    body: &str,
    deleted: bool,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO kb_entry_versions (entry_id, version, action, body, changed_at, changed_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(version)
        .bind(action)
        .bind(body)
        .bind(at)
        .bind(actor)
        .execute(&mut *conn)
        .await?;
        // A new entry, or the next version of the current one (a stale one changes nothing).
        sqlx::query(
            "INSERT INTO kb_entries (id, version, body, deleted, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body, \
             deleted = excluded.deleted, updated_at = excluded.updated_at, updated_by = excluded.updated_by \
             WHERE kb_entries.version = excluded.version - 1",
        )
        .bind(id)
        .bind(version)
        .bind(body)
        .bind(deleted)
        .bind(at)
        .bind(actor)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// Query of `GET /api/v1/console/kb/entries`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Words that must appear in the id, question, variants, answer or tags.
    pub q: Option<String>,
    /// Topic: the id prefix (`hpf`, `si`, `traffic`, `loan`, `account`, …).
    pub topic: Option<String>,
    /// Entries skipped.
    pub offset: Option<usize>,
    /// Entries returned (default 50, at most 200).
    pub limit: Option<usize>,
}

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryPage {
    /// The entries, by id.
    pub entries: Vec<EntryView>,
    /// Entries matching in all.
    pub total: usize,
}

/// The knowledge base's entries for the console.
#[utoipa::path(get, path = "/api/v1/console/kb/entries", tag = "assistant", params(ListQuery),
    responses((status = 200, body = EntryPage), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    principal.require(EDITORS)?;
    // The first use of a fresh installation imports the starter entries.
    state.assistant().get(&state).await?;
    let rows: Vec<EntryRow> = on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT body, version, deleted, updated_at, updated_by FROM kb_entries \
             WHERE deleted = $1 ORDER BY id",
        )
        .bind(false)
        .fetch_all(pool)
        .await?
    });
    let needle = query
        .q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_lowercase();
    let topic = query.topic.as_deref().map(str::trim).unwrap_or_default();
    let mut matching = Vec::new();
    for row in rows {
        let view = row.view()?;
        let entry = &view.entry;
        let in_topic = topic.is_empty() || bianmin_assistant::answer::topic_of(&entry.id) == topic;
        let found = needle.is_empty()
            || entry.id.contains(&needle)
            || std::iter::once(&entry.question)
                .chain(&entry.variants)
                .chain(std::iter::once(&entry.answer))
                .chain(&entry.tags)
                .any(|text| text.to_lowercase().contains(&needle));
        if in_topic && found {
            matching.push(view);
        }
    }
    let total = matching.len();
    let offset = query.offset.unwrap_or(0);
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let entries = matching.into_iter().skip(offset).take(limit).collect();
    Ok(no_store(EntryPage { entries, total }))
}

/// One saved version of an entry.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct VersionView {
    /// Version number.
    pub version: i64,
    /// `import`, `create`, `update` or `delete`.
    pub action: String,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// Who.
    pub changed_by: String,
}

/// An entry with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryDetail {
    /// The current version.
    pub entry: EntryView,
    /// Every version, newest first.
    pub versions: Vec<VersionView>,
}

fn unknown_entry() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "kb.unknown_entry",
        "知识库中没有这条问答。",
    )
}

/// One entry and its versions.
#[utoipa::path(get, path = "/api/v1/console/kb/entries/{id}", tag = "assistant",
    params(("id" = String, Path, description = "entry id")),
    responses((status = 200, body = EntryDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn detail(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    principal.require(EDITORS)?;
    state.assistant().get(&state).await?;
    let (row, versions) = on_pool!(state.store(), pool => {
        let row: Option<EntryRow> = sqlx::query_as(
            "SELECT body, version, deleted, updated_at, updated_by FROM kb_entries WHERE id = $1",
        )
        .bind(&id)
        .fetch_optional(pool)
        .await?;
        let versions: Vec<VersionView> = sqlx::query_as(
            "SELECT version, action, changed_at, changed_by FROM kb_entry_versions \
             WHERE entry_id = $1 ORDER BY version DESC",
        )
        .bind(&id)
        .fetch_all(pool)
        .await?;
        (row, versions)
    });
    let row = row.filter(|row| !row.deleted).ok_or_else(unknown_entry)?;
    Ok(no_store(EntryDetail {
        entry: row.view()?,
        versions,
    }))
}

/// Body of a save: the entry and, for an update, the version it was edited from.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SaveEntry {
    /// The entry.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub entry: Entry,
    /// The version edited (updates only).
    pub version: Option<i64>,
}

fn stale() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "kb.stale_version",
        "这条问答已被他人修改，请刷新后在最新版本上编辑。",
    )
}

async fn save(
    state: &AppState,
    principal: &Principal,
    entry: Entry,
    expected: Option<i64>,
) -> Result<(StatusCode, EntryView), ApiError> {
    principal.require(EDITORS)?;
    check_source(&KnowledgeBase::starter(), &entry)?;
    state.assistant().get(state).await?;
    let body = serde_json::to_string(&entry).map_err(ApiError::internal)?;
    let at = now(state);
    let actor = principal.audit_actor();
    let mut tx = state.store().begin_write().await?;
    let existing = current(&mut tx, &entry.id).await?;
    let (status, version, action) = match (existing, expected) {
        (None, None) => (StatusCode::CREATED, 1, "create"),
        (Some(row), None) if row.deleted => (StatusCode::CREATED, row.version + 1, "create"),
        (Some(_), None) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "kb.entry_exists",
                format!("编号 {} 已被使用，请换一个编号。", entry.id),
            ));
        }
        (Some(row), Some(expected)) if row.version == expected && !row.deleted => {
            (StatusCode::OK, row.version + 1, "update")
        }
        (Some(_), Some(_)) => return Err(stale()),
        (None, Some(_)) => return Err(unknown_entry()),
    };
    write_version(
        &mut tx, &entry.id, version, action, &body, false, &actor, at,
    )
    .await?;
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor: actor.clone(),
            action: format!("kb.{action}"),
            target: format!("kb_entry:{}", entry.id),
            purpose: None,
            details: json!({ "version": version }),
            occurred_at: at,
        },
    )
    .await?;
    tx.commit().await?;
    state.assistant().rebuild(state).await?;
    Ok((
        status,
        EntryView {
            entry,
            version,
            updated_at: at,
            updated_by: actor,
        },
    ))
}

/// Creates an entry (version 1).
#[utoipa::path(post, path = "/api/v1/console/kb/entries", tag = "assistant", request_body = SaveEntry,
    responses((status = 201, body = EntryView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SaveEntry>,
) -> Result<Response, ApiError> {
    if body.version.is_some() {
        return Err(ApiError::invalid(
            "kb.version_on_create",
            "新建问答时不要带 version。",
        ));
    }
    let (status, view) = save(&state, &principal, body.entry, None).await?;
    let mut response = no_store(view);
    *response.status_mut() = status;
    Ok(response)
}

/// Saves a new version of an entry edited from `version`; 409 when another save came first.
#[utoipa::path(put, path = "/api/v1/console/kb/entries/{id}", tag = "assistant", request_body = SaveEntry,
    params(("id" = String, Path, description = "entry id")),
    responses((status = 200, body = EntryView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SaveEntry>,
) -> Result<Response, ApiError> {
    if body.entry.id != id {
        return Err(ApiError::invalid(
            "kb.id_mismatch",
            "地址中的编号与内容中的编号不一致。",
        ));
    }
    let version = body.version.ok_or_else(|| {
        ApiError::invalid(
            "kb.version_required",
            "保存修改须带上所编辑的版本号 version。",
        )
    })?;
    let (_, view) = save(&state, &principal, body.entry, Some(version)).await?;
    Ok(no_store(view))
}

/// Query of a delete.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteQuery {
    /// The version being deleted.
    pub version: i64,
}

/// Deletes an entry (a new version marked deleted; the history stays).
#[utoipa::path(delete, path = "/api/v1/console/kb/entries/{id}", tag = "assistant", params(("id" = String, Path, description = "entry id"), DeleteQuery),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    principal.require(EDITORS)?;
    let at = now(&state);
    let actor = principal.audit_actor();
    let mut tx = state.store().begin_write().await?;
    let row = current(&mut tx, &id)
        .await?
        .filter(|row| !row.deleted)
        .ok_or_else(unknown_entry)?;
    if row.version != query.version {
        return Err(stale());
    }
    write_version(
        &mut tx,
        &id,
        row.version + 1,
        "delete",
        &row.body,
        true,
        &actor,
        at,
    )
    .await?;
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor,
            action: "kb.delete".into(),
            target: format!("kb_entry:{id}"),
            purpose: None,
            details: json!({ "version": row.version + 1 }),
            occurred_at: at,
        },
    )
    .await?;
    tx.commit().await?;
    state.assistant().rebuild(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}
