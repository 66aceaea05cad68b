//! Rate limits at the HTTP edge: which endpoint class a request belongs to, whom it is counted
//! against, and the 429 it gets once over quota. The arithmetic (GCRA) and the state (this
//! process, or Redis shared by every instance) are `bianmin-guard`'s.
//!
//! Every `/api/` request is counted once, in one class, against each limit of that class that
//! applies to it: the client's address always, the signed-in session when the request carries
//! one. `/healthz`, `/readyz`, `/metrics` and the static front-ends are not limited.
//! `docs/security.md` ("Rate limits") describes the classes and their defaults.
//!
//! [`Guard`] also holds what the other protections share: the behaviour tracker and the
//! challenge issuer (`crate::antibot`), the signature mode and the Redis nonce store
//! (`crate::signing`), and the login guard (`crate::auth::otp`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bianmin_core::SharedClock;
use bianmin_guard::{
    BehaviourConfig, BehaviourTracker, ChallengeIssuer, Dimension, GuardSecret, LimitKey,
    LocalLimiter, LoginConfig, LoginGuard, Quota, RateLimiter, RedisLimiter, RedisSpentStore,
    Verdict,
};

use crate::app::AppState;
use crate::auth::SessionKey;
use crate::config::{ClassLimits, Config, LimitSetting, SignatureMode};
use crate::http::client_ip::{TrustedProxies, peer_address};
use crate::http::problem::ApiError;

/// The label under the session key from which the guard's secret is derived.
const GUARD_SECRET_LABEL: &[u8] = b"bianmin/guard-secret/v1";

/// The label of the key that makes the pseudonyms of behaviour subjects.
const SUBJECT_KEY_LABEL: &[u8] = b"bianmin/guard-subject/v1";

/// The kinds of endpoint that have their own quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointClass {
    /// Sign-in: the target of credential stuffing.
    Login,
    /// A citizen's own data under `/api/v1/me/`: the target of scraping.
    Query,
    /// Requests that move money.
    Pay,
    /// Every other `/api/` request.
    Public,
}

impl EndpointClass {
    /// The class's name in limit keys, metrics and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointClass::Login => "login",
            EndpointClass::Query => "query",
            EndpointClass::Pay => "pay",
            EndpointClass::Public => "public",
        }
    }

    /// The class of a request by its method and path (the route template when one matched,
    /// else the raw path); `None` for what is never limited.
    pub fn of(method: &Method, path: &str) -> Option<EndpointClass> {
        const LOGIN: [&str; 4] = [
            "/api/v1/auth/dev-login",
            "/api/v1/auth/assertion",
            "/api/v1/auth/otp/send",
            "/api/v1/auth/otp/verify",
        ];
        const PAY: [&str; 3] = [
            "/api/v1/me/traffic/payments",
            "/api/v1/me/loan/line/draws",
            "/api/v1/me/loan/line/repayments",
        ];
        if !path.starts_with("/api/") {
            return None;
        }
        let class = if *method == Method::POST && LOGIN.contains(&path) {
            EndpointClass::Login
        } else if *method == Method::POST && PAY.contains(&path) {
            EndpointClass::Pay
        } else if path.starts_with("/api/v1/me/") {
            EndpointClass::Query
        } else {
            EndpointClass::Public
        };
        Some(class)
    }
}

/// The quotas of one class by dimension, built from configuration once.
#[derive(Debug, Default)]
struct ClassQuotas {
    per_ip: Option<Quota>,
    per_user: Option<Quota>,
}

impl ClassQuotas {
    fn from_config(name: &str, limits: &ClassLimits) -> anyhow::Result<ClassQuotas> {
        let quota = |dimension: &str, setting: Option<LimitSetting>| {
            setting
                .map(|LimitSetting { per_minute, burst }| {
                    Quota::new(per_minute, Duration::from_secs(60), burst).with_context(|| {
                        format!("guard.{name}.{dimension}: per_minute and burst must be at least 1")
                    })
                })
                .transpose()
        };
        Ok(ClassQuotas {
            per_ip: quota("per_ip", limits.per_ip)?,
            per_user: quota("per_user", limits.per_user)?,
        })
    }
}

/// Whom a request is counted against.
struct Subject {
    ip: Option<IpAddr>,
    session: Option<uuid::Uuid>,
}

impl Subject {
    /// The value of this subject in `dimension`, if it has one.
    fn value(&self, dimension: Dimension) -> Option<String> {
        match dimension {
            Dimension::Ip => self.ip.map(address_key),
            Dimension::User => self.session.map(|id| id.to_string()),
            // A device is counted once its signature verified (`Guard::check_device`), not
            // here, where its id is only a claim. No partner has an API key yet, so client
            // keys have no limits.
            Dimension::Device | Dimension::ClientKey => None,
        }
    }
}

