//! The cockpit's query API: one endpoint over the rollup cells — a metric over a time range, at a
//! granularity (or one total), filtered and grouped by dimensions — answered from the smallest
//! cube that has them, with distinct people merged from the day cells' sketches, latency
//! percentiles from the summed histograms, cells of fewer than five people suppressed, and each
//! government officer held to their own department. JSON or CSV.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bianmin_insight::fact::{Metric, from_event};
use bianmin_insight::privacy::may_show;
use bianmin_insight::rollup::{Cell, Cube, Granularity, cover};
use bianmin_store::on_pool;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::no_store;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;
use crate::insight::CellRow;

/// The dimensions a query may filter or group by.
pub const DIMENSIONS: [&str; 6] = [
    "service",
    "department",
    "district",
    "channel",
    "outcome",
    "age_band",
];
/// The departments whose officers see every department (the city's 政务服务管理办).
const ALL_DEPARTMENTS: &[&str] = &["data"];

/// Query of `GET /api/v1/cockpit/query`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CockpitQuery {
    /// `service_use`, `loan_applied`, `loan_decided`, `loan_signed`, `loan_drawn`,
    /// `assistant_turn`, `survey`.
    pub metric: String,
    /// Start of the range (RFC 3339; rounded down to its bucket).
    pub from: DateTime<Utc>,
    /// End of the range, exclusive (RFC 3339).
    pub to: DateTime<Utc>,
    /// `minute` (≤ 2 days), `hour` (≤ 31 days), `day` (≤ 400 days), `month` (≤ 800 days), or
    /// `total` (one row per group over the whole range, from month cells for whole months and
    /// day cells for the rest; people counted once over the range).
    pub granularity: String,
    /// Dimensions to group by, comma-separated.
    pub group_by: Option<String>,
    /// Filters: only this service, department, district, channel, outcome or age band.
    pub service: Option<String>,
    /// See `service`.
    pub department: Option<String>,
    /// See `service`.
    pub district: Option<String>,
    /// See `service`.
    pub channel: Option<String>,
    /// See `service`.
    pub outcome: Option<String>,
    /// See `service`.
    pub age_band: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One row of an answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Row {
    /// The bucket's start (absent for `total`).
    pub bucket: Option<DateTime<Utc>>,
    /// The group's values, by dimension.
    pub group: BTreeMap<String, String>,
    /// Facts (null when suppressed).
    pub count: Option<u64>,
    /// Distinct people, where the events name them and the cells are days (null otherwise or
    /// when suppressed).
    pub people: Option<u64>,
    /// Mean latency, ms.
    pub latency_avg_ms: Option<f64>,
    /// Median latency (upper edge of its power-of-two bucket), ms.
    pub latency_p50_ms: Option<u64>,
    /// 99th percentile latency, likewise.
    pub latency_p99_ms: Option<u64>,
    /// The row describes fewer than five people and is not shown.
    pub suppressed: bool,
}

/// An answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Answer {
    /// The metric.
    pub metric: String,
    /// The granularity.
    pub granularity: String,
    /// The cube read.
    pub cube: String,
    /// The range read.
    pub from: DateTime<Utc>,
    /// Its end, exclusive.
    pub to: DateTime<Utc>,
    /// The department the caller was held to, if any.
    pub department_scope: Option<String>,
    /// Rows, by bucket then group.
    pub rows: Vec<Row>,
    /// Rows suppressed.
    pub suppressed: usize,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::invalid("cockpit.invalid_query", detail)
}

/// The department a caller is held to: an officer's own, unless their department sees all;
/// `None` for administrators and all-seeing officers.
fn scope(principal: &Principal) -> Result<Option<String>, ApiError> {
    principal.require(&[Role::GovernmentOfficer, Role::Admin])?;
    if principal.role == Role::Admin {
        return Ok(None);
    }
    let department = principal
        .department
        .map(|department| department.code)
        .ok_or_else(|| ApiError::forbidden("未设置所属部门，无法查看驾驶舱数据。"))?;
    Ok((!ALL_DEPARTMENTS.contains(&department)).then(|| department.to_owned()))
}

