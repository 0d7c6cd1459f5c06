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
        match self.pool.pooling {
            crate::Pooling::Direct => MIGRATOR
                .run(&self.pool.inner)
                .await
                .map_err(|e| StoreError::Migrate(crate::one_line(&e.to_string())))?,
            crate::Pooling::Transaction => self.migrate_in_transactions().await?,
        }
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

impl Store {
    /// `migrate` behind a transaction-mode pooler, where sqlx's migrator cannot run: it holds
    /// a session advisory lock and prepares named statements. Each pending migration is
    /// applied in one transaction of its own, serialized with a transaction-scoped advisory
    /// lock (released by the commit), and recorded in `_sqlx_migrations` exactly as sqlx
    /// records it, so either path sees the other's work. Only the simple query protocol is
    /// used: the values are ours (version, description, checksum), quoted below.
    async fn migrate_in_transactions(&self) -> Result<(), StoreError> {
        let fail = |e: sqlx::Error| StoreError::Migrate(crate::one_line(&e.to_string()));
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
                 version BIGINT PRIMARY KEY,
                 description TEXT NOT NULL,
                 installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
                 success BOOLEAN NOT NULL,
                 checksum BYTEA NOT NULL,
                 execution_time BIGINT NOT NULL
             )",
        )
        .execute(&self.pool)
        .await
        .map_err(fail)?;
        for m in MIGRATOR.iter() {
            if m.migration_type.is_down_migration() {
                continue;
            }
            let started = std::time::Instant::now();
            let mut tx = self.pool.begin().await.map_err(fail)?;
            // Any 64-bit key of our own; the same one for every runtime.
            sqlx::raw_sql("SELECT pg_advisory_xact_lock(7256348712001100011)")
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            let done = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "SELECT 1 FROM _sqlx_migrations WHERE version = {}",
                m.version
            )))
            .fetch_optional(&mut *tx)
            .await
            .map_err(fail)?;
            if done.is_some() {
                tx.commit().await.map_err(fail)?;
                continue;
            }
            sqlx::raw_sql(m.sql.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::Migrate(format!(
                        "migration {} ({}): {}",
                        m.version,
                        m.description,
                        crate::one_line(&e.to_string())
                    ))
                })?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES ({}, '{}', TRUE, '\\x{}', {})",
                m.version,
                m.description.replace('\'', "''"),
                hex_lower(&m.checksum),
                started.elapsed().as_nanos() as i64
            )))
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        }
        Ok(())
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