/// The address a client is counted under: an IPv4 address as it is, an IPv6 address by its
/// /64 network, since one subscriber line or host is given a whole /64 and could otherwise
/// take a fresh budget for every request.
pub(crate) fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        // A prefix length of 64 is valid for every IPv6 address: `new_assert` cannot panic.
        IpAddr::V6(v6) => ipnet::Ipv6Net::new_assert(v6, 64).trunc().to_string(),
    }
}

/// The protections of a running server: the rate limiter with its quotas and trusted
/// proxies, behaviour scoring with its challenges, and the login guard.
pub struct Guard {
    limiter: Option<Arc<dyn RateLimiter>>,
    shared: bool,
    proxies: TrustedProxies,
    login: ClassQuotas,
    query: ClassQuotas,
    pay: ClassQuotas,
    public: ClassQuotas,
    per_device: Option<Quota>,
    signatures: SignatureMode,
    behaviour: Option<BehaviourTracker>,
    challenges: ChallengeIssuer,
    logins: LoginGuard,
    nonces: Option<RedisSpentStore>,
    subject_key: [u8; 32],
}

impl Guard {
    /// Builds the guard from `config`: parses the trusted proxies and quotas (a mistake stops
    /// the server at startup) and picks Redis when `redis_url` is set, this process otherwise.
    ///
    /// The secret that keys the pseudonyms of limit keys is derived from the session key,
    /// which every instance of a deployment already shares; so instances agree on keys in
    /// Redis without another secret to distribute. Must be called inside a Tokio runtime.
    pub fn from_config(
        config: &Config,
        session_key: &SessionKey,
        clock: SharedClock,
    ) -> anyhow::Result<Guard> {
        let guard = &config.guard;
        let proxies = TrustedProxies::parse(&guard.trusted_proxies)?;
        let secret = GuardSecret::from_bytes(&session_key.derive(GUARD_SECRET_LABEL))
            .context("cannot derive the rate limiter's secret")?;
        let (limiter, shared): (Option<Arc<dyn RateLimiter>>, bool) = match &config.redis_url {
            _ if !guard.enabled => (None, false),
            Some(url) => {
                let redis = RedisLimiter::new(url.expose(), &secret)
                    .context("redis_url is not a valid Redis URL")?
                    .with_prefix(guard.redis_prefix.clone());
                (Some(Arc::new(redis)), true)
            }
            None => (Some(Arc::new(LocalLimiter::new(&secret))), false),
        };
        let settings = &guard.behaviour;
        let behaviour = if guard.enabled && settings.enabled {
            let scoring = BehaviourConfig {
                signed_classes: match guard.signatures {
                    SignatureMode::Required => vec![
                        EndpointClass::Query.as_str().to_owned(),
                        EndpointClass::Pay.as_str().to_owned(),
                    ],
                    SignatureMode::Optional | SignatureMode::Off => Vec::new(),
                },
                ..BehaviourConfig::default()
            };
            Some(BehaviourTracker::new(scoring).context("guard.behaviour")?)
        } else {
            None
        };
        let mut challenges =
            ChallengeIssuer::new(&secret, clock.clone(), settings.challenge_difficulty)
                .context("guard.behaviour.challenge_difficulty must be between 1 and 32")?;
        let mut nonces = None;
        if let Some(url) = &config.redis_url {
            let spent = RedisSpentStore::new(url.expose())
                .context("redis_url is not a valid Redis URL")?
                .with_prefix(format!("{}challenge:", guard.redis_prefix));
            challenges = challenges.with_spent_store(Arc::new(spent));
            nonces = Some(
                RedisSpentStore::new(url.expose())
                    .context("redis_url is not a valid Redis URL")?
                    .with_prefix(format!("{}nonce:", guard.redis_prefix)),
            );
        }
        let logins = LoginGuard::new(&secret, clock, LoginConfig::default())
            .context("cannot build the login guard")?;
        let per_device = guard
            .per_device
            .map(|LimitSetting { per_minute, burst }| {
                Quota::new(per_minute, Duration::from_secs(60), burst)
                    .context("guard.per_device: per_minute and burst must be at least 1")
            })
            .transpose()?;
        Ok(Guard {
            limiter,
            shared,
            proxies,
            login: ClassQuotas::from_config("login", &guard.login)?,
            query: ClassQuotas::from_config("query", &guard.query)?,
            pay: ClassQuotas::from_config("pay", &guard.pay)?,
            public: ClassQuotas::from_config("public", &guard.public)?,
            per_device,
            signatures: guard.signatures,
            behaviour,
            challenges,
            logins,
            nonces,
            subject_key: session_key.derive(SUBJECT_KEY_LABEL),
        })
    }