/// A metric over time and dimensions, from the rollups.
#[utoipa::path(get, path = "/api/v1/cockpit/query", tag = "cockpit", params(CockpitQuery),
    responses((status = 200, body = Answer), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn query(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CockpitQuery>,
) -> Result<Response, ApiError> {
    let held_to = scope(&principal)?;
    let metric = Metric::parse(&query.metric)
        .ok_or_else(|| invalid(format!("未知指标 {}。", query.metric)))?;
    let total = query.granularity == "total";
    let granularity = if total {
        Granularity::Day
    } else {
        Granularity::parse(&query.granularity)
            .ok_or_else(|| invalid("粒度须为 minute、hour、day、month 或 total。"))?
    };
    let from = granularity.bucket(query.from);
    let to = query.to;
    let longest = match granularity {
        Granularity::Minute => TimeDelta::days(2),
        Granularity::Hour => TimeDelta::days(31),
        Granularity::Day => TimeDelta::days(400),
        Granularity::Month => TimeDelta::days(800),
    };
    if to <= from || to - from > longest {
        return Err(invalid(format!(
            "时间范围须为正且不超过 {} 天（粒度 {}）。",
            longest.num_days(),
            query.granularity
        )));
    }
    let group_by: Vec<String> = query
        .group_by
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = group_by
        .iter()
        .find(|name| !DIMENSIONS.contains(&name.as_str()))
    {
        return Err(invalid(format!("不能按 {unknown} 分组。")));
    }
    let mut filters: Vec<(&str, String)> = [
        ("service", &query.service),
        ("department", &query.department),
        ("district", &query.district),
        ("channel", &query.channel),
        ("outcome", &query.outcome),
        ("age_band", &query.age_band),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|value| (name, value)))
    .collect();
    if let Some(own) = &held_to {
        match filters.iter().find(|(name, _)| *name == "department") {
            Some((_, asked)) if asked != own => {
                return Err(ApiError::forbidden("只能查看本部门的数据。"));
            }
            Some(_) => {}
            None => filters.push(("department", own.clone())),
        }
    }
    let needed: Vec<&str> = group_by
        .iter()
        .map(String::as_str)
        .chain(filters.iter().map(|(name, _)| *name))
        .collect();
    // A total reads whole months as month cells and the days around them as day cells.
    let spans: Vec<Span> = if total {
        spans(&cover(from, to))
    } else {
        vec![(granularity, from, to)]
    };
    let granularities: Vec<Granularity> = if total {
        vec![Granularity::Day, Granularity::Month]
    } else {
        vec![granularity]
    };
    let cube = Cube::for_query(&needed, &granularities).ok_or_else(|| {
        if Cube::for_query(&needed, &[]).is_some() {
            invalid(format!(
                "{} 维度的汇总没有 {} 粒度。",
                needed.join("、"),
                query.granularity
            ))
        } else {
            invalid(format!(
                "没有同时包含 {} 的汇总，请减少分组或筛选维度。",
                needed.join("、")
            ))
        }
    })?;
    // Closed buckets (ended before today) are read once per closed generation and kept; the
    // rest is read every time.
    let today = Granularity::Day.bucket(state.clock().now());
    let (closed, open) = split_closed(&spans, today);
    let fold = |groups: &mut Groups, rows: Vec<CellRow>| -> Result<(), ApiError> {
        for row in rows {
            if filters
                .iter()
                .any(|(name, value)| row.dimension(name) != value)
            {
                continue;
            }
            let key = (
                (!total).then_some(row.bucket),
                group_by
                    .iter()
                    .map(|name| row.dimension(name).to_owned())
                    .collect(),
            );
            let cell = row.cell()?;
            groups.entry(key).or_default().merge(&cell);
        }
        Ok(())
    };
    let mut groups: Groups = if closed.is_empty() {
        Groups::new()
    } else {
        let generation = crate::insight::closed_generation(&state).await?;
        let key = format!(
            "{}|{}|{total}|{group_by:?}|{filters:?}|{closed:?}",
            cube.name(),
            metric.name()
        );
        match state.cockpit_cache().get(&key, generation) {
            Some(groups) => (*groups).clone(),
            None => {
                let mut groups = Groups::new();
                fold(
                    &mut groups,
                    read_cells(&state, cube, metric, &closed).await?,
                )?;
                state
                    .cockpit_cache()
                    .put(key, generation, Arc::new(groups.clone()));
                groups
            }
        }
    };
    fold(&mut groups, read_cells(&state, cube, metric, &open).await?)?;
    let mut suppressed = 0;
    let rows: Vec<Row> = groups
        .into_iter()
        .map(|((bucket, values), mut cell)| {
            let people = cell.people.as_mut().map(|people| people.count());
            let shown = may_show(cell.count, people);
            suppressed += usize::from(!shown);
            Row {
                bucket,
                group: group_by.iter().cloned().zip(values).collect(),
                count: shown.then_some(cell.count),
                people: people.filter(|_| shown),
                latency_avg_ms: (shown && cell.timed > 0)
                    .then(|| cell.latency_sum_ms as f64 / cell.timed as f64),
                latency_p50_ms: cell.latency_quantile_ms(0.5).filter(|_| shown),
                latency_p99_ms: cell.latency_quantile_ms(0.99).filter(|_| shown),
                suppressed: !shown,
            }
        })
        .collect();
    let answer = Answer {
        metric: metric.name().to_owned(),
        granularity: query.granularity.clone(),
        cube: cube.name().to_owned(),
        from,
        to,
        department_scope: held_to,
        rows,
        suppressed,
    };
    if query.format.as_deref() == Some("csv") {
        return Ok(csv(&answer, &group_by));
    }
    Ok(no_store(answer))
}

