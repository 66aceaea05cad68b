//! The development identity provider: fixed, fictional demo personas, one per role (two
//! citizens, so that tests can show one citizen never sees another's data).
//!
//! Enabled only when `auth.dev_login` is on (`bianmin demo` turns it on; `bianmin serve` does
//! not), because anyone can sign in as any persona.

use bianmin_store::{Store, on_pool};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Department, Role, department};

/// A demo identity.
#[derive(Debug, Clone, Copy)]
pub struct Persona {
    /// Stable id used to sign in, e.g. `citizen-zhang`.
    pub id: &'static str,
    /// Role.
    pub role: Role,
    /// Fictional full name (shown on the demo login page only; stored masked).
    pub name: &'static str,
    /// Department code for government officers.
    pub department: Option<&'static str>,
    /// One line on what this persona is for.
    pub description: &'static str,
}

/// Every demo persona.
pub const PERSONAS: [Persona; 10] = [
    Persona {
        id: "citizen-zhang",
        role: Role::Citizen,
        name: "张伟",
        department: None,
        description: "锦江区市民，在职缴存公积金与社保，有一辆小型汽车",
    },
    Persona {
        id: "citizen-li",
        role: Role::Citizen,
        name: "李娜",
        department: None,
        description: "武侯区市民，灵活就业",
    },
    Persona {
        id: "enterprise-chen",
        role: Role::Enterprise,
        name: "陈刚",
        department: None,
        description: "A集团下游经销商（小微企业主）",
    },
    Persona {
        id: "officer-hpf",
        role: Role::GovernmentOfficer,
        name: "王芳",
        department: Some("hpf"),
        description: "公积金中心业务处",
    },
    Persona {
        id: "officer-hrss",
        role: Role::GovernmentOfficer,
        name: "赵磊",
        department: Some("hrss"),
        description: "人社局社保业务处",
    },
    Persona {
        id: "officer-traffic",
        role: Role::GovernmentOfficer,
        name: "周敏",
        department: Some("traffic"),
        description: "交管局违法处理科",
    },
    Persona {
        id: "officer-data",
        role: Role::GovernmentOfficer,
        name: "吴强",
        department: Some("data"),
        description: "网络理政办，查看全市汇总",
    },
    Persona {
        id: "operator-liu",
        role: Role::BankOperator,
        name: "刘洋",
        department: None,
        description: "银行网点运营，处理人工复核与知识库",
    },
    Persona {
        id: "auditor-sun",
        role: Role::Auditor,
        name: "孙丽",
        department: None,
        description: "内审，查阅审计日志",
    },
    Persona {
        id: "admin-zhou",
        role: Role::Admin,
        name: "周涛",
        department: None,
        description: "系统管理员",
    },
];

/// Finds a persona by id.
pub fn persona(id: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.id == id)
}

/// A persona as the login page lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonaView {
    /// Persona id to sign in with.
    pub id: &'static str,
    /// Role.
    pub role: Role,
    /// Chinese role label.
    pub role_label: &'static str,
    /// Fictional name.
    pub display_name: &'static str,
    /// Department, for officers.
    pub department: Option<Department>,
    /// What the persona is for.
    pub description: &'static str,
}

impl From<&Persona> for PersonaView {
    fn from(p: &Persona) -> Self {
        PersonaView {
            id: p.id,
            role: p.role,
            role_label: p.role.label(),
            display_name: p.name,
            department: p.department.and_then(department),
            description: p.description,
        }
    }
}

/// Creates or refreshes the principal behind `persona` and returns its id.
pub async fn ensure(store: &Store, persona: &Persona, now: DateTime<Utc>) -> sqlx::Result<Uuid> {
    let masked = bianmin_core::mask::mask_name(persona.name);
    let id = on_pool!(store, pool => {
        sqlx::query_scalar(
            "INSERT INTO principals (id, persona, role, display_name, department, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (persona) DO UPDATE SET role = excluded.role, \
                 display_name = excluded.display_name, department = excluded.department, \
                 updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(Uuid::now_v7())
        .bind(persona.id)
        .bind(persona.role.as_str())
        .bind(&masked)
        .bind(persona.department)
        .bind(now)
        .fetch_one(pool)
        .await?
    });
    Ok(id)
}

/// Creates every persona's principal (the demo does this at start-up).
pub async fn seed_all(store: &Store, now: DateTime<Utc>) -> sqlx::Result<()> {
    for p in &PERSONAS {
        ensure(store, p, now).await?;
    }
    Ok(())
}
