//! Sign-in with a one-time password (OTP, 短信验证码) sent by SMS, behind the login guard.
//!
//! `POST /api/v1/auth/otp/send` texts a six-digit code to a citizen's mobile number;
//! `POST /api/v1/auth/otp/verify` exchanges the code for a session, as `dev-login` and
//! `assertion` do. `docs/security.md` ("Login protection") lists the rules and error codes.
//!
//! # Whose number is it
//!
//! `login_phones` maps the blind index of a number (HMAC-SM3 under the keyring's blind-index
//! key, purpose `phone`: the long-lived key that also indexes resident ids) to one citizen
//! principal; the number itself is stored nowhere in clear. [`bind_phone`] writes it: for the
//! demo personas when they are created, and for the bank app's citizens from the moment its
//! identity assertion carries the number the bank verified (the claim does not exist yet).
//!
//! # No enumeration oracle
//!
//! A send answers the same for every valid number, registered or not, and leaves the same row
//! in `otp_codes` (without a principal), so the resend interval behaves the same too. Only a
//! registered number is texted, off the request's path, so the answer's timing does not tell
//! either. A code entered for an unregistered number is wrong, or expired, like any other.
//!
//! # The code
//!
//! Six digits from the operating system's CSPRNG, stored only as HMAC-SM3 under a key derived
//! from the session key and bound to the number's index; valid five minutes, once. The login
//! guard counts its entries (five) and knows its expiry, in this instance's memory: a restart,
//! or an entry reaching another instance, finds no live code and fails closed (`otp.expired`).
//! The row's expiry and `used_at` are the second line: the code is spent by one conditional
//! update, so two concurrent correct entries open one session, not two.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use bianmin_core::PhoneNumber;
use bianmin_guard::{Challenge, LoginConfig, LoginVerdict, OtpAttempt};
use bianmin_people::FieldAad;
use bianmin_sdk::HEADER_CHALLENGE;
use bianmin_store::{on_pool, on_tx};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::routes::{LoginResponse, signed_in};
use super::{Principal, Role, session};
use crate::app::AppState;
use crate::http::json::ApiJson;
use crate::http::problem::{ApiError, Problem};
use crate::signing::SignedBy;

/// The label under the session key from which the key of the codes' HMACs is derived.
const OTP_KEY_LABEL: &[u8] = b"bianmin/otp/v1";
/// The blind-index purpose of mobile numbers.
const PHONE_INDEX_PURPOSE: &str = "phone";
/// Shortest time between two codes sent to one number.
const RESEND_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// Body of `POST /api/v1/auth/otp/send`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OtpSendRequest {
    /// Mainland mobile number: 11 digits starting with 13–19 (`+86`, spaces and dashes
    /// between digits are accepted).
    pub phone: String,
    /// The answer to the challenge of an earlier 428 `guard.challenge`: `<token>:<counter>`
    /// (the `x-bm-challenge` header is read when this is absent).
    #[serde(default)]
    pub challenge: Option<String>,
}

/// The answer to a send, the same whether or not the number belongs to a citizen.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpSent {
    /// Always true: a code is on its way if the number is registered.
    pub sent: bool,
    /// Seconds the code can be entered.
    pub expires_in: u64,
    /// Seconds before another code can be asked for this number.
    pub resend_after: u64,
    /// The number, masked (`138****0001`).
    pub masked_phone: String,
    /// The code itself, only when the development identity provider is on
    /// (`auth.dev_login`), so that the demo and tests can sign in without a phone. Never
    /// present in production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_code: Option<String>,
}

/// Body of `POST /api/v1/auth/otp/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OtpVerifyRequest {
    /// The number the code was sent to.
    pub phone: String,
    /// The six digits received.
    pub code: String,
    /// The answer to the challenge of an earlier 428 `guard.challenge`: `<token>:<counter>`
    /// (the `x-bm-challenge` header is read when this is absent).
    #[serde(default)]
    pub challenge: Option<String>,
}