/// Rows by bucket (absent for a total) and group values, each the sum of its cells.
type Groups = BTreeMap<(Option<DateTime<Utc>>, Vec<String>), Cell>;

/// Buckets of one granularity from a start to an end (exclusive).
type Span = (Granularity, DateTime<Utc>, DateTime<Utc>);

/// A query's spans cut into those of closed buckets — day and month buckets that ended before
/// `today` began, which change only when the closed generation does — and the rest.
fn split_closed(spans: &[Span], today: DateTime<Utc>) -> (Vec<Span>, Vec<Span>) {
    let (mut closed, mut open) = (Vec::new(), Vec::new());
    for &(granularity, start, end) in spans {
        let cut = match granularity {
            Granularity::Day => today,
            Granularity::Month => Granularity::Month.bucket(today),
            Granularity::Minute | Granularity::Hour => start,
        };
        if start < cut.min(end) {
            closed.push((granularity, start, cut.min(end)));
        }
        if cut.max(start) < end {
            open.push((granularity, cut.max(start), end));
        }
    }
    (closed, open)
}

/// The cells of `cube` and `metric` in `spans`.
async fn read_cells(
    state: &AppState,
    cube: Cube,
    metric: Metric,
    spans: &[Span],
) -> Result<Vec<CellRow>, ApiError> {
    let mut rows: Vec<CellRow> = Vec::new();
    for &(granularity, start, end) in spans {
        let mut span: Vec<CellRow> = on_pool!(state.store(), pool => {
            sqlx::query_as(
                "SELECT bucket, service, department, district, channel, outcome, age_band, \
                 count, timed, latency_sum_ms, latency, people FROM insight_cells \
                 WHERE cube = $1 AND granularity = $2 AND metric = $3 AND bucket >= $4 AND bucket < $5",
            )
            .bind(cube.name())
            .bind(granularity.name())
            .bind(metric.name())
            .bind(start)
            .bind(end)
            .fetch_all(pool)
            .await?
        });
        rows.append(&mut span);
    }
    Ok(rows)
}

/// What queries read of closed buckets, by query, with the closed generation it was read at.
#[derive(Default)]
pub struct ClosedCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (i64, Arc<Groups>)>>,
}

/// Queries whose closed part is kept (beyond it the cache starts over: the big screen asks a
/// few dozen).
const CLOSED_CACHE_ENTRIES: usize = 512;

impl ClosedCache {
    fn get(&self, key: &str, generation: i64) -> Option<Arc<Groups>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| *at == generation)
            .map(|(_, groups)| groups.clone())
    }

    fn put(&self, key: String, generation: i64, groups: Arc<Groups>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if entries.len() >= CLOSED_CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (generation, groups));
    }
}

