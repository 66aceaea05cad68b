//! The platform's one way to fetch a person's data from an agency (统一接入标准, client side).
//!
//! Every domain that needs a citizen's government data — a service page showing their
//! provident-fund balance, a loan decision reading their tax income — goes through
//! [`Gateway::fetch`], which does, in this order and nothing else:
//!
//! 1. look the service up by its code (`hpf.account`) among the services the registry lets
//!    this platform call, and the data kinds it returns;
//! 2. find the person's live consent for the caller's [`Purpose`] covering those kinds
//!    ([`ConsentLedger::find_usable`]); none → [`FetchError::ConsentRequired`], **nothing is
//!    sent** (the page then asks the person). The consent found is noted in memory until its
//!    validity ends or it is revoked (here, or announced by another instance on PostgreSQL's
//!    `bianmin_consent_revoked` channel), so that an answer already held under it (step 3)
//!    is shown again without a database round trip; anything sent is always authorised
//!    against the database first (step 4);
//! 3. if the client holds an answer fetched earlier under this consent, within the consent's
//!    data life, return it: nothing is sent, so nothing counts against the consent's
//!    frequency (a use, as in India's Account Aggregator, is a fetch from the provider);
//! 4. otherwise authorise the use of that consent for each kind under one fresh message id
//!    ([`ConsentLedger::authorize_use`]): revocation, expiry and the frequency window are
//!    checked on the locked consent row and the use is recorded; a refusal is returned as
//!    [`FetchError::Consent`] and **nothing is sent**;
//! 5. open the person's resident id (the request's subject) from the [`PersonVault`];
//! 6. call the service through the [`ExchangeClient`] as that same message id, so the
//!    consent's use and the signed message log name the same message.
//!
//! A journey that asks several agencies at once authorises them together with
//! [`Gateway::authorize_batch`] (steps 1–5 once per purpose, each consent's uses in one
//! transaction) and sends each with [`Gateway::send_authorized`] (step 6).
//!
//! Revoking goes through [`Gateway::revoke`] / [`Gateway::revoke_all_for`], which also drop
//! the client's cached answers under the consent: "revocation takes effect on the next call"
//! holds for the cache too.
//!
//! *Architecture invariant:* knows no HTTP and no roles; whether the caller may act for
//! `person_id` is the caller's duty (the server passes the signed-in person only).

#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bianmin_consent::{Consent, ConsentError, ConsentLedger, ConsentUses, NewUse, Purpose};
use bianmin_core::{ResidentId, SharedClock};
use bianmin_exchange::{
    ExchangeClient, ExchangeError, Registry, ServiceDef, ServiceId, SignedConsent,
};
use bianmin_people::{PeopleError, PersonVault};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

/// Why a fetch did not return data. Nothing personal in any message.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The person has no live consent for this purpose covering the service's data: they must
    /// be asked (and approve) first. Nothing was sent.
    #[error("no usable consent for purpose {}", purpose.code())]
    ConsentRequired {
        /// The purpose a consent is needed for.
        purpose: Purpose,
    },

    /// The consent ledger refused the use (revoked, expired, frequency spent, …) or failed.
    /// Nothing was sent.
    #[error(transparent)]
    Consent(#[from] ConsentError),

    /// The exchange refused or failed the call (provider errors, timeouts, breaker open, a
    /// rejected response).
    #[error(transparent)]
    Exchange(#[from] ExchangeError),

    /// The person's record could not be read (unknown, erased, key refused). Nothing was sent.
    #[error("person record unavailable: {0}")]
    Person(#[from] PeopleError),

    /// No service with this code is in the registry with an access right for this platform.
    #[error("no callable service with code {0}")]
    UnknownService(String),

    /// The purpose may not cover the service's data kinds: a programming error in the caller
    /// (e.g. asking for credit data under a service purpose). Nothing was sent.
    #[error("purpose {purpose} does not cover the data of service {service}")]
    NotInPurpose {
        /// The purpose's code.
        purpose: &'static str,
        /// The service code.
        service: String,
    },
}

impl FetchError {
    /// Stable machine-readable code: `consent.required`, the ledger's `consent.*`, the
    /// exchange's `exchange.*`, `person.*`, or `gateway.not_in_purpose`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::ConsentRequired { .. } => "consent.required",
            FetchError::Consent(e) => e.code(),
            FetchError::Exchange(e) => e.code(),
            FetchError::Person(PeopleError::NotFound) => "person.not_found",
            FetchError::Person(PeopleError::Erased) => "person.erased",
            FetchError::Person(_) => "person.unavailable",
            FetchError::UnknownService(_) => "exchange.unknown_service",
            FetchError::NotInPurpose { .. } => "gateway.not_in_purpose",
        }
    }

    /// True when nothing was sent to any agency because of this error (everything except
    /// what the exchange client reports).
    #[must_use]
    pub fn nothing_sent(&self) -> bool {
        !matches!(self, FetchError::Exchange(_))
    }
}