    /// Where the nonces of signed requests are remembered when Redis is configured (else the
    /// database).
    pub fn redis_nonces(&self) -> Option<&RedisSpentStore> {
        self.nonces.as_ref()
    }

    /// The pseudonym under which a subject (`session:…`, `device:…`, `ip:…`) is shown in logs
    /// and the console: 12 hexadecimal digits of HMAC-SM3 under a key derived from the session
    /// key, the same on every instance, never reversible to the id or address.
    pub fn pseudonym(&self, subject: &str) -> String {
        let mac = bianmin_crypto::hmac_sm3(&self.subject_key, subject.as_bytes());
        hex::encode(&mac[..6])
    }

    /// Whether citizens' requests must be signed, may be, or are not checked.
    pub fn signatures(&self) -> SignatureMode {
        self.signatures
    }

    /// Behaviour scoring, unless it is switched off.
    pub fn behaviour(&self) -> Option<&BehaviourTracker> {
        self.behaviour.as_ref()
    }

    /// The issuer and checker of proof-of-work challenges.
    pub fn challenges(&self) -> &ChallengeIssuer {
        &self.challenges
    }

    /// The login guard: lockouts, credential-stuffing detection and OTP limits of this
    /// instance.
    pub fn logins(&self) -> &LoginGuard {
        &self.logins
    }

    /// The client address of a request, by the trusted-proxy setting; `None` only when the
    /// router is driven without `serve` (no TCP peer).
    pub fn client_ip(
        &self,
        extensions: &axum::http::Extensions,
        headers: &axum::http::HeaderMap,
    ) -> Option<IpAddr> {
        peer_address(extensions).map(|peer| self.proxies.client_ip(peer, headers))
    }

    /// Where budgets are kept: `redis` (shared by every instance), `local` (this instance
    /// only) or `off`.
    pub fn mode(&self) -> &'static str {
        match (&self.limiter, self.shared) {
            (None, _) => "off",
            (Some(_), true) => "redis",
            (Some(_), false) => "local",
        }
    }

    /// Charges one sign-in to `account` (a persona, or the issuer and subject of a verified
    /// identity assertion) under the `login` class's `per_user` quota; refuses with 429 once
    /// it is spent.
    ///
    /// Checked by the sign-in handlers, as only they know the account. Besides slowing
    /// attacks on one account, it bounds how many sessions one person can open, and with them
    /// how far the per-session limits of the other classes can be stretched.
    ///
    /// # Errors
    ///
    /// [`ApiError::rate_limited`] once the account's sign-ins are spent.
    pub async fn check_sign_in(&self, account: &str) -> Result<(), ApiError> {
        let (Some(limiter), Some(quota)) = (&self.limiter, &self.login.per_user) else {
            return Ok(());
        };
        let class = EndpointClass::Login;
        let key = LimitKey::new(class.as_str(), Dimension::User, account);
        self.decide(limiter.as_ref(), class, &[(&key, quota)]).await
    }

    /// Charges one signed request to `device` under the `per_device` quota; refuses with 429
    /// once it is spent. Checked after the signature verified, so that nobody can spend
    /// another device's budget by naming it.
    ///
    /// # Errors
    ///
    /// [`ApiError::rate_limited`] once the device's requests are spent.
    pub async fn check_device(&self, device: uuid::Uuid) -> Result<(), ApiError> {
        let (Some(limiter), Some(quota)) = (&self.limiter, &self.per_device) else {
            return Ok(());
        };
        let class = EndpointClass::Query;
        let key = LimitKey::new(class.as_str(), Dimension::Device, device.to_string());
        self.decide(limiter.as_ref(), class, &[(&key, quota)]).await
    }

    /// Checks and charges `limits` for one request of `class` and counts the verdict.
    async fn decide(
        &self,
        limiter: &dyn RateLimiter,
        class: EndpointClass,
        limits: &[(&LimitKey, &Quota)],
    ) -> Result<(), ApiError> {
        match limiter.check_all(limits).await {
            Ok(Verdict::Allow { .. }) => {
                count(class, "allow");
                Ok(())
            }
            Ok(Verdict::Deny { retry_after }) => {
                count(class, "deny");
                Err(ApiError::rate_limited(retry_after.as_secs().max(1)))
            }
            Err(error) => {
                // Redis trouble is already absorbed by the limiter's local fallback; what is
                // left is a bug, and refusing every request over it would be worse than
                // letting this one through.
                tracing::error!(%error, class = class.as_str(), "rate limiter failed; request let through");
                count(class, "error");
                Ok(())
            }
        }
    }

    fn quotas(&self, class: EndpointClass) -> &ClassQuotas {
        match class {
            EndpointClass::Login => &self.login,
            EndpointClass::Query => &self.query,
            EndpointClass::Pay => &self.pay,
            EndpointClass::Public => &self.public,
        }
    }
}