/// Consecutive buckets of one granularity joined into `(granularity, from, to)` spans, one query
/// each.
fn spans(
    buckets: &[(Granularity, DateTime<Utc>)],
) -> Vec<(Granularity, DateTime<Utc>, DateTime<Utc>)> {
    let mut spans: Vec<(Granularity, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (granularity, bucket) in buckets {
        let end = granularity.next(*bucket);
        match spans.last_mut() {
            Some((last, _, until)) if last == granularity && until == bucket => *until = end,
            _ => spans.push((*granularity, *bucket, end)),
        }
    }
    spans
}

/// How often the live stream looks for new events.
const LIVE_POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// How long one live stream lasts (the browser's EventSource reconnects).
const LIVE_SECS: u64 = 3_600;

/// A fact as the live ticker shows it: no subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveFact {
    /// When.
    pub at: DateTime<Utc>,
    /// What (`service_use`, `loan_decided` …).
    pub metric: &'static str,
    /// The service.
    pub service: String,
    /// The department.
    pub department: String,
    /// The district's code, if known.
    pub district: Option<String>,
    /// The outcome.
    pub outcome: String,
    /// How long it took, if known.
    pub latency_ms: Option<u64>,
}

/// Events a reconnecting stream may replay (after `Last-Event-ID`).
const LIVE_REPLAY: i64 = 1_000;

/// The cockpit's live ticker (`text/event-stream`): each new countable event as a `fact`
/// event, within half a second of its commit, held to the viewer's department. Each event's id
/// is its outbox sequence number: a browser that reconnects with `Last-Event-ID` gets what it
/// missed (up to the last 1,000 events) before the new ones.
#[utoipa::path(get, path = "/api/v1/cockpit/live", tag = "cockpit",
    responses((status = 200, description = "text/event-stream of `fact` events"), (status = 403, body = Problem)))]
pub async fn live(
    State(state): State<AppState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let held_to = scope(&principal)?;
    let (newest,): (Option<i64>,) = on_pool!(state.store(), pool => {
        sqlx::query_as("SELECT MAX(seq) FROM outbox_events").fetch_one(pool).await?
    });
    let newest = newest.unwrap_or(0);
    let resumed = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok())
        .filter(|seen| *seen >= 0 && *seen <= newest);
    let last = resumed.map_or(newest, |seen| seen.max(newest - LIVE_REPLAY));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, std::convert::Infallible>>(256);
    tokio::spawn(async move {
        let mut last = last;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(LIVE_SECS);
        while tokio::time::Instant::now() < deadline && !tx.is_closed() {
            let events = match state.store().events_after(last, 500).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "cockpit live stream: reading the outbox failed");
                    Vec::new()
                }
            };
            for event in events {
                last = last.max(event.seq);
                let Some(fact) = from_event(&event.kind, &event.payload.0, event.occurred_at)
                else {
                    continue;
                };
                if held_to.as_ref().is_some_and(|own| *own != fact.department) {
                    continue;
                }
                let live = LiveFact {
                    at: fact.at,
                    metric: fact.metric.name(),
                    service: fact.service,
                    department: fact.department,
                    district: fact.district,
                    outcome: fact.outcome,
                    latency_ms: fact.latency_ms,
                };
                let data = serde_json::to_string(&live).unwrap_or_default();
                if tx
                    .send(Ok(Event::default()
                        .event("fact")
                        .id(event.seq.to_string())
                        .data(data)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            tokio::time::sleep(LIVE_POLL).await;
        }
    });
    let mut response = Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn csv(answer: &Answer, group_by: &[String]) -> Response {
    let mut out = String::from("bucket");
    for name in group_by {
        out.push(',');
        out.push_str(name);
    }
    out.push_str(",count,people,latency_avg_ms,latency_p50_ms,latency_p99_ms,suppressed\n");
    let cell = |value: &str| {
        if value.contains([',', '"', '\n']) {
            format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value.to_owned()
        }
    };
    for row in &answer.rows {
        out.push_str(
            &row.bucket
                .map(|bucket| bucket.to_rfc3339())
                .unwrap_or_default(),
        );
        for name in group_by {
            out.push(',');
            out.push_str(&cell(
                row.group.get(name).map(String::as_str).unwrap_or_default(),
            ));
        }
        let number = |value: Option<u64>| value.map(|value| value.to_string()).unwrap_or_default();
        out.push_str(&format!(
            ",{},{},{},{},{},{}\n",
            number(row.count),
            number(row.people),
            row.latency_avg_ms
                .map(|value| format!("{value:.1}"))
                .unwrap_or_default(),
            number(row.latency_p50_ms),
            number(row.latency_p99_ms),
            row.suppressed
        ));
    }
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        out,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"cockpit.csv\""),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