/// Data fetched from an agency, with what is needed to account for it.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    /// The verified, decrypted answer.
    pub value: T,
    /// The consent it was fetched under.
    pub consent_id: Uuid,
    /// The exchange message id (the `consent_uses` rows and the message log name it); `None`
    /// when the answer came from the client's cache (nothing was sent, no use recorded).
    pub message_id: Option<Uuid>,
    /// The service called.
    pub service: ServiceId,
    /// Time from the start of the fetch to the answer (consent checks included).
    pub elapsed: Duration,
}

/// The fetch path; cheap to clone.
#[derive(Clone)]
pub struct Gateway(Arc<Inner>);

struct Inner {
    ledger: ConsentLedger,
    vault: PersonVault,
    client: Arc<ExchangeClient>,
    registry: Arc<Registry>,
    clock: SharedClock,
    /// The live consent last found per (person, purpose): lets an answer already held under
    /// it be shown again without asking the database which consent is live. Dropped on
    /// revocation here and, through [`Gateway::forget`], on revocation announced by another
    /// instance; never trusted past its validity; never used to send anything.
    held: Mutex<HashMap<(Uuid, Purpose), HeldConsent>>,
}

/// One fetch of a batch ([`Gateway::authorize_batch`]).
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// The purpose it is made for.
    pub purpose: Purpose,
    /// The service code, e.g. `hpf.account`.
    pub code: &'static str,
    /// The request body (a JSON object of the service's schema, without subject or consent).
    pub body: Value,
}

/// Fetches authorised together by [`Gateway::authorize_batch`], each sent with
/// [`Gateway::send_authorized`].
#[derive(Debug)]
pub struct AuthorizedBatch {
    started: Instant,
    subject: Option<ResidentId>,
    entries: Vec<BatchEntry>,
}

#[derive(Debug)]
struct BatchEntry {
    purpose: Purpose,
    def: ServiceDef,
    body: Value,
    ready: Ready,
}

/// Where a batch's fetch stands.
#[derive(Debug)]
enum Ready {
    /// Not yet authorised (only while the batch is being built).
    Pending,
    /// Answered from the client's cache under a held consent: nothing to send.
    Cached { consent_id: Uuid, value: Value },
    /// Authorised under `consent`, to be sent as `message_id`.
    Send {
        consent: Arc<SignedConsent>,
        message_id: Uuid,
    },
}

#[derive(Debug, Clone)]
struct HeldConsent {
    id: Uuid,
    kinds: Vec<String>,
    valid_until: chrono::DateTime<chrono::Utc>,
}

