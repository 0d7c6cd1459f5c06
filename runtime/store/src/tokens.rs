//! API bearer tokens: which tenant a request acts for. A token is 32 random bytes, shown
//! once at creation; the database keeps only its SHA-256 (migration 0013), so a copy of the
//! database cannot be used to call the API.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Every token starts with this, so a leaked one is recognizable (secret scanners).
pub const TOKEN_PREFIX: &str = "rpt_";

/// A token as listed: never the token itself.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub token_id: String,
    pub tenant_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token just created: the only time `token` is known.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    #[serde(flatten)]
    pub info: ApiToken,
    pub token: String,
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl Store {
    /// Creates a token for `tenant`.
    pub async fn create_token(&self, tenant: &str, name: &str) -> Result<NewToken, StoreError> {
        if tenant.trim().is_empty() {
            return Err(StoreError::Rejected("a token needs a tenant id".into()));
        }
        let secret: [u8; 32] = rand::random();
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let id = uuid::Uuid::new_v4().to_string();
        let info = sqlx::query_as::<_, ApiToken>(
            "INSERT INTO api_tokens (id, tenant_id, name, token_sha256) VALUES ($1, $2, $3, $4)
             RETURNING id AS token_id, tenant_id, name, created_at, last_used_at, revoked_at",
        )
        .bind(&id)
        .bind(tenant)
        .bind(name)
        .bind(digest(&token))
        .fetch_one(&self.pool)
        .await?;
        Ok(NewToken { info, token })
    }

    /// The tenant a presented token acts for; `None` for an unknown or revoked token.
    pub async fn token_tenant(&self, token: &str) -> Result<Option<String>, StoreError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        // last_used_at is coarse on purpose (a minute): one write per token per minute, not
        // one per request.
        Ok(sqlx::query_scalar(
            "UPDATE api_tokens SET last_used_at = CASE
                 WHEN last_used_at IS NULL OR last_used_at < now() - interval '1 minute' THEN now()
                 ELSE last_used_at END
             WHERE token_sha256 = $1 AND revoked_at IS NULL
             RETURNING tenant_id",
        )
        .bind(digest(token))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A tenant's tokens (or every tenant's), revoked ones included.
    pub async fn list_tokens(&self, tenant: Option<&str>) -> Result<Vec<ApiToken>, StoreError> {
        Ok(sqlx::query_as::<_, ApiToken>(
            "SELECT id AS token_id, tenant_id, name, created_at, last_used_at, revoked_at
             FROM api_tokens WHERE $1::text IS NULL OR tenant_id = $1
             ORDER BY created_at, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes a token for good. `None`: no such token.
    pub async fn revoke_token(&self, token_id: &str) -> Result<Option<ApiToken>, StoreError> {
        Ok(sqlx::query_as::<_, ApiToken>(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
             RETURNING id AS token_id, tenant_id, name, created_at, last_used_at, revoked_at",
        )
        .bind(token_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