/// Middleware: counts each `/api/` request against its class's limits and answers 429
/// `rate_limited` with `Retry-After` once any of them is spent.
///
/// The user dimension is keyed by the session id of a token whose HMAC tag verifies, without
/// looking the session up: the limiter sits in front of the database, and a flood that made
/// one query per request before being refused would reach the very thing it protects. A
/// forged token has no key of its own (its sender is counted by address, and refused with 401
/// by the handler); a session that has ended still counts under its id, which is harmless.
/// A person could spread requests over several sessions, but each one costs a sign-in, which
/// the `login` class limits.
pub async fn limit_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let guard = state.guard();
    let Some(limiter) = &guard.limiter else {
        return next.run(request).await;
    };
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), MatchedPath::as_str);
    let Some(class) = EndpointClass::of(request.method(), path) else {
        return next.run(request).await;
    };
    let subject = Subject {
        // Absent only when the router is driven without `serve` (no TCP peer to count).
        ip: peer_address(request.extensions())
            .map(|peer| guard.proxies.client_ip(peer, request.headers())),
        session: crate::auth::session_id_in(request.headers(), state.session_key()),
    };
    let quotas = guard.quotas(class);
    let keys: Vec<(LimitKey, &Quota)> = [
        (Dimension::Ip, quotas.per_ip.as_ref()),
        // Sign-ins are counted per account by the handlers (`Guard::check_sign_in`), not
        // per the session a signing-in client may still carry.
        (
            Dimension::User,
            quotas
                .per_user
                .as_ref()
                .filter(|_| class != EndpointClass::Login),
        ),
    ]
    .into_iter()
    .filter_map(|(dimension, quota)| {
        let value = subject.value(dimension)?;
        Some((LimitKey::new(class.as_str(), dimension, value), quota?))
    })
    .collect();
    let limits: Vec<(&LimitKey, &Quota)> = keys.iter().map(|(key, quota)| (key, *quota)).collect();
    match guard.decide(limiter.as_ref(), class, &limits).await {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

fn count(class: EndpointClass, verdict: &'static str) {
    metrics::counter!("rate_limit_verdicts_total", "class" => class.as_str(), "verdict" => verdict)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fall_into_the_documented_classes() {
        let post = Method::POST;
        let get = Method::GET;
        for (method, path, expected) in [
            (&post, "/api/v1/auth/dev-login", Some(EndpointClass::Login)),
            (&post, "/api/v1/auth/assertion", Some(EndpointClass::Login)),
            (&get, "/api/v1/auth/personas", Some(EndpointClass::Public)),
            (
                &post,
                "/api/v1/me/traffic/payments",
                Some(EndpointClass::Pay),
            ),
            (
                &get,
                "/api/v1/me/traffic/payments",
                Some(EndpointClass::Query),
            ),
            (
                &post,
                "/api/v1/me/loan/line/draws",
                Some(EndpointClass::Pay),
            ),
            (
                &post,
                "/api/v1/me/loan/line/repayments",
                Some(EndpointClass::Pay),
            ),
            (&get, "/api/v1/me/hpf/account", Some(EndpointClass::Query)),
            (
                &post,
                "/api/v1/me/consents/{id}/approve",
                Some(EndpointClass::Query),
            ),
            (&get, "/api/v1/me", Some(EndpointClass::Public)),
            (&post, "/api/v1/assistant/ask", Some(EndpointClass::Public)),
            (&get, "/api/v1/no-such-thing", Some(EndpointClass::Public)),
            (&get, "/healthz", None),
            (&get, "/readyz", None),
            (&get, "/metrics", None),
            (&get, "/citizen/index.html", None),
            (&get, "/", None),
        ] {
            assert_eq!(EndpointClass::of(method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network() {
        let same_line =
            ["2001:db8:1:2::1", "2001:db8:1:2:ffff::7"].map(|a| address_key(a.parse().unwrap()));
        assert_eq!(same_line[0], same_line[1]);
        assert_eq!(same_line[0], "2001:db8:1:2::/64");
        assert_ne!(
            address_key("2001:db8:1:3::1".parse().unwrap()),
            same_line[0]
        );
        assert_eq!(address_key("203.0.113.9".parse().unwrap()), "203.0.113.9");
    }

    #[test]
    fn a_quota_of_zero_stops_the_server_at_startup_by_name() {
        let limits = ClassLimits {
            per_ip: Some(LimitSetting::new(0, 5)),
            per_user: None,
        };
        let error = ClassQuotas::from_config("query", &limits).unwrap_err();
        assert!(error.to_string().contains("guard.query.per_ip"), "{error}");
    }
}
