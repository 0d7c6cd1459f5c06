//! Tenant secrets as rows: names, allowed hosts, times and *ciphertext*. Encryption and the
//! key live with the caller (`runproof-runner`'s `secrets` module); this layer never sees a
//! plaintext value.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A secret's metadata, as `runtime secret list` shows it: never its value.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SecretInfo {
    pub tenant_id: String,
    pub name: String,
    pub allowed_hosts: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored secret: metadata plus the sealed value.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedSecret {
    pub name: String,
    pub allowed_hosts: Vec<String>,
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
}

impl Store {
    /// Creates or replaces `tenant`'s secret `name` (keeps `created_at` on replace).
    pub async fn put_secret(
        &self,
        tenant: &str,
        name: &str,
        ciphertext: &[u8],
        nonce: &[u8],
        allowed_hosts: &[String],
    ) -> Result<SecretInfo, StoreError> {
        Ok(sqlx::query_as::<_, SecretInfo>(
            "INSERT INTO tenant_secrets (tenant_id, name, ciphertext, nonce, allowed_hosts)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, name) DO UPDATE
               SET ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce,
                   allowed_hosts = EXCLUDED.allowed_hosts, updated_at = now()
             RETURNING tenant_id, name, allowed_hosts, created_at, updated_at",
        )
        .bind(tenant)
        .bind(name)
        .bind(ciphertext)
        .bind(nonce)
        .bind(allowed_hosts)
        .fetch_one(&self.pool)
        .await?)
    }

    /// `tenant`'s secrets, by name, without values.
    pub async fn list_secrets(&self, tenant: &str) -> Result<Vec<SecretInfo>, StoreError> {
        Ok(sqlx::query_as::<_, SecretInfo>(
            "SELECT tenant_id, name, allowed_hosts, created_at, updated_at FROM tenant_secrets
             WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes `tenant`'s secret `name`; `false` if there was none.
    pub async fn delete_secret(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tenant_secrets WHERE tenant_id = $1 AND name = $2")
            .bind(tenant)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The sealed secrets of `tenant` among `names` (missing names are simply absent).
    pub async fn sealed_secrets(
        &self,
        tenant: &str,
        names: &[String],
    ) -> Result<Vec<SealedSecret>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as::<_, SealedSecret>(
            "SELECT name, allowed_hosts, ciphertext, nonce FROM tenant_secrets
             WHERE tenant_id = $1 AND name = ANY($2) ORDER BY name",
        )
        .bind(tenant)
        .bind(names)
        .fetch_all(&self.pool)
        .await?)
    }
}