/// Sends a sign-in code by SMS.
///
/// The answer is the same for every valid number; only a registered citizen's number is
/// texted. Refused with 429 when the number had a code less than 60 seconds ago, or when the
/// caller has had its sends (to this number, or in all) for the hour; answered with 428 when
/// the number has had 10 codes this hour, until a proof of work comes with the request.
#[utoipa::path(post, path = "/api/v1/auth/otp/send", tag = "auth", request_body = OtpSendRequest,
    responses(
        (status = 202, body = OtpSent),
        (status = 422, body = Problem, description = "`otp.invalid_phone`"),
        (status = 428, body = Problem, description = "`guard.challenge` or `guard.challenge_failed`, with the extension member `challenge` to answer in `challenge`"),
        (status = 429, body = Problem, description = "`otp.resend_too_soon` or `otp.too_many_sends`, with `Retry-After`"),
    ))]
pub async fn send(
    State(state): State<AppState>,
    parts: Parts,
    ApiJson(request): ApiJson<OtpSendRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let phone = parse_phone(&request.phone)?;
    let index = phone_index(&state, &phone);
    let now = state.clock().now();
    let last_sent: Option<DateTime<Utc>> = on_pool!(state.store(), pool => {
        sqlx::query_scalar("SELECT sent_at FROM otp_codes WHERE phone_index = $1")
            .bind(&index[..])
            .fetch_optional(pool)
            .await?
    });
    if let Some(wait) = last_sent.and_then(|at| resend_wait(at, now)) {
        return Err(resend_too_soon(wait));
    }
    let source = source_of(&state, &parts);
    let logins = state.guard().logins();
    let mut verdict = logins.request_otp(phone.as_str(), &source, false);
    if verdict == LoginVerdict::Challenge {
        // The number has had many codes this hour, from wherever: whoever asks for another
        // shows a proof of work first, rather than anybody being locked out.
        let answer = challenge_answer(request.challenge.as_deref(), &parts);
        answer_challenge(
            &state,
            phone.as_str(),
            answer,
            "该号码近期获取验证码次数较多，请先完成安全校验。",
        )
        .await?;
        verdict = logins.request_otp(phone.as_str(), &source, true);
    }
    if let LoginVerdict::Locked { retry_after } = verdict {
        return Err(too_many_sends(retry_after));
    }

    let recipient = registered_citizen(&state, &index).await?;
    let code = new_code();
    let lifetime = otp_lifetime();
    let stored = on_pool!(state.store(), pool => {
        sqlx::query("DELETE FROM otp_codes WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await?;
        // Conditional, so that of two sends racing past the check above only one is stored.
        sqlx::query(
            "INSERT INTO otp_codes (phone_index, principal_id, code_mac, sent_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (phone_index) DO UPDATE SET principal_id = excluded.principal_id, \
                 code_mac = excluded.code_mac, sent_at = excluded.sent_at, \
                 expires_at = excluded.expires_at, used_at = NULL \
             WHERE otp_codes.sent_at <= $6",
        )
        .bind(&index[..])
        .bind(recipient.map(|(principal, _)| principal))
        .bind(&code_mac(&state, &index, &code)[..])
        .bind(now)
        .bind(now + lifetime)
        .bind(now - RESEND_INTERVAL)
        .execute(pool)
        .await?
        .rows_affected()
    });
    if stored == 0 {
        return Err(resend_too_soon(RESEND_INTERVAL));
    }
    if let Some((_, Some(person))) = recipient {
        let message = TextMessage {
            person,
            body: format!(
                "【便民】您的登录验证码为 {code}，{} 分钟内有效。如非本人操作请忽略。",
                lifetime.num_minutes()
            ),
            to: phone.clone(),
        };
        // Off the request's path, so that how long a send takes does not tell whether the
        // number is registered (a carrier's API takes far longer than the rest of a send).
        let gateway = SimulatedSms::new(state.clone());
        tokio::spawn(async move {
            let to = message.to.masked();
            if let Err(error) = gateway.deliver(message).await {
                tracing::error!(%error, to, "the sign-in code could not be delivered");
            }
        });
    }
    metrics::counter!("login_otp_total", "step" => "send", "outcome" => "accepted").increment(1);
    let answer = OtpSent {
        sent: true,
        expires_in: lifetime.num_seconds().unsigned_abs(),
        resend_after: RESEND_INTERVAL.num_seconds().unsigned_abs(),
        masked_phone: phone.masked(),
        dev_code: state.config().auth.dev_login.then_some(code),
    };
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// Signs in with a code received by SMS.
///
/// Checked in this order: the login guard (429 `auth.locked` while this caller is locked out
/// of the account or blocked for credential stuffing, 428 `guard.challenge` while the account
/// is under attack from many sources); the code (422 `otp.expired` when none is live,
/// `otp.wrong` with `attempts_left` otherwise); then, for a right code, the account's
/// sign-in rate limit (429 `rate_limited`).
#[utoipa::path(post, path = "/api/v1/auth/otp/verify", tag = "auth", request_body = OtpVerifyRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 422, body = Problem, description = "`otp.invalid_phone`, `otp.invalid_code`, `otp.expired`, or `otp.wrong` with the extension member `attempts_left`"),
        (status = 428, body = Problem, description = "`guard.challenge` or `guard.challenge_failed`, with the extension member `challenge` to answer in `challenge`"),
        (status = 429, body = Problem, description = "`auth.locked` or `rate_limited`, with `Retry-After`"),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    parts: Parts,
    ApiJson(request): ApiJson<OtpVerifyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let phone = parse_phone(&request.phone)?;
    let code = parse_code(&request.code)?;
    let account = phone.as_str();
    let guard = state.guard();
    let index = phone_index(&state, &phone);
    let sent: Option<SentCode> = on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT o.code_mac, o.expires_at, o.used_at, p.id AS principal_id, p.persona, \
                    p.display_name, p.person_id \
             FROM otp_codes o LEFT JOIN principals p ON p.id = o.principal_id AND p.role = 'citizen' \
             WHERE o.phone_index = $1",
        )
        .bind(&index[..])
        .fetch_optional(pool)
        .await?
    });
    let signed = parts.extensions.get::<SignedBy>();
    let known_device = signed.is_some_and(|signed| {
        sent.as_ref()
            .and_then(|sent| sent.person_id)
            .is_some_and(|person| person == signed.person_id)
    });
    let source = source_of(&state, &parts);
    let logins = guard.logins();
    match logins.before_attempt(account, &source, known_device) {
        LoginVerdict::Allow => {}
        LoginVerdict::Challenge => {
            let answer = challenge_answer(request.challenge.as_deref(), &parts);
            answer_challenge(
                &state,
                account,
                answer,
                "该账号近期多次登录失败，请先完成安全校验后再登录。",
            )
            .await?;
        }
        LoginVerdict::Locked { retry_after } => {
            count_verification("locked");
            return Err(locked(retry_after));
        }
    }
    let attempts_left = match logins.begin_otp_attempt(account) {
        OtpAttempt::Compare { attempts_left } => attempts_left,
        OtpAttempt::Dead => {
            count_verification("expired");
            return Err(expired());
        }
    };

    let now = state.clock().now();
    // The HMAC is checked for every number, registered or not, so that both take as long.
    let matches = sent.as_ref().is_some_and(|sent| {
        bianmin_crypto::hmac_sm3_verify(&otp_key(&state), &mac_input(&index, &code), &sent.code_mac)
    });
    let owner = sent
        .filter(|sent| matches && sent.used_at.is_none() && sent.expires_at > now)
        .and_then(|sent| sent.owner());
    let Some((owner, code_mac)) = owner else {
        if let Some(block) = logins.record(account, &source, false) {
            tracing::warn!(
                source = %block.source,
                account = %phone.masked(),
                distinct_accounts = block.distinct_accounts,
                failures = block.failures,
                attempts = block.attempts,
                until = %block.until,
                evidence = %block.evidence,
                "login source blocked for credential stuffing"
            );
            metrics::counter!("login_sources_blocked_total").increment(1);
        }
        count_verification("wrong");
        return Err(wrong(attempts_left));
    };

    // Only now, unlike the other sign-ins: nothing proves who is asking before the code does,
    // and charging every attempt would let anyone keep a citizen out by spending their
    // sign-ins. Guessing is bounded by the login guard; this bounds sessions per citizen.
    guard.check_sign_in(account).await?;
    let spent = on_pool!(state.store(), pool => {
        sqlx::query(
            "UPDATE otp_codes SET used_at = $1 \
             WHERE phone_index = $2 AND code_mac = $3 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(&index[..])
        .bind(&code_mac[..])
        .execute(pool)
        .await?
        .rows_affected()
    });
    if spent == 0 {
        // Another entry of the same code signed in first.
        count_verification("expired");
        return Err(expired());
    }
    logins.otp_accepted(account);
    logins.record(account, &source, true);
    let session = session::open(&state, owner.id, Role::Citizen, "otp").await?;
    count_verification("signed_in");
    let principal = Principal {
        id: owner.id,
        session_id: session.id,
        persona: owner.persona,
        role: Role::Citizen,
        display_name: owner.display_name,
        department: None,
        person_id: owner.person_id,
    };
    Ok(signed_in(&state, &principal, session))
}

