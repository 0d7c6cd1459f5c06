//! Public signing keys, by key id. The database only *lists* keys so that proofs sealed
//! before a rotation can still name theirs; a verifier trusts the keys its user pins, never
//! a key because it is stored here.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A `signing_keys` row.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub key_id: String,
    pub algorithm: String,
    pub public_key_pem: String,
    pub created_at: DateTime<Utc>,
    /// Traces sealed with this key (counted when read).
    pub traces_signed: i64,
}

impl Store {
    /// Records a public key (idempotent: the id is the hash of the key).
    pub async fn register_signing_key(
        &self,
        key_id: &str,
        public_key_pem: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (key_id, public_key_pem) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(key_id)
        .bind(public_key_pem)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        Ok(sqlx::query_as::<_, SigningKeyRow>(
            "SELECT k.key_id, k.algorithm, k.public_key_pem, k.created_at,
                    (SELECT count(*) FROM aos_traces t WHERE t.signing_key_id = k.key_id) AS traces_signed
             FROM signing_keys k ORDER BY k.created_at, k.key_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn signing_key(&self, key_id: &str) -> Result<Option<SigningKeyRow>, StoreError> {
        Ok(sqlx::query_as::<_, SigningKeyRow>(
            "SELECT k.key_id, k.algorithm, k.public_key_pem, k.created_at,
                    (SELECT count(*) FROM aos_traces t WHERE t.signing_key_id = k.key_id) AS traces_signed
             FROM signing_keys k WHERE k.key_id = $1",
        )
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
