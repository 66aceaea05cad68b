//! The citizen's current account at the bank, from which fines are paid.
//!
//! The bank's core banking system is simulated here for the demo: one account per person with a
//! balance, sealed under the person's data key (JR/T 0171 C3 — erasing the person makes it
//! unreadable). Every posting runs inside the caller's write transaction, on the locked row,
//! and bumps `version`, so two payments can never both spend the same balance.

use bianmin_core::Money;
use bianmin_crypto::FieldAad;
use bianmin_people::{PeopleError, PersonVault};
use bianmin_store::{Store, StoreError, Tx};
use chrono::{DateTime, Utc};
use uuid::Uuid;

const TABLE: &str = "bank_accounts";
const BALANCE: &str = "balance_enc";

/// An account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    /// Account id.
    pub id: Uuid,
    /// Last four digits (尾号).
    pub suffix: String,
    /// Available balance.
    pub balance: Money,
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The person has no account here.
    #[error("no bank account")]
    NoAccount,
    /// The balance does not cover the debit.
    #[error("insufficient funds")]
    InsufficientFunds {
        /// What is available.
        available: Money,
    },
    /// The sealed balance does not open, or the arithmetic overflowed: an integrity incident.
    #[error("account is corrupt: {0}")]
    Corrupt(&'static str),
    /// The person's data key is unusable (erased, or a key-service refusal).
    #[error(transparent)]
    Vault(#[from] PeopleError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Accounts over one database and vault.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    vault: PersonVault,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    account_suffix: String,
    balance_enc: Vec<u8>,
    version: i64,
}

impl Accounts {
    /// Accounts in `store`, balances sealed through `vault`.
    #[must_use]
    pub fn new(store: Store, vault: PersonVault) -> Accounts {
        Accounts { store, vault }
    }

    /// Opens an account for `person_id` with `opening` balance and the given last four digits,
    /// or returns the existing one unchanged (idempotent: a restart of the demo does not top
    /// accounts up).
    ///
    /// # Errors
    ///
    /// [`AccountError::Vault`] if the person is unknown or erased; the store's.
    pub async fn open(
        &self,
        person_id: Uuid,
        suffix: &str,
        opening: Money,
        now: DateTime<Utc>,
    ) -> Result<AccountView, AccountError> {
        if let Some(view) = self.view(person_id).await? {
            return Ok(view);
        }
        let id = Uuid::now_v7();
        let sealed = self
            .vault
            .seal_for(
                person_id,
                &FieldAad::new(TABLE, BALANCE, id.as_bytes()),
                &opening.fen().to_be_bytes(),
            )
            .await?;
        let mut tx = self.store.begin_write().await?;
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO bank_accounts (id, person_id, account_suffix, balance_enc, version, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, 0, $5, $5) \
                 ON CONFLICT (person_id) DO NOTHING",
            )
            .bind(id)
            .bind(person_id)
            .bind(suffix)
            .bind(&sealed)
            .bind(now)
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
        tx.commit().await?;
        self.view(person_id).await?.ok_or(AccountError::NoAccount)
    }

    /// The person's account, if they have one.
    ///
    /// # Errors
    ///
    /// [`AccountError::Corrupt`] if the balance does not open; the vault's and the store's.
    pub async fn view(&self, person_id: Uuid) -> Result<Option<AccountView>, AccountError> {
        let row = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, Row>(
                "SELECT id, account_suffix, balance_enc, version FROM bank_accounts \
                 WHERE person_id = $1",
            )
            .bind(person_id)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
        });
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(AccountView {
                id: row.id,
                balance: self.balance_of(person_id, &row).await?,
                suffix: row.account_suffix,
            })),
        }
    }

    async fn balance_of(&self, person_id: Uuid, row: &Row) -> Result<Money, AccountError> {
        let clear = self
            .vault
            .open_for(
                person_id,
                &FieldAad::new(TABLE, BALANCE, row.id.as_bytes()),
                &row.balance_enc,
            )
            .await
            .map_err(balance_error)?;
        decode_balance(&clear)
    }

    async fn balance_in(
        &self,
        tx: &mut Tx,
        person_id: Uuid,
        row: &Row,
    ) -> Result<Money, AccountError> {
        let clear = self
            .vault
            .open_for_in(
                tx,
                person_id,
                &FieldAad::new(TABLE, BALANCE, row.id.as_bytes()),
                &row.balance_enc,
            )
            .await
            .map_err(balance_error)?;
        decode_balance(&clear)
    }
}

