//! What a skill is, for those who list and inspect them (the API).

use crate::runner::{RunError, Runner};
use serde::Serialize;

/// A skill as `skill list` / `skill inspect` show it.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedSkillInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub digest: String,
    pub builtin: bool,
    pub size_bytes: usize,
    pub capabilities: serde_json::Value,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Runner {
    /// The skill plans would run under `name` (a built-in first, else the newest added).
    pub async fn skill_info(&self, name: &str) -> Result<LoadedSkillInfo, RunError> {
        let (s, builtin) = self.resolve_skill(name).await?;
        Ok(LoadedSkillInfo {
            name: s.info.name.clone(),
            version: s.info.version.clone(),
            description: s.info.description.clone(),
            digest: s.digest.clone(),
            builtin,
            size_bytes: s.size_bytes,
            capabilities: serde_json::json!({
                "outbound_hosts": s.info.capabilities.outbound_hosts,
                "secrets": s.info.capabilities.secrets,
                "max_memory_bytes": s.info.capabilities.max_memory_bytes,
                "timeout_ms": s.info.capabilities.timeout_ms,
            }),
            imports: s.imports.clone(),
            exports: s.exports.clone(),
        })
    }
}