/// Makes `phone` the number `principal` signs in with by SMS, replacing any other number of
/// theirs and taking this one from any other principal (carriers recycle numbers).
///
/// Call it only with a number verified as the principal's: whoever holds the number can then
/// sign in as them.
pub async fn bind_phone(
    state: &AppState,
    principal: Uuid,
    phone: &PhoneNumber,
) -> Result<(), ApiError> {
    let index = phone_index(state, phone);
    let now = state.clock().now();
    let mut tx = state.store().begin_write().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query("DELETE FROM login_phones WHERE principal_id = $1 AND phone_index <> $2")
            .bind(principal)
            .bind(&index[..])
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO login_phones (phone_index, principal_id, bound_at) VALUES ($1, $2, $3) \
             ON CONFLICT (phone_index) DO UPDATE SET principal_id = excluded.principal_id, \
                 bound_at = excluded.bound_at",
        )
        .bind(&index[..])
        .bind(principal)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    });
    tx.commit().await?;
    Ok(())
}

/// A text message on its way to a mobile phone.
pub struct TextMessage {
    /// The person it is for (the simulated carrier seals the text under their data key).
    pub person: Uuid,
    /// Their number.
    pub to: PhoneNumber,
    /// The text, as the phone shows it.
    pub body: String,
}

/// Why a text message could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The text could not be sealed for the development sink (the person was erased, say).
    #[error("the text could not be sealed: {0}")]
    Seal(#[from] bianmin_people::PeopleError),
    /// The development sink could not be written.
    #[error("the SMS outbox could not be written: {0}")]
    Outbox(#[from] sqlx::Error),
}

/// Where text messages leave the platform: a carrier's SMS service in production,
/// [`SimulatedSms`] until one is contracted.
pub trait SmsGateway: Send + Sync + 'static {
    /// Hands `message` over for delivery.
    fn deliver(
        &self,
        message: TextMessage,
    ) -> impl std::future::Future<Output = Result<(), SmsError>> + Send;
}

