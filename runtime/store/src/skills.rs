use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A skill component known to the database, by content digest.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SkillRecord {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub capabilities: serde_json::Value,
    pub builtin: bool,
    pub size_bytes: i64,
    #[serde(skip)]
    pub component: Option<Vec<u8>>,
    pub created_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Records a component by digest. The same digest is the same bytes, so a second record
    /// of it changes nothing.
    pub async fn record_skill(&self, s: &SkillRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO skills (digest, name, version, description, capabilities, builtin, size_bytes, component)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&s.digest)
        .bind(&s.name)
        .bind(&s.version)
        .bind(&s.description)
        .bind(&s.capabilities)
        .bind(s.builtin)
        .bind(s.size_bytes)
        .bind(&s.component)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every recorded component (without bytes), newest first within a name.
    pub async fn list_skills(&self) -> Result<Vec<SkillRecord>, StoreError> {
        Ok(sqlx::query_as::<_, SkillRecord>(
            "SELECT digest, name, version, description, capabilities, builtin, size_bytes,
                    NULL::bytea AS component, created_at
             FROM skills ORDER BY name, created_at DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest added (non built-in) component named `name`, with its bytes.
    pub async fn added_skill(&self, name: &str) -> Result<Option<SkillRecord>, StoreError> {
        Ok(sqlx::query_as::<_, SkillRecord>(
            "SELECT digest, name, version, description, capabilities, builtin, size_bytes, component, created_at
             FROM skills WHERE name = $1 AND NOT builtin AND component IS NOT NULL
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }
}

impl Store {
    /// The component with this digest (full, lower-case hex), with its bytes if it was added.
    pub async fn skill_by_digest(&self, digest: &str) -> Result<Option<SkillRecord>, StoreError> {
        Ok(sqlx::query_as::<_, SkillRecord>(
            "SELECT digest, name, version, description, capabilities, builtin, size_bytes, component, created_at
             FROM skills WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?)
    }
}

impl Store {
    /// Stores the bytes of a component recorded without them (a built-in: its bytes live in
    /// the binary, and a newer binary no longer has an older one's), so every run stays
    /// replayable by digest. Does nothing if the bytes are already stored; the database
    /// refuses bytes that do not hash to `digest` (migration 0017).
    pub async fn keep_component(&self, digest: &str, component: &[u8]) -> Result<(), StoreError> {
        sqlx::query("UPDATE skills SET component = $2 WHERE digest = $1 AND component IS NULL")
            .bind(digest)
            .bind(component)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
