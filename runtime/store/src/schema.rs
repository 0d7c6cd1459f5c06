//! Migrations are the SQL files in `migrations/`, embedded at build time and applied with
//! `runtime db migrate`. Every other command checks the schema first and names the fix.

use crate::{Store, StoreError};
use serde::Serialize;
use sqlx::migrate::Migrator;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// One migration and whether this database has it.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

/// Where the database stands against this runtime's migrations.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaStatus {
    pub migrations: Vec<MigrationState>,
    pub pending: usize,
    /// Versions applied in the database that this runtime does not know.
    pub unknown_applied: Vec<i64>,
}

impl Store {
    /// Applies every pending migration; returns the versions it applied.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let before = self.schema_status().await?;
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migrate(crate::one_line(&e.to_string())))?;
        Ok(before
            .migrations
            .iter()
            .filter(|m| !m.applied)
            .map(|m| m.version)
            .collect())
    }

    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&self.pool)
            .await?
        } else {
            Vec::new()
        };
        let migrations: Vec<MigrationState> = MIGRATOR
            .iter()
            .map(|m| MigrationState {
                version: m.version,
                description: m.description.to_string(),
                applied: applied.contains(&m.version),
            })
            .collect();
        let unknown_applied = applied
            .iter()
            .copied()
            .filter(|v| !MIGRATOR.iter().any(|m| m.version == *v))
            .collect();
        let pending = migrations.iter().filter(|m| !m.applied).count();
        Ok(SchemaStatus {
            migrations,
            pending,
            unknown_applied,
        })
    }

    /// Refuses to work on a schema that does not match this runtime.
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        let status = self.schema_status().await?;
        if let Some(v) = status.unknown_applied.first() {
            return Err(StoreError::SchemaAhead { version: *v });
        }
        if status.pending > 0 {
            return Err(StoreError::SchemaBehind {
                missing: status.pending,
            });
        }
        Ok(())
    }
}
