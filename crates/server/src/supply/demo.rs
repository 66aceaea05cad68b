//! The demo's supply-chain story, set up once per data directory by `bianmin demo`: the bank
//! onboards A集团, A集团 signs its data-sharing agreement, the bank pre-approves every
//! distributor; 赵敏 (enterprise-zhao) accepts her offer and pays an order with it; the
//! simulator then closes A集团's books for the months in which her business slips, and the
//! early warnings freeze her line with the reason shown. 陈刚 (enterprise-chen) is left with his
//! offer open and sales receipts in his settlement account, to accept, draw and repay by hand.
//!
//! Everything goes through the same functions the HTTP handlers use (the handlers themselves,
//! with the personas as principals), so the demo shows what the code does, not a shortcut.

use axum::body::to_bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use bianmin_core::Money;
use bianmin_govsim::agencies::Agency;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use super::enterprise::{grant, register, run_batch};
use super::{DEMO_ENTERPRISE_INSTITUTION, DEMO_ENTERPRISE_NAME, DEMO_ENTERPRISE_USCC};
use crate::app::AppState;
use crate::auth::Principal;
use crate::auth::personas::{ensure, persona};
use crate::http::json::ApiJson;
use crate::http::path::ApiPath;
use crate::http::problem::ApiError;

/// Months the simulator's books are moved on so that 赵敏's slide shows.
pub const DEMO_BOOKS_AHEAD: u32 = 5;

async fn principal_of(state: &AppState, id: &str) -> Result<Principal, ApiError> {
    let persona = persona(id).ok_or_else(|| ApiError::internal(format!("no persona {id}")))?;
    let (principal, person) = ensure(state, persona).await?;
    Ok(Principal {
        id: principal,
        session_id: Uuid::nil(),
        persona: Some(id.to_owned()),
        role: persona.role,
        display_name: bianmin_core::mask::mask_name(persona.name),
        department: persona.department.and_then(crate::auth::department),
        person_id: person,
    })
}

/// The JSON body of a handler's response.
async fn body_of<T: DeserializeOwned>(
    response: Result<axum::response::Response, ApiError>,
) -> Result<T, ApiError> {
    let response = response?;
    let bytes = to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(ApiError::internal)?;
    serde_json::from_slice(&bytes).map_err(ApiError::internal)
}

/// Approves a consent of `principal` for `purpose`.
async fn consent(state: &AppState, principal: &Principal, purpose: &str) -> Result<(), ApiError> {
    let created = crate::consents::create(
        State(state.clone()),
        principal.clone(),
        ApiJson(crate::consents::NewConsent {
            purpose: purpose.to_owned(),
        }),
    )
    .await?;
    let id = created.1.0.id;
    let approved =
        crate::consents::approve(State(state.clone()), principal.clone(), ApiPath(id)).await?;
    if approved.0.state != "ACTIVE" {
        return Err(ApiError::internal(format!(
            "the demo's {purpose} consent is {}",
            approved.0.state
        )));
    }
    Ok(())
}