/// Most (person, purpose) pairs held; beyond it the map starts again.
const HELD_CAPACITY: usize = 100_000;

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("client", &self.0.client.id().to_string())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway calling through `client` (whose registry must be `registry`), using
    /// consents from `ledger` and subjects from `vault` over the same database.
    #[must_use]
    pub fn new(
        ledger: ConsentLedger,
        vault: PersonVault,
        client: Arc<ExchangeClient>,
        registry: Arc<Registry>,
        clock: SharedClock,
    ) -> Gateway {
        Gateway(Arc::new(Inner {
            ledger,
            vault,
            client,
            registry,
            clock,
            held: Mutex::new(HashMap::new()),
        }))
    }

    /// The consent ledger.
    #[must_use]
    pub fn ledger(&self) -> &ConsentLedger {
        &self.0.ledger
    }

    /// The exchange client (for services called without a person, e.g. notifications).
    #[must_use]
    pub fn client(&self) -> &ExchangeClient {
        &self.0.client
    }

    /// The service with code `code` (e.g. `hpf.account`) that this platform may call: the
    /// highest version when several are registered.
    ///
    /// # Errors
    ///
    /// [`FetchError::UnknownService`] if none is registered with an access right for us.
    pub fn service(&self, code: &str) -> Result<&ServiceDef, FetchError> {
        let me = self.0.client.id();
        self.0
            .registry
            .services()
            .filter(|def| def.id.code == code && self.0.registry.is_allowed(me, &def.id))
            .max_by(|a, b| a.id.version.cmp(&b.id.version))
            .ok_or_else(|| FetchError::UnknownService(code.to_owned()))
    }

    /// Fetches `code` about person `person_id` for `purpose` with request `body` (a JSON
    /// object of the service's request schema, without subject or consent), under the newest
    /// live consent of theirs that covers it. See the crate documentation for the steps.
    ///
    /// # Errors
    ///
    /// [`FetchError::ConsentRequired`] when there is no such consent; the others as
    /// [`fetch_under`](Self::fetch_under).
    pub async fn fetch<T: DeserializeOwned>(
        &self,
        person_id: Uuid,
        purpose: Purpose,
        code: &str,
        body: Value,
    ) -> Result<Fetched<T>, FetchError> {
        let started = Instant::now();
        let def = self.service(code)?;
        if !def.data_kinds.iter().all(|kind| purpose.allows(kind)) {
            return Err(FetchError::NotInPurpose {
                purpose: purpose.code(),
                service: code.to_owned(),
            });
        }
        let now = self.0.clock.now();
        if let Some(held) = self.held(person_id, purpose, &def.data_kinds, now)
            && let Some(value) = self.0.client.cached_as::<T>(&def.id, &held, &body)
        {
            return Ok(Fetched {
                value,
                consent_id: held,
                message_id: None,
                service: def.id.clone(),
                elapsed: started.elapsed(),
            });
        }
        let consent = self
            .0
            .ledger
            .find_usable(person_id, self.0.client.id(), purpose, &def.data_kinds, now)
            .await?
            .ok_or(FetchError::ConsentRequired { purpose })?;
        self.hold(person_id, purpose, &consent);
        self.call(def, consent.id, person_id, body, started, true)
            .await
    }

    /// Fetches `code` about person `person_id` under their consent `consent_id` (a journey
    /// that asked for a specific consent, e.g. a loan application, names it).
    ///
    /// # Errors
    ///
    /// - [`FetchError::Consent`] if the ledger refuses the use: not found or not theirs,
    ///   revoked, expired, pending, kind not covered, frequency spent; nothing is sent.
    /// - [`FetchError::Person`] if their record cannot be read (erased: the consent's artefact
    ///   no longer opens either); nothing is sent.
    /// - [`FetchError::Exchange`] for the exchange's own refusals and failures.
    /// - [`FetchError::UnknownService`].
    pub async fn fetch_under<T: DeserializeOwned>(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        code: &str,
        body: Value,
    ) -> Result<Fetched<T>, FetchError> {
        let started = Instant::now();
        let def = self.service(code)?;
        // Not known to be live yet: a cached answer is only served after the ledger says so.
        let live = self
            .0
            .ledger
            .get(consent_id, person_id, self.0.clock.now())
            .await?
            .state
            == bianmin_consent::ConsentState::Active;
        self.call(def, consent_id, person_id, body, started, live)
            .await
    }

    /// Authorises several fetches about person `person_id` at once, for a journey that asks
    /// several agencies together (a loan decision): the steps of [`fetch`](Self::fetch), with
    /// one consent lookup per purpose, the uses of all the consents recorded in one
    /// transaction ([`ConsentLedger::authorize_uses_of`]) and the subject opened once. Answers held under a
    /// consent are served from the cache as in `fetch` (no use recorded for them). Nothing is
    /// sent yet: [`send_authorized`](Self::send_authorized) sends each, and they may run
    /// concurrently.
    ///
    /// # Errors
    ///
    /// As [`fetch`](Self::fetch), before anything is sent; one refusal refuses the batch.
    pub async fn authorize_batch(
        &self,
        person_id: Uuid,
        items: Vec<BatchItem>,
    ) -> Result<AuthorizedBatch, FetchError> {
        let started = Instant::now();
        let now = self.0.clock.now();
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let def = self.service(item.code)?.clone();
            if !def.data_kinds.iter().all(|kind| item.purpose.allows(kind)) {
                return Err(FetchError::NotInPurpose {
                    purpose: item.purpose.code(),
                    service: item.code.to_owned(),
                });
            }
            let cached = self
                .held(person_id, item.purpose, &def.data_kinds, now)
                .and_then(|held| {
                    self.0
                        .client
                        .cached_as::<Value>(&def.id, &held, &item.body)
                        .map(|value| (held, value))
                });
            entries.push(BatchEntry {
                purpose: item.purpose,
                def,
                body: item.body,
                ready: match cached {
                    Some((consent_id, value)) => Ready::Cached { consent_id, value },
                    None => Ready::Pending,
                },
            });
        }
        let mut purposes: Vec<Purpose> = Vec::new();
        for entry in &entries {
            if matches!(entry.ready, Ready::Pending) && !purposes.contains(&entry.purpose) {
                purposes.push(entry.purpose);
            }
        }
        // Every consent's uses are authorised in one transaction: all or none.
        let mut consents = Vec::with_capacity(purposes.len());
        let mut pending: Vec<(Uuid, usize, Uuid, String)> = Vec::new();
        for purpose in purposes {
            let mut kinds: Vec<String> = Vec::new();
            for entry in entries.iter().filter(|e| e.purpose == purpose) {
                for kind in &entry.def.data_kinds {
                    if !kinds.contains(kind) {
                        kinds.push(kind.clone());
                    }
                }
            }
            let consent = self
                .0
                .ledger
                .find_usable(person_id, self.0.client.id(), purpose, &kinds, now)
                .await?
                .ok_or(FetchError::ConsentRequired { purpose })?;
            self.hold(person_id, purpose, &consent);
            pending.extend(
                entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.purpose == purpose && matches!(e.ready, Ready::Pending))
                    .map(|(index, e)| (consent.id, index, Uuid::now_v7(), e.def.id.to_string())),
            );
            consents.push(consent.id);
        }
        let uses: Vec<Vec<NewUse<'_>>> = consents
            .iter()
            .map(|consent_id| {
                pending
                    .iter()
                    .filter(|(consent, ..)| consent == consent_id)
                    .flat_map(|(_, index, message_id, service)| {
                        entries[*index]
                            .def
                            .data_kinds
                            .iter()
                            .map(move |kind| NewUse {
                                data_kind: kind,
                                service,
                                message_id: *message_id,
                            })
                    })
                    .collect()
            })
            .collect();
        let batches: Vec<ConsentUses<'_>> = consents
            .iter()
            .zip(&uses)
            .map(|(consent_id, uses)| ConsentUses {
                consent_id: *consent_id,
                uses,
            })
            .collect();
        let signed = if batches.is_empty() {
            Vec::new()
        } else {
            self.0
                .ledger
                .authorize_uses_of(person_id, &batches, now)
                .await?
        };
        drop(batches);
        drop(uses);
        let signed: Vec<(Uuid, Arc<SignedConsent>)> = consents
            .into_iter()
            .zip(signed.into_iter().map(Arc::new))
            .collect();
        for (consent_id, index, message_id, _) in pending {
            if let Some((_, consent)) = signed.iter().find(|(id, _)| *id == consent_id) {
                entries[index].ready = Ready::Send {
                    consent: Arc::clone(consent),
                    message_id,
                };
            }
        }
        let sends = entries
            .iter()
            .any(|e| matches!(e.ready, Ready::Send { .. }));
        let subject = if sends {
            Some(self.0.vault.subject_of(person_id).await?)
        } else {
            None
        };
        Ok(AuthorizedBatch {
            started,
            subject,
            entries,
        })
    }

    /// Sends fetch number `index` (in the order given) of `batch` and returns its answer as
    /// `T`, or its cached answer.
    ///
    /// # Errors
    ///
    /// [`FetchError::Exchange`] for the exchange's refusals and failures (a cached answer
    /// that is not a `T` is a `BadResponse`); [`FetchError::UnknownService`] for an index
    /// outside the batch.
    pub async fn send_authorized<T: DeserializeOwned>(
        &self,
        batch: &AuthorizedBatch,
        index: usize,
    ) -> Result<Fetched<T>, FetchError> {
        let entry = batch
            .entries
            .get(index)
            .ok_or_else(|| FetchError::UnknownService(format!("batch entry {index}")))?;
        match (&entry.ready, &batch.subject) {
            (Ready::Cached { consent_id, value }, _) => Ok(Fetched {
                value: serde_json::from_value(value.clone())
                    .map_err(|e| ExchangeError::BadResponse(e.to_string()))?,
                consent_id: *consent_id,
                message_id: None,
                service: entry.def.id.clone(),
                elapsed: batch.started.elapsed(),
            }),
            (
                Ready::Send {
                    consent,
                    message_id,
                },
                Some(subject),
            ) => {
                let value = self
                    .0
                    .client
                    .call_as_message::<T>(
                        *message_id,
                        &entry.def.id,
                        Some(consent.as_ref()),
                        Some(subject),
                        entry.body.clone(),
                    )
                    .await?;
                Ok(Fetched {
                    value,
                    consent_id: consent.artefact.consent_id,
                    message_id: Some(*message_id),
                    service: entry.def.id.clone(),
                    elapsed: batch.started.elapsed(),
                })
            }
            // Every entry is cached or authorised, and the subject is opened when one is sent.
            _ => Err(FetchError::UnknownService(entry.def.id.code.clone())),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        def: &ServiceDef,
        consent_id: Uuid,
        person_id: Uuid,
        body: Value,
        started: Instant,
        live: bool,
    ) -> Result<Fetched<T>, FetchError> {
        if live && let Some(value) = self.0.client.cached_as::<T>(&def.id, &consent_id, &body) {
            return Ok(Fetched {
                value,
                consent_id,
                message_id: None,
                service: def.id.clone(),
                elapsed: started.elapsed(),
            });
        }
        let message_id = Uuid::now_v7();
        let service = def.id.to_string();
        let now = self.0.clock.now();
        let mut signed = None;
        // One use per request: the ledger counts a message id once, whatever its kinds.
        for kind in &def.data_kinds {
            signed = Some(
                self.0
                    .ledger
                    .authorize_use(consent_id, person_id, kind, &service, message_id, now)
                    .await?,
            );
        }
        // The registry refuses services without data kinds; keep the guarantee explicit.
        let signed = signed.ok_or_else(|| FetchError::UnknownService(def.id.code.clone()))?;
        let subject = self.0.vault.subject_of(person_id).await?;
        let value = self
            .0
            .client
            .call_as_message::<T>(message_id, &def.id, Some(&signed), Some(&subject), body)
            .await?;
        Ok(Fetched {
            value,
            consent_id,
            message_id: Some(message_id),
            service: def.id.clone(),
            elapsed: started.elapsed(),
        })
    }

    fn held_map(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, Purpose), HeldConsent>> {
        // Only whole-entry inserts and removals happen under this lock.
        self.0.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The consent held for (person, purpose) if it is still within its validity and covers
    /// `kinds`.
    fn held(
        &self,
        person_id: Uuid,
        purpose: Purpose,
        kinds: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Uuid> {
        let map = self.held_map();
        let held = map.get(&(person_id, purpose))?;
        (now < held.valid_until && kinds.iter().all(|k| held.kinds.contains(k))).then_some(held.id)
    }

    fn hold(&self, person_id: Uuid, purpose: Purpose, consent: &Consent) {
        let mut map = self.held_map();
        if map.len() >= HELD_CAPACITY {
            map.clear();
        }
        map.insert(
            (person_id, purpose),
            HeldConsent {
                id: consent.id,
                kinds: consent.data_kinds.clone(),
                valid_until: consent.valid_until,
            },
        );
    }

    /// Drops everything held under consent `consent_id`: the client's answers and the
    /// gateway's note that it is live. Called on revocation here, and by the listener for
    /// revocations announced by other instances ([`bianmin_consent::REVOKED_CHANNEL`]).
    pub fn forget(&self, consent_id: &Uuid) {
        self.held_map().retain(|_, held| &held.id != consent_id);
        self.0.client.forget_consent(consent_id);
    }

    /// Drops every held consent note (e.g. when the revocation listener lost its connection
    /// and may have missed announcements); the client's answers are then only shown again
    /// after the database confirms their consent.
    pub fn forget_all(&self) {
        self.held_map().clear();
    }

    /// On PostgreSQL, listens for revocations committed by any instance
    /// ([`bianmin_consent::REVOKED_CHANNEL`]) and drops what this instance holds under them;
    /// when the listening connection drops (announcements may have been missed), forgets
    /// every held consent. Returns `None` on SQLite, whose one process revokes through this
    /// gateway. Abort the handle to stop.
    #[must_use]
    pub fn listen_for_revocations(
        &self,
        store: &bianmin_store::Store,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let bianmin_store::Pool::Postgres(pool) = store.pool() else {
            return None;
        };
        let pool = pool.clone();
        let gateway = self.clone();
        Some(tokio::spawn(async move {
            loop {
                let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for consent revocations; retrying");
                        gateway.forget_all();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(error) = listener.listen(bianmin_consent::REVOKED_CHANNEL).await {
                    tracing::warn!(%error, "cannot listen for consent revocations; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                // Held notes taken before listening may have missed a revocation.
                gateway.forget_all();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            if let Ok(id) = Uuid::parse_str(notification.payload()) {
                                gateway.forget(&id);
                            }
                        }
                        // The connection dropped and was re-established: some may be lost.
                        Ok(None) => gateway.forget_all(),
                        Err(error) => {
                            tracing::warn!(%error, "consent revocation listener failed; reconnecting");
                            gateway.forget_all();
                            break;
                        }
                    }
                }
            }
        }))
    }

    /// Revokes consent `consent_id` of `person_id` and drops every answer cached under it;
    /// the next fetch under it is refused and nothing is sent.
    ///
    /// # Errors
    ///
    /// As [`ConsentLedger::revoke`].
    pub async fn revoke(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        actor: &str,
    ) -> Result<Consent, ConsentError> {
        let consent = self
            .0
            .ledger
            .revoke(consent_id, person_id, actor, self.0.clock.now())
            .await?;
        self.forget(&consent_id);
        Ok(consent)
    }

    /// Ends every live consent of `person_id` (see [`ConsentLedger::revoke_all_for`]) and
    /// drops the answers cached under them; returns their ids.
    ///
    /// # Errors
    ///
    /// As [`ConsentLedger::revoke_all_for`].
    pub async fn revoke_all_for(
        &self,
        person_id: Uuid,
        actor: &str,
    ) -> Result<Vec<Uuid>, ConsentError> {
        let ended = self
            .0
            .ledger
            .revoke_all_for(person_id, actor, self.0.clock.now())
            .await?;
        for id in &ended {
            self.forget(id);
        }
        Ok(ended)
    }
}