/// A stand-in for the carrier: "delivers" into the development SMS sink `sms_outbox` (which
/// the assistant's follow-ups write too), the text sealed under the recipient's data key as
/// JSON, like theirs, so that the database holds no live code in clear.
pub struct SimulatedSms {
    state: AppState,
}

impl SimulatedSms {
    /// The simulated carrier of this server.
    pub fn new(state: AppState) -> SimulatedSms {
        SimulatedSms { state }
    }
}

impl SmsGateway for SimulatedSms {
    async fn deliver(&self, message: TextMessage) -> Result<(), SmsError> {
        let state = &self.state;
        let id = Uuid::now_v7();
        // A string always serialises.
        let json = serde_json::to_vec(&message.body).unwrap_or_default();
        let place = FieldAad::new("sms_outbox", "body_enc", id.as_bytes());
        let sealed = state
            .vault()
            .seal_for(message.person, &place, &json)
            .await?;
        on_pool!(state.store(), pool => {
            sqlx::query(
                "INSERT INTO sms_outbox (id, person_id, body_enc, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(message.person)
            .bind(&sealed)
            .bind(state.clock().now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

/// The code row of a number, with the citizen it was sent to (none for an unregistered
/// number).
#[derive(sqlx::FromRow)]
struct SentCode {
    code_mac: Vec<u8>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    principal_id: Option<Uuid>,
    persona: Option<String>,
    display_name: Option<String>,
    person_id: Option<Uuid>,
}

/// The citizen a code signs in.
struct Owner {
    id: Uuid,
    persona: Option<String>,
    display_name: String,
    person_id: Option<Uuid>,
}

impl SentCode {
    /// The citizen the code was sent to and the code's HMAC, if it was sent to one.
    fn owner(self) -> Option<(Owner, Vec<u8>)> {
        let owner = Owner {
            id: self.principal_id?,
            persona: self.persona,
            display_name: self.display_name?,
            person_id: self.person_id,
        };
        Some((owner, self.code_mac))
    }
}

/// The number as its 11 digits, or 422 `otp.invalid_phone` saying what is wrong with it.
fn parse_phone(input: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(input)
        .map_err(|error| ApiError::invalid("otp.invalid_phone", error.to_string()))
}

/// The code as entered, if it is six digits; a malformed entry is refused without counting
/// against the code's attempts.
fn parse_code(input: &str) -> Result<String, ApiError> {
    let code = input.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code.to_owned())
    } else {
        Err(ApiError::invalid(
            "otp.invalid_code",
            "请输入 6 位数字验证码。",
        ))
    }
}

/// Six uniformly random digits from the operating system's CSPRNG.
fn new_code() -> String {
    // The largest multiple of 10^6 below 2^32: values at or above it are drawn again, so that
    // every code is equally likely.
    const UNBIASED_BELOW: u32 = 4_294_000_000;
    loop {
        let value = u32::from_be_bytes(bianmin_crypto::random_bytes::<4>());
        if value < UNBIASED_BELOW {
            return format!("{:06}", value % 1_000_000);
        }
    }
}

fn phone_index(state: &AppState, phone: &PhoneNumber) -> [u8; bianmin_crypto::BLIND_INDEX_LEN] {
    state
        .keyring()
        .blind_index()
        .index(PHONE_INDEX_PURPOSE, phone.as_str())
}

fn otp_key(state: &AppState) -> [u8; 32] {
    state.session_key().derive(OTP_KEY_LABEL)
}

/// What a code's HMAC covers: the number's index, then the digits, so that a stored HMAC is
/// worth nothing for another number.
fn mac_input(index: &[u8], code: &str) -> Vec<u8> {
    [index, code.as_bytes()].concat()
}

fn code_mac(state: &AppState, index: &[u8], code: &str) -> [u8; 32] {
    bianmin_crypto::hmac_sm3(&otp_key(state), &mac_input(index, code))
}

/// How long a code lives: the login guard's OTP lifetime, so that the row and the guard agree
/// (the server's guard runs with the default login configuration).
fn otp_lifetime() -> TimeDelta {
    TimeDelta::from_std(LoginConfig::default().otp_lifetime).unwrap_or(TimeDelta::minutes(5))
}

/// The principal and person record of the citizen who signs in with the number indexed
/// `index`, if any. A citizen without a person record can sign in but is not texted: the
/// development sink seals every text under its recipient's key.
async fn registered_citizen(
    state: &AppState,
    index: &[u8],
) -> Result<Option<(Uuid, Option<Uuid>)>, ApiError> {
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT l.principal_id, p.person_id FROM login_phones l \
             JOIN principals p ON p.id = l.principal_id \
             WHERE l.phone_index = $1 AND p.role = 'citizen'",
        )
        .bind(index)
        .fetch_optional(pool)
        .await?
    }))
}

