//! Recording each use of a service for the cockpit: the `service.used` event with the
//! citizen's district and age band (read off their resident id, never written), the channel,
//! the outcome and the latency.

use std::time::Instant;

use bianmin_services::{Channel, ServiceUse};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Principal;
use crate::http::problem::ApiError;

/// A use being served: start it when the handler starts, finish it with the outcome.
pub struct Use {
    service: &'static str,
    department: &'static str,
    person_id: Uuid,
    channel: Channel,
    started: Instant,
}

impl Use {
    /// Starts timing a use of `service` (of `department`) by `principal`'s person.
    pub fn start(
        principal: &Principal,
        person_id: Uuid,
        service: &'static str,
        department: &'static str,
    ) -> Use {
        Use {
            service,
            department,
            person_id,
            // Dev personas sign in on the H5 pages; identity assertions come from the bank app.
            channel: if principal.persona.is_some() {
                Channel::H5
            } else {
                Channel::App
            },
            started: Instant::now(),
        }
    }

    /// The event to write inside a transaction of the use itself (outcome `ok`; the caller
    /// sets the latency when it appends).
    pub async fn event(&self, state: &AppState) -> ServiceUse {
        self.build(state, "ok".to_owned()).await
    }

    async fn build(&self, state: &AppState, outcome: String) -> ServiceUse {
        let demographics = state.demographics(self.person_id).await;
        ServiceUse {
            service: self.service,
            department: self.department,
            person_id: self.person_id,
            demographics,
            channel: self.channel,
            outcome,
            latency_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Records a read-only use with its outcome. The event is queued and written with others
    /// in one transaction within moments (group commit): a read has no transaction of its
    /// own, and one durable write per read would cost more than the read. A failure to record
    /// is logged, never turned into the citizen's error; events still queued when the process
    /// dies are lost (they are analytics, not records of money).
    pub async fn finish<T>(self, state: &AppState, result: &Result<T, ApiError>) {
        let outcome = match result {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.code().to_owned(),
        };
        let usage = self.build(state, outcome).await;
        state.record_usage(usage.event(state.clock().now())).await;
    }
}
