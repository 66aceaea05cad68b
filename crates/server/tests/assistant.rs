//! 智能客服 over HTTP: anonymous public answers with their source, clarification and hand-off;
//! personal questions run for the signed-in citizen under their consent, with the plate asked
//! for and filled; suggestions; feedback once and only by the conversation's owner; questions
//! stored redacted with an event per turn; the knowledge base edited with versions (stale
//! saves refused) and the answers following it; follow-ups after a paid fine delivered to the
//! inbox and SMS sink, surveyed once; and the console's insights.

mod common;

use bianmin_store::on_pool;
use common::{TestApp, assert_problem, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn ask(app: &TestApp, token: Option<&str>, body: &Value) -> Value {
    let mut request = app.client.post(app.url("/api/v1/assistant/ask")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get_as(path, token).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn put_entry(app: &TestApp, token: &str, entry: &Value) -> reqwest::Response {
    let id = entry["id"].as_str().unwrap();
    app.client
        .put(app.url(&format!("/api/v1/console/kb/entries/{id}")))
        .bearer_auth(token)
        .json(entry)
        .send()
        .await
        .unwrap()
}

async fn survey(app: &TestApp, token: &str, message: &str, body: &Value) -> reqwest::Response {
    app.post_as(&format!("/api/v1/me/inbox/{message}/survey"), token, body)
        .await
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    on_pool!(app.db.store, pool => {
        sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_visitors_get_answers_clarifications_and_hand_offs() {
    let app = spawn_app().await;
    let reply = ask(
        &app,
        None,
        &json!({ "question": "租房子能不能把公积金取出来交房租", "page": "hpf" }),
    )
    .await;
    assert_eq!(reply["outcome"], "answer", "{reply}");
    assert_eq!(reply["entry_id"], "hpf-001");
    assert!(reply["answer"].as_str().unwrap().contains("租房"));
    assert_eq!(reply["demo"], true);
    assert_eq!(reply["source"]["id"], "hpf-withdrawal#3", "{reply}");
    assert!(reply["source"]["title"].as_str().unwrap().contains("提取"));
    assert!(reply["confidence"].as_f64().unwrap() >= 0.5);
    let suggestions = reply["suggestions"].as_array().unwrap();
    assert!(!suggestions.is_empty());
    assert!(suggestions.iter().all(|s| s["entry_id"] != "hpf-001"));
    let session = reply["session_id"].as_str().unwrap().to_owned();

    let reply = ask(
        &app,
        None,
        &json!({ "question": "公积金", "session_id": session }),
    )
    .await;
    assert_eq!(reply["outcome"], "clarify", "{reply}");
    assert_eq!(reply["answer"], "您是想问：");
    assert_eq!(
        reply["session_id"],
        session.as_str(),
        "the conversation continues"
    );
    let candidates = reply["candidates"].as_array().unwrap();
    assert!((2..=3).contains(&candidates.len()), "{reply}");
    assert!(
        candidates
            .iter()
            .all(|c| c["entry_id"].as_str().unwrap().starts_with("hpf-"))
    );

    let reply = ask(&app, None, &json!({ "question": "帮我写一首关于大海的诗" })).await;
    assert_eq!(reply["outcome"], "handoff", "{reply}");
    assert!(reply["answer"].as_str().unwrap().contains("人工"));

    let reply = ask(&app, None, &json!({ "question": "你好" })).await;
    assert_eq!(reply["outcome"], "answer");
    assert!(reply["entry_id"].is_null());

    // Questions are stored redacted, with an event per turn and no person.
    ask(
        &app,
        None,
        &json!({ "question": "身份证510104199001011234的公积金怎么查" }),
    )
    .await;
    let stored: Vec<String> = on_pool!(app.db.store, pool => {
        sqlx::query_scalar("SELECT question FROM assistant_turns").fetch_all(pool).await.unwrap()
    });
    assert_eq!(stored.len(), 5);
    assert!(
        stored.iter().any(|q| q.contains("510*************34")),
        "{stored:?}"
    );
    assert!(stored.iter().all(|q| !q.contains("199001011234")));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM outbox_events WHERE kind = 'assistant.turn'"
        )
        .await,
        5
    );

    for bad in [
        json!({ "question": "" }),
        json!({ "question": "问".repeat(201) }),
        json!({ "question": "x", "extra": 1 }),
    ] {
        let response = app.post_json("/api/v1/assistant/ask", &bad).await;
        assert_eq!(response.status(), 422, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_questions_run_the_service_under_consent_and_fill_the_plate() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    let anonymous = ask(&app, None, &json!({ "question": "我的公积金余额是多少" })).await;
    assert_eq!(anonymous["personal"]["status"], "need_login", "{anonymous}");

    let zhang = app.login("citizen-zhang").await;
    let reply = ask(
        &app,
        Some(&zhang),
        &json!({ "question": "我的公积金余额是多少" }),
    )
    .await;
    assert_eq!(reply["personal"]["status"], "need_consent", "{reply}");
    assert_eq!(reply["personal"]["link"], "/citizen/hpf/");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM exchange_log").await,
        0,
        "nothing was fetched without consent"
    );

    app.grant(&zhang, "SERVICE_HPF_QUERY").await;
    let reply = ask(
        &app,
        Some(&zhang),
        &json!({ "question": "我的公积金余额是多少" }),
    )
    .await;
    assert_eq!(reply["personal"]["status"], "done", "{reply}");
    let account: Value = get_json(&app, "/api/v1/me/hpf/account", &zhang).await;
    let balance = account["balance"].as_str().unwrap();
    assert!(
        reply["answer"].as_str().unwrap().contains(balance),
        "{reply} vs {balance}"
    );

    // Traffic: the plate is asked for, then filled from the next message.
    app.grant(&zhang, "SERVICE_TRAFFIC").await;
    let reply = ask(&app, Some(&zhang), &json!({ "question": "我有几条违章" })).await;
    assert_eq!(reply["outcome"], "clarify", "{reply}");
    assert_eq!(reply["personal"]["status"], "need_slot");
    assert_eq!(reply["personal"]["slot"], "plate");
    let session = reply["session_id"].as_str().unwrap().to_owned();
    let reply = ask(
        &app,
        Some(&zhang),
        &json!({ "question": "全部", "session_id": session }),
    )
    .await;
    assert_eq!(reply["personal"]["status"], "done", "{reply}");
    let violations: Value = get_json(&app, "/api/v1/me/traffic/violations", &zhang).await;
    let total = violations["violations"].as_array().unwrap().len();
    assert!(
        reply["answer"]
            .as_str()
            .unwrap()
            .contains(&format!("共有 {total} 条")),
        "{reply}"
    );

    // Another citizen cannot continue Zhang's conversation: they get a new one.
    let li = app.login("citizen-li").await;
    let reply = ask(
        &app,
        Some(&li),
        &json!({ "question": "全部", "session_id": session }),
    )
    .await;
    assert_ne!(reply["session_id"], session.as_str());
    assert!(reply["personal"].is_null(), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_and_feedback() {
    let app = spawn_app().await;
    let typed: Value = app
        .get("/api/v1/assistant/suggest?q=%E5%85%AC%E7%A7%AF%E9%87%91")
        .await
        .json()
        .await
        .unwrap();
    let typed = typed["suggestions"].as_array().unwrap();
    assert!(!typed.is_empty());
    assert!(
        typed
            .iter()
            .all(|s| s["question"].as_str().unwrap().contains("公积金")),
        "{typed:?}"
    );
    let page: Value = app
        .get("/api/v1/assistant/suggest?page=traffic")
        .await
        .json()
        .await
        .unwrap();
    let page = page["suggestions"].as_array().unwrap();
    assert_eq!(page.len(), 4);
    assert!(
        page.iter()
            .all(|s| s["entry_id"].as_str().unwrap().starts_with("traffic-"))
    );
    let related: Value = app
        .get("/api/v1/assistant/suggest?entry_id=loan-001")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        related["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["entry_id"] != "loan-001")
    );

    let zhang = app.login("citizen-zhang").await;
    let reply = ask(&app, Some(&zhang), &json!({ "question": "闯红灯扣几分" })).await;
    let turn = reply["turn_id"].as_str().unwrap();
    // Only the conversation's owner rates it.
    assert_problem(
        app.post_json(
            "/api/v1/assistant/feedback",
            &json!({ "turn_id": turn, "helpful": false }),
        )
        .await,
        404,
        "assistant.unknown_turn",
    )
    .await;
    for helpful in [true, false] {
        let response = app
            .post_as(
                "/api/v1/assistant/feedback",
                &zhang,
                &json!({ "turn_id": turn, "helpful": helpful }),
            )
            .await;
        assert_eq!(response.status(), 204);
    }
    let helpful: Option<bool> = on_pool!(app.db.store, pool => {
        sqlx::query_scalar("SELECT helpful FROM assistant_turns WHERE helpful IS NOT NULL").fetch_one(pool).await.unwrap()
    });
    assert_eq!(helpful, Some(true), "the first rating counts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knowledge_base_is_edited_with_versions_and_answers_follow() {
    let app = spawn_app().await;
    let operator = app.login("operator-liu").await;
    let zhang = app.login("citizen-zhang").await;
    assert_problem(
        app.get_as("/api/v1/console/kb/entries", &zhang).await,
        403,
        "auth.forbidden",
    )
    .await;

    let page: Value = get_json(
        &app,
        "/api/v1/console/kb/entries?topic=loan&limit=5",
        &operator,
    )
    .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 5);
    assert!(page["total"].as_u64().unwrap() >= 40);

    let entry = json!({
        "id": "ebike-001",
        "question": "电动自行车怎么上牌？",
        "variants": ["电动车上牌在哪办", "电瓶车上牌需要什么"],
        "answer": "电动自行车须符合国家标准，车主持身份证、购车发票和合格证到交管部门指定的登记点办理上牌（演示内容）。",
        "department": "成都市公安局交通管理局",
        "tags": ["电动车"],
        "demo": true
    });
    let before = ask(&app, None, &json!({ "question": "电瓶车去哪里上牌" })).await;
    assert_ne!(before["entry_id"], "ebike-001");
    let response = app
        .post_as("/api/v1/console/kb/entries", &operator, &entry)
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["version"], 1);
    assert_problem(
        app.post_as("/api/v1/console/kb/entries", &operator, &entry)
            .await,
        409,
        "kb.entry_exists",
    )
    .await;
    let after = ask(&app, None, &json!({ "question": "电瓶车去哪里上牌" })).await;
    assert_eq!(after["entry_id"], "ebike-001", "{after}");

    let mut edited = entry.clone();
    edited["answer"] = json!("已更新：电动自行车上牌请到交管部门指定登记点（演示内容）。");
    edited["version"] = json!(1);
    let response = put_entry(&app, &operator, &edited).await;
    assert_eq!(response.status(), 200);
    // A save edited from version 1 again is stale now.
    let response = put_entry(&app, &operator, &edited).await;
    assert_problem(response, 409, "kb.stale_version").await;
    let mut bad = entry.clone();
    bad["id"] = json!("bad-1");
    bad["source"] = json!("nowhere#1");
    assert_problem(
        app.post_as("/api/v1/console/kb/entries", &operator, &bad)
            .await,
        422,
        "kb.unknown_source",
    )
    .await;

    let detail: Value = get_json(&app, "/api/v1/console/kb/entries/ebike-001", &operator).await;
    assert_eq!(detail["entry"]["version"], 2);
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);
    let response = app
        .client
        .delete(app.url("/api/v1/console/kb/entries/ebike-001?version=2"))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let gone = ask(&app, None, &json!({ "question": "电瓶车去哪里上牌" })).await;
    assert_ne!(gone["entry_id"], "ebike-001");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM kb_entry_versions WHERE entry_id = 'ebike-001'"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'kb.%'"
        )
        .await,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_fine_is_followed_up_in_the_inbox_and_surveyed_once() {
    let app = spawn_app_with(|c| {
        c.exchange.govsim = true;
        c.assistant.followup_delay_minutes = 30;
        c.assistant.followup_channels = vec!["inbox".into(), "sms".into()];
    })
    .await;
    let zhang = app.login("citizen-zhang").await;
    app.grant(&zhang, "SERVICE_TRAFFIC").await;
    let receipt = app.pay_first_unpaid_fine(&zhang, "followup-1").await;

    // The server's own worker runs rounds too: what is checked is the state, not who did it.
    let followups = "SELECT COUNT(*) FROM followups";
    let delivered = "SELECT COUNT(*) FROM followups WHERE delivered_at IS NOT NULL";
    bianmin_server::assistant::followup::run_round(&app.state)
        .await
        .unwrap();
    assert_eq!(count(&app, followups).await, 1, "scheduled");
    assert_eq!(count(&app, delivered).await, 0, "not yet due");
    bianmin_server::assistant::followup::run_round(&app.state)
        .await
        .unwrap();
    assert_eq!(count(&app, followups).await, 1, "scheduled once");
    app.clock.advance(chrono::TimeDelta::minutes(31));
    bianmin_server::assistant::followup::run_round(&app.state)
        .await
        .unwrap();
    assert_eq!(count(&app, delivered).await, 1, "delivered when due");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sms_outbox").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM outbox_events WHERE kind = 'assistant.followup_sent'"
        )
        .await,
        1
    );

    let inbox: Value = get_json(&app, "/api/v1/me/inbox", &zhang).await;
    assert_eq!(inbox["unread"], 1);
    let message = &inbox["messages"][0];
    assert_eq!(message["title"], "交通罚款缴纳回访");
    assert!(
        message["body"]
            .as_str()
            .unwrap()
            .contains(receipt["receipt_no"].as_str().unwrap()),
        "{message}"
    );
    assert_eq!(message["survey"]["options"].as_array().unwrap().len(), 5);
    assert!(message["survey"]["answered"].is_null());
    let id = message["id"].as_str().unwrap().to_owned();
    // The body is sealed at rest.
    let stored: Vec<u8> = on_pool!(app.db.store, pool => {
        sqlx::query_scalar("SELECT body_enc FROM inbox_messages").fetch_one(pool).await.unwrap()
    });
    assert!(!String::from_utf8_lossy(&stored).contains(receipt["receipt_no"].as_str().unwrap()));

    let li = app.login("citizen-li").await;
    assert_problem(
        survey(&app, &li, &id, &json!({ "score": 1 })).await,
        404,
        "inbox.unknown_message",
    )
    .await;
    assert_problem(
        survey(&app, &zhang, &id, &json!({ "score": 6 })).await,
        422,
        "inbox.invalid_score",
    )
    .await;
    let response = app
        .post_as(
            &format!("/api/v1/me/inbox/{id}/survey"),
            &zhang,
            &json!({ "score": 5, "comment": "缴款很方便" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let answered: Value = response.json().await.unwrap();
    assert_eq!(answered["survey"]["answered"]["score"], 5);
    assert_eq!(answered["survey"]["answered"]["comment"], "缴款很方便");
    assert_eq!(answered["read"], true);
    assert_problem(
        survey(&app, &zhang, &id, &json!({ "score": 1 })).await,
        409,
        "inbox.already_answered",
    )
    .await;

    // The console sees the satisfaction, the rates and what was asked.
    ask(
        &app,
        None,
        &json!({ "question": "电动自行车上牌要什么材料" }),
    )
    .await;
    ask(&app, None, &json!({ "question": "电动自行车上牌去哪里" })).await;
    ask(&app, None, &json!({ "question": "闯红灯扣几分" })).await;
    let operator = app.login("operator-liu").await;
    let insights: Value =
        get_json(&app, "/api/v1/console/assistant/insights?days=7", &operator).await;
    assert_eq!(insights["turns"], 3, "{insights}");
    assert_eq!(insights["rates"]["surveys"], 1);
    assert_eq!(insights["rates"]["satisfaction"], 5.0);
    assert_eq!(insights["rates"]["followups_sent"], 1);
    let clusters = insights["unanswered"].as_array().unwrap();
    assert_eq!(clusters[0]["size"], 2, "{insights}");
    assert!(
        insights["hot_topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["keyword"] == "上牌"),
        "{insights}"
    );
    assert_problem(
        app.get_as("/api/v1/console/assistant/insights?days=0", &operator)
            .await,
        422,
        "insights.invalid_days",
    )
    .await;
}
