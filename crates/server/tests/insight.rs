//! The cockpit's ingestion: domain events of the outbox folded into rollup cells, every event
//! counted once however often ingestion runs (the server's own worker runs it too), distinct
//! people counted by sketch, and — on PostgreSQL — an event that commits below the cursor still
//! counted, once.

mod common;

use bianmin_insight::rollup::{Cube, Granularity};
use bianmin_store::{Backend, NewEvent, on_pool};
use common::{TestApp, spawn_app};
use serde_json::json;

/// Ingests until a round reads nothing new.
async fn catch_up(app: &TestApp) {
    for _ in 0..100 {
        let round = bianmin_server::insight::ingest(&app.state).await.unwrap();
        if round.read == 0 {
            return;
        }
    }
    panic!("ingestion does not catch up");
}

fn service_use(subject: &str, department: &str, service: &str, latency_ms: u64) -> NewEvent {
    NewEvent::new(
        "service.used",
        "service",
        service,
        json!({
            "service": service, "department": department, "subject": subject,
            "district": "锦江区", "age_band": "25-34", "channel": "h5",
            "outcome": "ok", "latency_ms": latency_ms,
        }),
        chrono::Utc::now(),
    )
}

async fn append(app: &TestApp, events: &[NewEvent]) {
    let mut tx = app.state.store().begin_write().await.unwrap();
    tx.append_events(events).await.unwrap();
    tx.commit().await.unwrap();
}

