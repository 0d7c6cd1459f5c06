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
}

impl Store {
    pub async fn create_agent(&self, a: NewAgent) -> Result<Agent, StoreError> {
        Ok(sqlx::query_as::<_, Agent>(
            "INSERT INTO agents (id, tenant_id, name, allowed_hosts, plan_json, allowed_secrets)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, tenant_id, name, allowed_hosts, allowed_secrets, plan_json, created_at",
        )
        .bind(&a.id)
        .bind(&a.tenant_id)
        .bind(&a.name)
        .bind(&a.allowed_hosts)
        .bind(&a.plan_json)
        .bind(&a.allowed_secrets)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Agents visible to `tenant` (its own and shared ones), or all agents with `None`.
    pub async fn list_agents(&self, tenant: Option<&str>) -> Result<Vec<Agent>, StoreError> {
        Ok(sqlx::query_as::<_, Agent>(
            "SELECT id, tenant_id, name, allowed_hosts, allowed_secrets, plan_json, created_at FROM agents
             WHERE $1::text IS NULL OR tenant_id IS NULL OR tenant_id = $1
             ORDER BY created_at, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The agent `id`, whoever it belongs to (operator view: `runtime agent show`).
    pub async fn agent(&self, id: &str) -> Result<Option<Agent>, StoreError> {
        Ok(sqlx::query_as::<_, Agent>(
            "SELECT id, tenant_id, name, allowed_hosts, allowed_secrets, plan_json, created_at FROM agents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The agent `id` if `tenant` may use it. Another tenant's agent is "not found", the same
    /// answer as a missing one, so ids of other tenants cannot be probed.
    pub async fn agent_for_tenant(&self, id: &str, tenant: &str) -> Result<Agent, StoreError> {
        sqlx::query_as::<_, Agent>(
            "SELECT id, tenant_id, name, allowed_hosts, allowed_secrets, plan_json, created_at FROM agents
             WHERE id = $1 AND (tenant_id IS NULL OR tenant_id = $2)",
        )
        .bind(id)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("agent {id} (for tenant {tenant}); `runtime agent list` shows the agents"),
        })
    }
}
