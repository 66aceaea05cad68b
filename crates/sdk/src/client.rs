//! An HTTP client that behaves like the bank app: a bearer session, an enrolled device key
//! signing every request under `/api/v1/me/`, and answers to proof-of-work challenges.
//!
//! The bench and the server's tests use it as the app would, and as a crawler that copied
//! the app's key and logic would: it is the honest client and the best-informed bot.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bianmin_core::{SharedClock, SystemClock};
use bianmin_crypto::Sm2SigningKey;
use reqwest::header::{ACCEPT, CONTENT_TYPE, DATE, HeaderMap, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    DeviceSigner, HEADER_CHALLENGE, HEADER_CLIENT, SdkError, answer_challenge, is_signed_path,
    new_nonce,
};

/// The user agent unless [`Client::with_user_agent`] sets another. The server's behaviour
/// scoring recognises the bank's app by the `BianminApp` marker.
pub const DEFAULT_USER_AGENT: &str =
    concat!("BianminApp/", env!("CARGO_PKG_VERSION"), " (bianmin-sdk)");

/// What this client says of itself in `x-bm-client` unless told otherwise.
const DEFAULT_CLIENT_TAG: &str = "sdk-rust";
const ENROLMENT_PATH: &str = "/api/v1/me/devices";
const CHALLENGE_CODES: [&str; 2] = ["guard.challenge", "guard.challenge_failed"];

/// A refusal the client did not get past: the status, the problem's `code` and `detail`
/// (Chinese, for a person), and `Retry-After` when the server gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The problem's `code`, e.g. `guard.blocked`, `rate_limited`, `device.too_many`; empty
    /// when the answer had none.
    pub code: String,
    /// The problem's `detail`.
    pub detail: String,
    /// The `Retry-After` header, in whole seconds.
    pub retry_after: Option<Duration>,
}

/// The members of a problem+json answer this client reads.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    detail: String,
    challenge: Option<ChallengeMember>,
}

#[derive(Debug, Deserialize)]
struct ChallengeMember {
    token: String,
}

/// The answer of `POST /api/v1/me/devices` this client reads.
#[derive(Debug, Deserialize)]
struct EnrolledDevice {
    id: Uuid,
}