/// (count, latency sum) of the service cube's day cells of `department`.
async fn day_totals(app: &TestApp, department: &str) -> (i64, i64) {
    on_pool!(app.db.store, pool => {
        sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT), CAST(COALESCE(SUM(latency_sum_ms), 0) AS BIGINT) FROM insight_cells \
             WHERE cube = $1 AND granularity = $2 AND department = $3",
        )
        .bind(Cube::Service.name())
        .bind(Granularity::Day.name())
        .bind(department)
        .fetch_one(pool)
        .await
        .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_folded_into_cells_once_with_their_people() {
    let app = spawn_app().await;
    let mut events = Vec::new();
    for n in 0..30 {
        // Six people, five uses each, 10 ms apart in latency.
        events.push(service_use(
            &format!("{:032x}", n % 6),
            "hpf",
            "hpf.account",
            10 * n,
        ));
    }
    events.push(service_use("feed", "traffic", "traffic.violations", 100));
    append(&app, &events).await;
    catch_up(&app).await;
    assert_eq!(day_totals(&app, "hpf").await, (30, 4350));
    assert_eq!(day_totals(&app, "traffic").await, (1, 100));

    // Again, and again: nothing counted twice.
    catch_up(&app).await;
    bianmin_server::insight::ingest(&app.state).await.unwrap();
    assert_eq!(day_totals(&app, "hpf").await, (30, 4350));

    // More events add to the same cells.
    append(
        &app,
        &[service_use(
            &format!("{:032x}", 99),
            "hpf",
            "hpf.account",
            5,
        )],
    )
    .await;
    catch_up(&app).await;
    assert_eq!(day_totals(&app, "hpf").await, (31, 4355));

    // The day cell's sketch counts the seven people; every cube agrees on the count.
    let sketches: Vec<Option<Vec<u8>>> = on_pool!(app.db.store, pool => {
        sqlx::query_scalar(
            "SELECT people FROM insight_cells WHERE cube = 'district' AND granularity = 'day' AND department = 'hpf'",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    });
    assert_eq!(sketches.len(), 1);
    let mut people =
        bianmin_insight::distinct::Distinct::from_bytes(sketches[0].as_ref().unwrap()).unwrap();
    assert_eq!(people.count(), 7);
    for cube in Cube::ALL {
        let (total,): (i64,) = on_pool!(app.db.store, pool => {
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM insight_cells WHERE cube = $1 AND granularity = 'day' AND department = 'hpf'",
            )
            .bind(cube.name())
            .fetch_one(pool)
            .await
            .unwrap()
        });
        assert_eq!(total, 31, "{}", cube.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_below_the_cursor_is_counted_once_on_postgres() {
    let app = spawn_app().await;
    if app.state.store().backend() != Backend::Postgres {
        // SQLite serialises writers: sequence numbers are taken in commit order.
        return;
    }
    append(&app, &[service_use("a1", "hpf", "hpf.account", 1)]).await;
    // A late transaction: its sequence number was taken, the others committed first.
    let late: i64 = on_pool!(app.db.store, pool => {
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('outbox_events', 'seq'))")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    append(&app, &[service_use("a2", "hpf", "hpf.account", 1)]).await;
    catch_up(&app).await;
    assert_eq!(day_totals(&app, "hpf").await.0, 2);
    let event = service_use("a3", "hpf", "hpf.account", 1);
    on_pool!(app.db.store, pool => {
        sqlx::query(
            "INSERT INTO outbox_events (seq, event_id, kind, aggregate, aggregate_id, payload, occurred_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(late)
        .bind(event.event_id)
        .bind(&event.kind)
        .bind(&event.aggregate)
        .bind(&event.aggregate_id)
        .bind(sqlx::types::Json(&event.payload))
        .bind(event.occurred_at)
        .execute(pool)
        .await
        .unwrap();
    });
    catch_up(&app).await;
    bianmin_server::insight::ingest(&app.state).await.unwrap();
    assert_eq!(day_totals(&app, "hpf").await.0, 3, "counted, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_query_their_own_department_and_small_cells_are_suppressed() {
    let app = spawn_app().await;
    let mut events = Vec::new();
    for n in 0..12 {
        events.push(service_use(
            &format!("{:032x}", n),
            "hpf",
            "hpf.account",
            40,
        ));
    }
    for n in 0..3 {
        events.push(service_use(
            &format!("{:032x}", 100 + n),
            "traffic",
            "traffic.violations",
            90,
        ));
    }
    append(&app, &events).await;
    catch_up(&app).await;
    let now = chrono::Utc::now();
    let range = format!(
        "from={}&to={}",
        (now - chrono::TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + chrono::TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let query = |rest: &str| format!("/api/v1/cockpit/query?metric=service_use&{range}&{rest}");

    let officer = app.login("officer-hpf").await;
    let response = app
        .get_as(&query("granularity=total&group_by=department"), &officer)
        .await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["department_scope"], "hpf");
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{answer}");
    assert_eq!(rows[0]["group"]["department"], "hpf");
    assert_eq!(rows[0]["count"], 12);
    assert_eq!(rows[0]["people"], 12);
    assert_eq!(rows[0]["latency_p50_ms"], 64);
    common::assert_problem(
        app.get_as(&query("granularity=total&department=traffic"), &officer)
            .await,
        403,
        "auth.forbidden",
    )
    .await;

    // The city's office sees every department; three people are too few to show.
    let city = app.login("officer-data").await;
    let answer: serde_json::Value = app
        .get_as(
            &query("granularity=day&group_by=department,district"),
            &city,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["cube"], "district");
    let rows = answer["rows"].as_array().unwrap();
    let traffic = rows
        .iter()
        .find(|row| row["group"]["department"] == "traffic")
        .unwrap();
    assert_eq!(traffic["suppressed"], true);
    assert!(traffic["count"].is_null() && traffic["people"].is_null());
    assert_eq!(answer["suppressed"], 1);

    let response = app
        .get_as(
            &query("granularity=total&group_by=service&format=csv"),
            &city,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    assert!(text.starts_with("bucket,service,count,people"), "{text}");
    assert!(text.contains(",hpf.account,12,12,"), "{text}");
    assert!(text.contains(",traffic.violations,,,"), "{text}");

    for bad in [
        "granularity=week",
        "granularity=total&group_by=district,service",
        "granularity=minute&group_by=district",
        "granularity=total&group_by=name",
    ] {
        common::assert_problem(
            app.get_as(&query(bad), &city).await,
            422,
            "cockpit.invalid_query",
        )
        .await;
    }
    let citizen = app.login("citizen-zhang").await;
    common::assert_problem(
        app.get_as(&query("granularity=total"), &citizen).await,
        403,
        "auth.forbidden",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_shows_a_new_event_of_the_officers_department_within_two_seconds() {
    let app = spawn_app().await;
    let officer = app.login("officer-hpf").await;
    let mut response = app
        .client
        .get(app.url("/api/v1/cockpit/live"))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let started = std::time::Instant::now();
    append(
        &app,
        &[
            service_use("t1", "traffic", "traffic.violations", 80),
            service_use("h1", "hpf", "hpf.account", 30),
        ],
    )
    .await;
    let mut seen = String::new();
    while !seen.contains("hpf.account") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(2), response.chunk())
            .await
            .expect("an event within two seconds")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(seen.contains("event: fact"), "{seen}");
    assert!(
        !seen.contains("traffic"),
        "another department's event: {seen}"
    );
    assert!(!seen.contains("\"subject\""), "{seen}");
}