fn balance_error(e: PeopleError) -> AccountError {
    match e {
        PeopleError::Corrupt { .. } => AccountError::Corrupt("balance does not open"),
        other => AccountError::Vault(other),
    }
}

fn decode_balance(clear: &[u8]) -> Result<Money, AccountError> {
    let bytes: [u8; 8] = clear
        .try_into()
        .map_err(|_| AccountError::Corrupt("balance has the wrong length"))?;
    Ok(Money::from_fen(i64::from_be_bytes(bytes)))
}

impl Accounts {
    /// Debits `amount` from `person_id`'s account inside `tx` (a write transaction), on the
    /// locked row; returns the account and the new balance. Nothing is written when the
    /// balance does not cover it.
    ///
    /// # Errors
    ///
    /// [`AccountError::NoAccount`], [`AccountError::InsufficientFunds`], and the others.
    pub async fn debit_in(
        &self,
        tx: &mut Tx,
        person_id: Uuid,
        amount: Money,
        now: DateTime<Utc>,
    ) -> Result<(AccountView, Money), AccountError> {
        let negated = amount
            .checked_neg()
            .map_err(|_| AccountError::Corrupt("balance arithmetic overflowed"))?;
        self.post_in(tx, person_id, negated, now).await
    }

    /// Credits `amount` to `person_id`'s account inside `tx` (a write transaction), on the
    /// locked row; returns the account and the new balance.
    ///
    /// # Errors
    ///
    /// [`AccountError::NoAccount`], and the others but [`AccountError::InsufficientFunds`].
    pub async fn credit_in(
        &self,
        tx: &mut Tx,
        person_id: Uuid,
        amount: Money,
        now: DateTime<Utc>,
    ) -> Result<(AccountView, Money), AccountError> {
        self.post_in(tx, person_id, amount, now).await
    }

    /// Adds `delta` (negative: a debit) to the balance on the locked row; a debit the balance
    /// does not cover writes nothing.
    async fn post_in(
        &self,
        tx: &mut Tx,
        person_id: Uuid,
        delta: Money,
        now: DateTime<Utc>,
    ) -> Result<(AccountView, Money), AccountError> {
        let row = match tx {
            Tx::Sqlite(conn) => sqlx::query_as::<_, Row>(
                "SELECT id, account_suffix, balance_enc, version FROM bank_accounts \
                 WHERE person_id = $1",
            )
            .bind(person_id)
            .fetch_optional(&mut **conn)
            .await
            .map_err(StoreError::from)?,
            Tx::Postgres(conn) => sqlx::query_as::<_, Row>(
                "SELECT id, account_suffix, balance_enc, version FROM bank_accounts \
                 WHERE person_id = $1 FOR UPDATE",
            )
            .bind(person_id)
            .fetch_optional(&mut **conn)
            .await
            .map_err(StoreError::from)?,
        }
        .ok_or(AccountError::NoAccount)?;
        let balance = self.balance_in(tx, person_id, &row).await?;
        let after = balance
            .checked_add(delta)
            .map_err(|_| AccountError::Corrupt("balance arithmetic overflowed"))?;
        if after.is_negative() {
            return Err(AccountError::InsufficientFunds { available: balance });
        }
        let sealed = self
            .vault
            .seal_for_in(
                tx,
                person_id,
                &FieldAad::new(TABLE, BALANCE, row.id.as_bytes()),
                &after.fen().to_be_bytes(),
            )
            .await?;
        let updated = bianmin_store::on_tx!(tx, conn => {
            sqlx::query(
                "UPDATE bank_accounts SET balance_enc = $1, version = version + 1, updated_at = $2 \
                 WHERE id = $3 AND version = $4",
            )
            .bind(&sealed)
            .bind(now)
            .bind(row.id)
            .bind(row.version)
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
        if updated != 1 {
            return Err(AccountError::Corrupt("account changed under its lock"));
        }
        Ok((
            AccountView {
                id: row.id,
                suffix: row.account_suffix,
                balance: after,
            },
            after,
        ))
    }
}
