use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An agent: a name, who may use it, what it may reach, and optionally its own plan.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Agent {
    #[serde(rename = "agent_id")]
    pub id: String,
    pub tenant_id: Option<String>,
    pub name: String,
    pub allowed_hosts: Vec<String>,
    /// Tenant secret names the agent's skills may use by placeholder (migration 0004).
    pub allowed_secrets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_json: Option<String>,
    /// Resource grants; `None`: the runtime default (fuel: metering off).
    pub max_memory_bytes: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub fuel: Option<i64>,
    pub max_host_calls: Option<i64>,
    pub scratch_dir: bool,
    /// Scratch quotas (migration 0010); `None`: the runtime default.
    pub scratch_max_bytes: Option<i64>,
    pub scratch_max_files: Option<i64>,
    pub scratch_max_open_files: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub id: String,
    pub tenant_id: Option<String>,
    pub name: String,
    pub allowed_hosts: Vec<String>,
    pub allowed_secrets: Vec<String>,
    pub plan_json: Option<String>,
    pub max_memory_bytes: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub fuel: Option<i64>,
    pub max_host_calls: Option<i64>,
    pub scratch_dir: bool,
    pub scratch_max_bytes: Option<i64>,
    pub scratch_max_files: Option<i64>,
    pub scratch_max_open_files: Option<i64>,
}

/// The columns every agent query reads.
const AGENT_COLUMNS: &str = "id, tenant_id, name, allowed_hosts, allowed_secrets, plan_json, max_memory_bytes, timeout_ms, fuel, max_host_calls, scratch_dir, scratch_max_bytes, scratch_max_files, scratch_max_open_files, created_at";

impl Store {
    pub async fn create_agent(&self, a: NewAgent) -> Result<Agent, StoreError> {
        Ok(sqlx::query_as::<_, Agent>(sqlx::AssertSqlSafe(format!(
            "INSERT INTO agents (id, tenant_id, name, allowed_hosts, plan_json, max_memory_bytes, timeout_ms, fuel, max_host_calls, scratch_dir, allowed_secrets, scratch_max_bytes, scratch_max_files, scratch_max_open_files)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             RETURNING {AGENT_COLUMNS}"
        )))
        .bind(&a.id)
        .bind(&a.tenant_id)
        .bind(&a.name)
        .bind(&a.allowed_hosts)
        .bind(&a.plan_json)
        .bind(a.max_memory_bytes)
        .bind(a.timeout_ms)
        .bind(a.fuel)
        .bind(a.max_host_calls)
        .bind(a.scratch_dir)
        .bind(&a.allowed_secrets)
        .bind(a.scratch_max_bytes)
        .bind(a.scratch_max_files)
        .bind(a.scratch_max_open_files)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Agents visible to `tenant` (its own and shared ones), or all agents with `None`.
    pub async fn list_agents(&self, tenant: Option<&str>) -> Result<Vec<Agent>, StoreError> {
        Ok(sqlx::query_as::<_, Agent>(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents
             WHERE $1::text IS NULL OR tenant_id IS NULL OR tenant_id = $1
             ORDER BY created_at, id"
        )))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The agent `id`, whoever it belongs to (operator view: `runtime agent show`).
    pub async fn agent(&self, id: &str) -> Result<Option<Agent>, StoreError> {
        Ok(sqlx::query_as::<_, Agent>(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The agent `id` if `tenant` may use it. Another tenant's agent is "not found", the same
    /// answer as a missing one, so ids of other tenants cannot be probed.
    pub async fn agent_for_tenant(&self, id: &str, tenant: &str) -> Result<Agent, StoreError> {
        sqlx::query_as::<_, Agent>(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents
             WHERE id = $1 AND (tenant_id IS NULL OR tenant_id = $2)"
        )))
        .bind(id)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!(
                "agent {id} (for tenant {tenant}); `runtime agent list` shows the agents"
            ),
        })
    }
}
