//! Identity: who is calling, in which role, and the checks every endpoint makes.
//!
//! Citizens and enterprises arrive authenticated by the bank app, which signs an identity
//! assertion with SM2 ([`assertion`]); the demo adds a development identity provider with fixed
//! personas ([`personas`]); citizens can also sign in with a code sent by SMS ([`otp`]), behind
//! the login guard. Either way the server opens a session: a row in `sessions` and a token
//! `v1.<session id>.<HMAC-SM3 tag>` in an HttpOnly cookie (or `Authorization: Bearer`). The tag
//! lets forged tokens be refused without touching the database; the row makes logout and
//! role changes take effect at once.

pub mod assertion;
pub mod otp;
pub mod personas;
pub mod routes;
mod session;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) use session::session_id_in;
pub use session::{SESSION_COOKIE, SessionKey};

use crate::http::problem::ApiError;

/// What a principal is allowed to be. Each endpoint names the roles it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A resident using the H5 pages in the bank app.
    Citizen,
    /// An enterprise user (a distributor's owner).
    Enterprise,
    /// Staff of an institution (hospital, pharmacy, employer) using the B-end services.
    Institution,
    /// A government officer, scoped to one department.
    GovernmentOfficer,
    /// A bank operator (review queues, knowledge base, monitoring).
    BankOperator,
    /// An auditor (read-only access to audit trails).
    Auditor,
    /// A platform administrator.
    Admin,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 7] = [
        Role::Citizen,
        Role::Enterprise,
        Role::Institution,
        Role::GovernmentOfficer,
        Role::BankOperator,
        Role::Auditor,
        Role::Admin,
    ];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Enterprise => "enterprise",
            Role::Institution => "institution",
            Role::GovernmentOfficer => "government_officer",
            Role::BankOperator => "bank_operator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored role name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Chinese label shown in the UI.
    pub fn label(self) -> &'static str {
        match self {
            Role::Citizen => "市民",
            Role::Enterprise => "企业用户",
            Role::Institution => "机构用户",
            Role::GovernmentOfficer => "政府部门人员",
            Role::BankOperator => "银行运营人员",
            Role::Auditor => "审计人员",
            Role::Admin => "系统管理员",
        }
    }

    /// The front-end this role lands on after signing in.
    pub fn home(self) -> &'static str {
        match self {
            Role::Citizen | Role::Enterprise => "/citizen/",
            Role::Institution => "/institution/",
            Role::GovernmentOfficer => "/cockpit/",
            Role::BankOperator | Role::Auditor | Role::Admin => "/console/",
        }
    }
}

/// A government department that officers belong to and services are reported under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Department {
    /// Short code, e.g. `hpf`.
    pub code: &'static str,
    /// Official Chinese name.
    pub name: &'static str,
}

/// The departments of the demo city.
pub const DEPARTMENTS: [Department; 5] = [
    Department {
        code: "hpf",
        name: "成都住房公积金管理中心",
    },
    Department {
        code: "hrss",
        name: "成都市人力资源和社会保障局",
    },
    Department {
        code: "traffic",
        name: "成都市公安局交通管理局",
    },
    Department {
        code: "tax",
        name: "国家税务总局成都市税务局",
    },
    Department {
        code: "data",
        name: "成都市政务服务管理和网络理政办公室",
    },
];

/// Looks up a department by code.
pub fn department(code: &str) -> Option<Department> {
    DEPARTMENTS
        .into_iter()
        .chain(INSTITUTIONS)
        .find(|d| d.code == code)
}

/// The institutions of the demo (B-end): their staff sign in with role
/// [`Role::Institution`] and the institution as their "department". Fictional names.
pub const INSTITUTIONS: [Department; 4] = [
    Department {
        code: "inst-hospital",
        name: "成都市第一人民医院（示例）",
    },
    Department {
        code: "inst-pharmacy",
        name: "成都市民大药房（示例）",
    },
    Department {
        code: "inst-employer",
        name: "用人单位（示例）",
    },
    Department {
        code: "inst-agroup",
        name: "A集团（核心企业）",
    },
];

/// What kind of institution a principal works for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstitutionKind {
    /// A hospital: verifies social-security QR codes.
    Hospital,
    /// A pharmacy: verifies social-security QR codes.
    Pharmacy,
    /// An employer: sees its own employees' contribution status.
    Employer,
    /// A core enterprise of supply-chain finance: grants its data-sharing agreement and sees
    /// its distributors' use of their lines (never their owners' personal data).
    CoreEnterprise,
}

/// The kind of the institution with this code.
pub fn institution_kind(code: &str) -> Option<InstitutionKind> {
    match code {
        "inst-hospital" => Some(InstitutionKind::Hospital),
        "inst-pharmacy" => Some(InstitutionKind::Pharmacy),
        "inst-employer" => Some(InstitutionKind::Employer),
        "inst-agroup" => Some(InstitutionKind::CoreEnterprise),
        _ => None,
    }
}

/// The authenticated caller of a request, loaded from its session.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Principal id.
    pub id: Uuid,
    /// Session id the request came with.
    pub session_id: Uuid,
    /// Demo persona id, if signed in through the development identity provider.
    pub persona: Option<String>,
    /// Role.
    pub role: Role,
    /// Masked display name.
    pub display_name: String,
    /// Department (government officers) or institution (institution staff).
    pub department: Option<Department>,
    /// The person record (citizens and enterprise owners), whose personal data is encrypted.
    pub person_id: Option<Uuid>,
}

impl Principal {
    /// Who this is in the audit log.
    pub fn audit_actor(&self) -> String {
        format!("principal:{}", self.id)
    }

    /// Refuses with 403 unless the principal holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "当前身份（{}）无权执行此操作。",
                self.role.label()
            )))
        }
    }
}

/// The public view of a principal (`GET /api/v1/me`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrincipalView {
    /// Principal id.
    pub id: Uuid,
    /// Demo persona id, if any.
    pub persona: Option<String>,
    /// Role.
    pub role: Role,
    /// Chinese role label.
    pub role_label: &'static str,
    /// Masked display name (JR/T 0171).
    pub display_name: String,
    /// Department, for government officers.
    pub department: Option<Department>,
    /// The front-end this principal lands on.
    pub home: &'static str,
}

impl From<&Principal> for PrincipalView {
    fn from(p: &Principal) -> Self {
        PrincipalView {
            id: p.id,
            persona: p.persona.clone(),
            role: p.role,
            role_label: p.role.label(),
            display_name: p.display_name.clone(),
            department: p.department,
            home: p.role.home(),
        }
    }
}