/// What the login guard counts an attempt against: the enrolled device that signed the
/// request, else the client's address (an IPv6 client by its /64, which one subscriber holds
/// whole), else `unknown`.
fn source_of(state: &AppState, parts: &Parts) -> String {
    if let Some(signed) = parts.extensions.get::<SignedBy>() {
        return format!("device:{}", signed.device_id);
    }
    match state.guard().client_ip(&parts.extensions, &parts.headers) {
        Some(address) => format!("ip:{}", crate::guard::address_key(address)),
        None => "unknown".to_owned(),
    }
}

/// How much longer the number must wait for another code, if it had one at `sent_at`.
fn resend_wait(sent_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<TimeDelta> {
    let wait = sent_at + RESEND_INTERVAL - now;
    (wait > TimeDelta::zero()).then_some(wait)
}

/// The challenge answer a request carries: the body's `challenge`, else `x-bm-challenge`.
fn challenge_answer<'a>(body: Option<&'a str>, parts: &'a Parts) -> Option<&'a str> {
    body.or_else(|| {
        parts
            .headers
            .get(HEADER_CHALLENGE)
            .and_then(|value| value.to_str().ok())
    })
}

/// Passes when `answer` (`<token>:<counter>`) solves a challenge issued to this account;
/// otherwise 428 `guard.challenge` (no answer, with `why` as the detail) or
/// `guard.challenge_failed`, with a new challenge to solve.
async fn answer_challenge(
    state: &AppState,
    account: &str,
    answer: Option<&str>,
    why: &str,
) -> Result<(), ApiError> {
    let subject = format!("login:{account}");
    let challenges = state.guard().challenges();
    let Some(answer) = answer else {
        count_verification("challenged");
        return Err(challenge(
            challenges.issue(&subject),
            "guard.challenge",
            why,
        ));
    };
    let parsed = answer
        .rsplit_once(':')
        .and_then(|(token, counter)| Some((token.trim(), counter.trim().parse::<u64>().ok()?)));
    if let Some((token, counter)) = parsed
        && challenges.verify(&subject, token, counter).await.is_ok()
    {
        return Ok(());
    }
    count_verification("challenge_failed");
    Err(challenge(
        challenges.issue(&subject),
        "guard.challenge_failed",
        "安全校验未通过或已过期，请重新完成校验。",
    ))
}

/// 428 with `challenge` to solve, as the behaviour guard answers (`crate::antibot`).
fn challenge(challenge: Challenge, code: &'static str, detail: &str) -> ApiError {
    // A challenge is strings, a number and a time: serialising it cannot fail.
    let value = serde_json::to_value(&challenge).unwrap_or_default();
    ApiError::new(StatusCode::PRECONDITION_REQUIRED, code, detail)
        .with_extension("challenge", value)
}

fn count_verification(outcome: &'static str) {
    metrics::counter!("login_otp_total", "step" => "verify", "outcome" => outcome).increment(1);
}

/// Whole seconds to wait, at least one.
fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// A wait as people say it: seconds under two minutes, whole minutes above.
fn wait_text(seconds: u64) -> String {
    if seconds < 120 {
        format!("{seconds} 秒")
    } else {
        format!("{} 分钟", seconds.div_ceil(60))
    }
}

fn resend_too_soon(wait: TimeDelta) -> ApiError {
    let seconds = whole_seconds(wait.to_std().unwrap_or_default()).max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "otp.resend_too_soon",
        format!("验证码已发送，请 {seconds} 秒后再重新获取。"),
    )
    .with_retry_after(seconds)
}

