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

/// Reads the stream until it has shown `needle`, allowing two seconds a chunk.
async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(2), response.chunk())
            .await
            .unwrap_or_else(|_| panic!("{needle:?} within two seconds; so far: {seen}"))
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
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
    let seen = read_until(&mut response, "hpf.account").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(seen.contains("event: fact"), "{seen}");
    assert!(
        !seen.contains("traffic"),
        "another department's event: {seen}"
    );
    assert!(!seen.contains("\"subject\""), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_live_stream_gets_what_it_missed() {
    let app = spawn_app().await;
    let officer = app.login("officer-hpf").await;
    let open = |last: Option<String>| {
        let mut request = app
            .client
            .get(app.url("/api/v1/cockpit/live"))
            .bearer_auth(&officer);
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        request.send()
    };
    let mut first = open(None).await.unwrap();
    append(&app, &[service_use("m1", "hpf", "hpf.account", 30)]).await;
    let seen = read_until(&mut first, "\n\n").await;
    let id = seen
        .lines()
        .find_map(|line| line.strip_prefix("id:"))
        .expect("each event carries its id")
        .trim()
        .to_owned();
    drop(first);

    // Missed while disconnected: one of ours, one of another department's.
    append(
        &app,
        &[
            service_use("m2", "traffic", "traffic.violations", 80),
            service_use("m3", "hpf", "hpf.deposits", 31),
        ],
    )
    .await;
    let mut again = open(Some(id.clone())).await.unwrap();
    let seen = read_until(&mut again, "hpf.deposits").await;
    assert!(!seen.contains("traffic"), "{seen}");
    assert!(
        !seen.contains("hpf.account"),
        "nothing before the last id: {seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_history_is_loaded_once_and_totals_read_months_and_days() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let today = (now + chrono::TimeDelta::hours(8)).date_naive();
    let config = bianmin_insight::history::HistoryConfig {
        seed: 7,
        end: today,
        days: 120,
        scale: 0.05,
    };
    let load = bianmin_server::insight::load_history(&app.state, &config, now)
        .await
        .unwrap()
        .expect("loaded the first time");
    assert!(load.facts > 5_000, "{load:?}");
    assert!(
        bianmin_server::insight::load_history(&app.state, &config, now)
            .await
            .unwrap()
            .is_none(),
        "not twice"
    );
    // Live events land in the same cells as the history.
    append(&app, &[service_use("live-1", "hpf", "hpf.account", 12)]).await;
    catch_up(&app).await;

    let city = app.login("officer-data").await;
    let fetch = |rest: String| {
        let app = &app;
        let city = &city;
        async move {
            let response = app
                .get_as(
                    &format!("/api/v1/cockpit/query?metric=service_use&{rest}"),
                    city,
                )
                .await;
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let from = (now - chrono::TimeDelta::days(130)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (now + chrono::TimeDelta::minutes(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let total = fetch(format!("from={from}&to={to}&granularity=total")).await;
    assert_eq!(total["cube"], "reach");
    let daily = fetch(format!("from={from}&to={to}&granularity=day")).await;
    let monthly = fetch(format!("from={from}&to={to}&granularity=month")).await;
    let sum = |answer: &serde_json::Value| {
        answer["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["count"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let count = total["rows"][0]["count"].as_u64().unwrap();
    assert_eq!(monthly["suppressed"], 0, "{monthly}");
    assert_eq!(count, sum(&monthly), "months and days add up to the months");
    // The history's first days are small enough to be suppressed as days.
    let suppressed = daily["suppressed"].as_u64().unwrap();
    assert!(sum(&daily) <= count && (suppressed > 0 || sum(&daily) == count));
    assert!(count > 4_000);
    // People over the range from month and day sketches: at most the sum of the months' people,
    // at least the largest month's.
    let people = total["rows"][0]["people"].as_u64().unwrap();
    let months: Vec<u64> = monthly["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["people"].as_u64().unwrap())
        .collect();
    assert!(months.len() >= 4, "{monthly}");
    assert!(people <= months.iter().sum::<u64>() && people >= *months.iter().max().unwrap());
    // By district, the same total.
    let districts = fetch(format!(
        "from={from}&to={to}&granularity=total&group_by=district"
    ))
    .await;
    assert_eq!(districts["cube"], "district");
    let shown: u64 = sum(&districts);
    assert!(
        shown <= count && shown * 100 >= count * 99,
        "{shown} of {count}"
    );

    // Minute cells only for the last three days; pruning drops what has aged since.
    let oldest_minute: Option<chrono::DateTime<chrono::Utc>> = on_pool!(app.db.store, pool => {
        sqlx::query_scalar("SELECT MIN(bucket) FROM insight_cells WHERE granularity = 'minute'")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!(
        oldest_minute.unwrap() >= now - chrono::TimeDelta::days(3) - chrono::TimeDelta::minutes(1)
    );
    let deleted = bianmin_server::insight::prune(&app.state, now + chrono::TimeDelta::days(2))
        .await
        .unwrap();
    assert!(deleted > 0);
    let (minutes, days): (i64, i64) = on_pool!(app.db.store, pool => {
        sqlx::query_as(
            "SELECT CAST(SUM(CASE WHEN granularity = 'minute' AND bucket < $1 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN granularity = 'day' THEN 1 ELSE 0 END) AS BIGINT) FROM insight_cells",
        )
        // The oldest kept minute at the later clock: the one holding (now + 2 days) − 3 days.
        .bind(Granularity::Minute.bucket(now - chrono::TimeDelta::days(1)))
        .fetch_one(pool)
        .await
        .unwrap()
    });
    assert_eq!(
        minutes, 0,
        "minutes older than three days at the later clock are gone"
    );
    assert!(days > 0, "days are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_event_in_a_closed_day_is_seen_by_a_query_that_read_that_day_before() {
    let app = spawn_app().await;
    let now = app.state.clock().now();
    let days_ago = |days: i64, subject: &str| {
        let mut event = service_use(subject, "hpf", "hpf.account", 20);
        event.occurred_at = now - chrono::TimeDelta::days(days);
        event
    };
    let first: Vec<NewEvent> = (0..6).map(|n| days_ago(3, &format!("p{n}"))).collect();
    append(&app, &first).await;
    catch_up(&app).await;
    let city = app.login("officer-data").await;
    let path = format!(
        "/api/v1/cockpit/query?metric=service_use&granularity=total&from={}&to={}",
        (now - chrono::TimeDelta::days(10)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + chrono::TimeDelta::minutes(1)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let total = |answer: serde_json::Value| answer["rows"][0]["count"].as_u64();
    let before = app.get_as(&path, &city).await.json().await.unwrap();
    assert_eq!(total(before), Some(6));
    // Read again (from what was kept), then a late event lands in that closed day.
    let again = app.get_as(&path, &city).await.json().await.unwrap();
    assert_eq!(total(again), Some(6));
    append(&app, &[days_ago(3, "p-late")]).await;
    catch_up(&app).await;
    let after = app.get_as(&path, &city).await.json().await.unwrap();
    assert_eq!(total(after), Some(7), "the kept read is dropped");
}