/// A client of the Bianmin API acting for one signed-in citizen.
///
/// Every request carries `Authorization: Bearer <token>`, the user agent and `x-bm-client`.
/// With a device signer (from [`enrol`](Self::enrol) or [`with_signer`](Self::with_signer)),
/// requests whose path [`is_signed_path`] are signed over the exact bytes sent. A `428`
/// challenge is answered and the request sent once more, signed anew; a second refusal, a
/// block (403 with `Retry-After`) and a rate limit (429) come back as
/// [`SdkError::Refused`], never retried.
///
/// `Debug` does not show the session token.
pub struct Client {
    base_url: Url,
    token: String,
    http: reqwest::Client,
    signer: Option<DeviceSigner>,
    user_agent: String,
    client_tag: Option<String>,
    clock: SharedClock,
    /// Seconds to add to `clock` when signing: the server's time minus this device's, learnt
    /// from the `Date` of a `signature.stale` refusal.
    clock_offset: AtomicI64,
    solve_challenges: bool,
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`) with session
    /// token `token` (from `POST /api/v1/auth/…/login`), without a device key yet.
    ///
    /// # Errors
    ///
    /// [`SdkError::InvalidUrl`] if `base_url` is not an absolute URL.
    pub fn new(base_url: &str, token: impl Into<String>) -> Result<Self, SdkError> {
        let base_url =
            Url::parse(base_url).map_err(|error| SdkError::InvalidUrl(error.to_string()))?;
        if base_url.cannot_be_a_base() {
            return Err(SdkError::InvalidUrl("not a base URL".to_owned()));
        }
        Ok(Self {
            base_url,
            token: token.into(),
            http: reqwest::Client::new(),
            signer: None,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            client_tag: Some(DEFAULT_CLIENT_TAG.to_owned()),
            clock: Arc::new(SystemClock),
            clock_offset: AtomicI64::new(0),
            solve_challenges: true,
        })
    }

    /// Signs with `signer` from now on.
    #[must_use]
    pub fn with_signer(mut self, signer: DeviceSigner) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Sends `user_agent` instead of [`DEFAULT_USER_AGENT`].
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sends `tag` as `x-bm-client` (`app`, `h5`, …) instead of `sdk-rust`, or no such
    /// header for `None`.
    #[must_use]
    pub fn with_client_tag(mut self, tag: Option<&str>) -> Self {
        self.client_tag = tag.map(str::to_owned);
        self
    }

    /// Takes the signing time from `clock` instead of the system clock, e.g. to act like a
    /// device whose clock is wrong.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Sends requests through `http` (its timeouts, pool, TLS) instead of a default client.
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Returns 428 challenges as [`SdkError::Refused`] instead of answering them, like a
    /// crawler unwilling to pay for the work.
    #[must_use]
    pub fn without_challenge_solving(mut self) -> Self {
        self.solve_challenges = false;
        self
    }

    /// The device signer, once enrolled or given.
    #[must_use]
    pub fn signer(&self) -> Option<&DeviceSigner> {
        self.signer.as_ref()
    }

    /// Generates a device key, enrols it (`POST /api/v1/me/devices` with the uncompressed
    /// public key and `label`) and signs with it from now on. Returns the device id.
    ///
    /// # Errors
    ///
    /// [`SdkError::Refused`] with the server's problem (e.g. 409 `device.too_many`) if the
    /// enrolment is refused; [`SdkError::Http`] or [`SdkError::Json`] if it could not be
    /// sent or its answer not read.
    pub async fn enrol(&mut self, label: &str) -> Result<Uuid, SdkError> {
        let key = Sm2SigningKey::generate();
        let body = json!({ "public_key": key.verifying_key().to_hex(), "label": label });
        let response = self
            .send(Method::POST, ENROLMENT_PATH, Some(&body), &[])
            .await?;
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        let device: EnrolledDevice = serde_json::from_slice(&response.bytes().await?)?;
        self.signer = Some(DeviceSigner::new(device.id, key));
        Ok(device.id)
    }

    /// `GET path_and_query`; see [`send`](Self::send).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn get(&self, path_and_query: &str) -> Result<Response, SdkError> {
        self.send(Method::GET, path_and_query, None, &[]).await
    }

    /// `POST path_and_query` with `body` as JSON; see [`send`](Self::send).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn post_json(
        &self,
        path_and_query: &str,
        body: &Value,
    ) -> Result<Response, SdkError> {
        self.send(Method::POST, path_and_query, Some(body), &[])
            .await
    }

    /// Sends a request to `path_and_query` (relative to the base URL; non-ASCII is
    /// percent-encoded as a browser does, and the encoded form is what is signed), with
    /// `body` serialised once as JSON and `extra_headers` (e.g. `Idempotency-Key`).
    ///
    /// Any answer other than the refusals below is returned as it is, errors included, for
    /// the caller to read.
    ///
    /// # Errors
    ///
    /// - [`SdkError::Refused`] for 429, for 403 with `Retry-After` (`guard.blocked`), and
    ///   for 428 when challenges are not solved or the one retry was refused again.
    /// - [`SdkError::MalformedChallenge`] if a 428's challenge token cannot be read.
    /// - [`SdkError::InvalidUrl`], [`SdkError::Http`], [`SdkError::Json`] if the request
    ///   cannot be built or sent.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        extra_headers: &[(&str, &str)],
    ) -> Result<Response, SdkError> {
        let url = self
            .base_url
            .join(path_and_query)
            .map_err(|error| SdkError::InvalidUrl(error.to_string()))?;
        let body = body.map(serde_json::to_vec).transpose()?;
        let mut answer: Option<String> = None;
        let mut resynced = false;
        loop {
            let response = self
                .send_once(
                    &method,
                    &url,
                    body.as_deref(),
                    extra_headers,
                    answer.as_deref(),
                )
                .await?;
            let status = response.status();
            let refusal = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN
                    && response.headers().contains_key(RETRY_AFTER));
            if refusal {
                return Err(refused(response).await);
            }
            if status == StatusCode::UNAUTHORIZED && !resynced {
                // A device whose clock is off by more than five minutes: set it by the
                // server's `Date` and sign once more, as the H5 pages do.
                let (response, server_time) = stale_refusal(response).await?;
                match server_time {
                    Some(server_time) => {
                        let offset = server_time.timestamp() - self.clock.now().timestamp();
                        self.clock_offset.store(offset, Ordering::Relaxed);
                        resynced = true;
                        continue;
                    }
                    None => return Ok(response),
                }
            }
            if status != StatusCode::PRECONDITION_REQUIRED {
                return Ok(response);
            }
            let retry_after = retry_after(response.headers());
            let problem: Problem = serde_json::from_slice(&response.bytes().await?)?;
            let token = match problem.challenge {
                Some(challenge)
                    if self.solve_challenges
                        && answer.is_none()
                        && CHALLENGE_CODES.contains(&problem.code.as_str()) =>
                {
                    challenge.token
                }
                _ => {
                    return Err(SdkError::Refused(Box::new(Refusal {
                        status: status.as_u16(),
                        code: problem.code,
                        detail: problem.detail,
                        retry_after,
                    })));
                }
            };
            // About 2^difficulty hashes: off the async runtime's threads.
            let solved = tokio::task::spawn_blocking(move || answer_challenge(&token))
                .await
                .map_err(|_| SdkError::SolverInterrupted)??;
            answer = Some(solved);
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
        extra_headers: &[(&str, &str)],
        challenge_answer: Option<&str>,
    ) -> Result<Response, SdkError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.token)
            .header(USER_AGENT, &self.user_agent)
            .header(ACCEPT, "application/json, application/problem+json");
        if let Some(tag) = &self.client_tag {
            request = request.header(HEADER_CLIENT, tag);
        }
        // As the H5 pages do: every write says JSON, body or not.
        if *method != Method::GET && *method != Method::HEAD {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        if let Some(signer) = self.signer.as_ref().filter(|_| is_signed_path(url.path())) {
            // A new timestamp and nonce on every attempt: the retry after a challenge is a
            // new request to the replay check.
            let signed = signer.sign(
                method.as_str(),
                url.path(),
                url.query(),
                body.unwrap_or_default(),
                self.clock.now().timestamp() + self.clock_offset.load(Ordering::Relaxed),
                &new_nonce(),
            );
            for (name, value) in signed.pairs() {
                request = request.header(name, value);
            }
        }
        if let Some(answer) = challenge_answer {
            request = request.header(HEADER_CHALLENGE, answer);
        }
        if let Some(body) = body {
            request = request.body(body.to_vec());
        }
        Ok(request.send().await?)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url.as_str())
            .field("device", &self.signer.as_ref().map(DeviceSigner::device_id))
            .field("user_agent", &self.user_agent)
            .field("client_tag", &self.client_tag)
            .field("solve_challenges", &self.solve_challenges)
            .finish_non_exhaustive()
    }
}

/// For a 401 `signature.stale` with a `Date` header, the server's time; `response` itself
/// (read and rebuilt) for any other answer.
async fn stale_refusal(
    response: Response,
) -> Result<(Response, Option<chrono::DateTime<chrono::FixedOffset>>), SdkError> {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    let stale = serde_json::from_slice::<Problem>(&bytes)
        .is_ok_and(|problem| problem.code == "signature.stale");
    let server_time = headers
        .get(DATE)
        .and_then(|date| date.to_str().ok())
        .and_then(|date| chrono::DateTime::parse_from_rfc2822(date).ok())
        .filter(|_| stale);
    let mut rebuilt = reqwest::Response::from(read_response(status, bytes.to_vec()));
    *rebuilt.headers_mut() = headers;
    Ok((rebuilt, server_time))
}

/// An `http::Response` with `status` and `body`, to hand back a response whose body was read.
fn read_response(status: StatusCode, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response
}

/// The refusal in `response`; an answer that is not problem+json gives an empty code and
/// detail rather than an error, since the status already says what happened.
async fn refused(response: Response) -> SdkError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let problem = match response.bytes().await {
        Ok(bytes) => serde_json::from_slice::<Problem>(&bytes).unwrap_or_default(),
        Err(_) => Problem::default(),
    };
    SdkError::Refused(Box::new(Refusal {
        status,
        code: problem.code,
        detail: problem.detail,
        retry_after,
    }))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}