fn too_many_sends(wait: Duration) -> ApiError {
    let seconds = whole_seconds(wait).max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "otp.too_many_sends",
        format!("获取验证码过于频繁，请 {} 后再试。", wait_text(seconds)),
    )
    .with_retry_after(seconds)
}

fn locked(wait: Duration) -> ApiError {
    let seconds = whole_seconds(wait).max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "auth.locked",
        format!("登录失败次数过多，请 {} 后再试。", wait_text(seconds)),
    )
    .with_retry_after(seconds)
}

fn expired() -> ApiError {
    ApiError::invalid("otp.expired", "验证码已失效，请重新获取。")
}

fn wrong(attempts_left: u32) -> ApiError {
    let detail = if attempts_left == 0 {
        "验证码错误，该验证码已失效，请重新获取。".to_owned()
    } else {
        format!("验证码错误，还可再试 {attempts_left} 次。")
    };
    ApiError::invalid("otp.wrong", detail).with_extension("attempts_left", attempts_left.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..200).map(|_| new_code()).collect();
        assert!(
            codes.iter().all(|code| parse_code(code).is_ok()),
            "{codes:?}"
        );
        assert!(codes.len() > 190, "{} distinct codes of 200", codes.len());
    }

    #[test]
    fn only_six_digits_are_taken_as_a_code() {
        assert_eq!(parse_code(" 012345 ").unwrap(), "012345");
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "12 345"] {
            assert_eq!(
                parse_code(bad).unwrap_err().code(),
                "otp.invalid_code",
                "{bad}"
            );
        }
    }

    #[test]
    fn waits_are_said_in_seconds_then_minutes() {
        assert_eq!(wait_text(1), "1 秒");
        assert_eq!(wait_text(119), "119 秒");
        assert_eq!(wait_text(120), "2 分钟");
        assert_eq!(wait_text(1799), "30 分钟");
        assert_eq!(whole_seconds(Duration::from_millis(59_001)), 60);
    }

    #[test]
    fn a_number_may_have_another_code_once_the_interval_has_passed() {
        let sent = Utc::now();
        assert_eq!(resend_wait(sent, sent), Some(RESEND_INTERVAL));
        assert_eq!(
            resend_wait(sent, sent + TimeDelta::seconds(59)),
            Some(TimeDelta::seconds(1))
        );
        assert_eq!(resend_wait(sent, sent + RESEND_INTERVAL), None);
    }
}