/// Sets the story up unless A集团 is already onboarded. Prints what it did.
pub async fn seed(state: &AppState) -> Result<(), ApiError> {
    let Some(exchange) = state.exchange() else {
        return Ok(());
    };
    let Some(govsim) = exchange.govsim.as_ref() else {
        return Ok(());
    };
    let (enterprise, created) = register(
        state,
        DEMO_ENTERPRISE_NAME,
        DEMO_ENTERPRISE_USCC,
        DEMO_ENTERPRISE_INSTITUTION,
        Agency::AGroup.subsystem_id(),
        "system:demo",
    )
    .await?;
    if !created {
        println!("供应链融资 Supply chain: A集团 is already set up.");
        return Ok(());
    }
    let staff = principal_of(state, "institution-agroup").await?;
    grant(state, &enterprise, None, &staff.audit_actor()).await?;
    let batch = run_batch(state, &enterprise, "system:demo").await?;
    println!(
        "供应链融资 Supply chain: A集团's {} distributors pre-approved in {} ms ({} offered, {} declined, {} yuan in all).",
        batch.distributors,
        batch.fetch_ms + batch.compute_ms + batch.store_ms,
        batch.offered,
        batch.declined,
        batch.total_limit
    );

    // 赵敏 accepts and pays an order.
    let zhao = principal_of(state, "enterprise-zhao").await?;
    consent(state, &zhao, "SCF_DISTRIBUTOR").await?;
    consent(state, &zhao, "LOAN_CREDIT_REPORT").await?;
    let mine: Value = body_of(super::offer::mine(State(state.clone()), zhao.clone()).await).await?;
    let offered = mine["distributors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["stage"] == "offered");
    let Some(offered) = offered else {
        println!(
            "供应链融资 Supply chain: 赵敏's distributor has no offer; the frozen line is left out."
        );
        return seed_chen(state).await;
    };
    let uscc = offered["uscc"].as_str().unwrap_or_default().to_owned();
    let sm3 = offered["offer"]["contract"]["sm3"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let accepted: Value = body_of(
        super::offer::accept(
            State(state.clone()),
            zhao.clone(),
            None,
            ApiPath(uscc.clone()),
            ApiJson(super::offer::Accept { contract_sm3: sm3 }),
        )
        .await,
    )
    .await?;
    if accepted["outcome"] != "opened" {
        println!(
            "供应链融资 Supply chain: 赵敏's acceptance was declined; the frozen line is left out."
        );
        return seed_chen(state).await;
    }
    let orders: Value = body_of(
        super::line::orders(State(state.clone()), zhao.clone(), ApiPath(uscc.clone())).await,
    )
    .await?;
    let available: Money = accepted["line"]["available"]
        .as_str()
        .and_then(|a| Money::parse_positive(a).ok())
        .unwrap_or(Money::ZERO);
    if let Some(order) = orders["orders"].as_array().and_then(|o| o.first()) {
        let outstanding = order["outstanding"]
            .as_str()
            .and_then(|a| Money::parse_positive(a).ok())
            .unwrap_or(Money::ZERO);
        let amount = outstanding.min(available);
        let mut headers = HeaderMap::new();
        headers.insert(
            "idempotency-key",
            "demo-zhao-first-order"
                .parse()
                .map_err(ApiError::internal)?,
        );
        let drawn: Value = body_of(
            super::line::draw(
                State(state.clone()),
                zhao.clone(),
                headers,
                ApiPath(uscc.clone()),
                ApiJson(super::line::Draw {
                    order_no: order["order_no"].as_str().unwrap_or_default().to_owned(),
                    amount: Some(amount.to_string()),
                }),
            )
            .await,
        )
        .await?;
        println!(
            "供应链融资 Supply chain: 赵敏 accepted a line of {} yuan and paid A集团's order {} ({} yuan) with it.",
            accepted["line"]["limit"].as_str().unwrap_or_default(),
            drawn["movement"]["order_no"].as_str().unwrap_or_default(),
            drawn["movement"]["amount"].as_str().unwrap_or_default()
        );
    }
    // A集团's books move on; 赵敏's orders fall, returns rise, payments slip.
    govsim.advance_books(DEMO_BOOKS_AHEAD);
    let monitored = super::monitor::run(state, &enterprise, "system:demo").await?;
    println!(
        "供应链融资 Supply chain: simulator books moved on to {}; monitoring lowered {} and froze {} line(s).",
        monitored.closed_month, monitored.lowered, monitored.frozen
    );
    seed_chen(state).await
}

/// 陈刚's settlement accounts get sales receipts (the bank's payment system's data), so that he
/// can repay after drawing. His distributors are looked up in the simulated world the demo
/// runs; nothing of his is fetched, and no consent is given in his name.
async fn seed_chen(state: &AppState) -> Result<(), ApiError> {
    let Some(govsim) = state.exchange().and_then(|e| e.govsim.as_ref()) else {
        return Ok(());
    };
    let population = govsim.population();
    let Some(first17) = persona("enterprise-chen").and_then(|p| p.resident_id_17) else {
        return Ok(());
    };
    let id =
        bianmin_core::ResidentId::with_check_digit(first17).map_err(bianmin_core::Error::from)?;
    let Some(template) = population
        .residents()
        .iter()
        .find(|r| r.resident_id == id)
        .map(|r| r.template)
    else {
        return Ok(());
    };
    for (n, distributor) in population.distributors_of(template).iter().enumerate() {
        super::line::book_receipt(
            state,
            distributor.uscc.as_str(),
            Money::from_fen(8_000_000),
            &format!("DEMO-RECEIPT-CHEN-{n}"),
        )
        .await?;
    }
    Ok(())
}
