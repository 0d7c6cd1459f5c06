//! [`SkillInfo`]: what `describe` returns.

use crate::bindings::runproof::skill::types as wit;

/// A skill's name, version, description and the capabilities it asks for.
///
/// Returned by [`Skill::describe`](crate::Skill::describe). The runtime grants the
/// intersection of the requested capabilities and the agent's policy; everything else is
/// denied.
///
/// ```
/// use runproof_sdk::SkillInfo;
///
/// let info = SkillInfo::new("weather", "1.0.0", "Current weather for a city")
///     .outbound_host("https://api.weather.example")
///     .secret("WEATHER_API_KEY")
///     .max_memory_bytes(32 << 20)
///     .timeout_ms(15_000);
/// assert_eq!(info.outbound_hosts, ["https://api.weather.example"]);
/// assert_eq!(info.timeout_ms, Some(15_000));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkillInfo {
    /// The skill's name, e.g. `http_call`.
    pub name: String,
    /// The skill's version, usually `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    /// What the skill does, for people.
    pub description: String,
    /// Requested outbound HTTP destinations (`scheme://host:port` patterns, `*` wildcards).
    pub outbound_hosts: Vec<String>,
    /// Requested tenant secret names.
    pub secrets: Vec<String>,
    /// Requested upper bound on linear memory, in bytes.
    pub max_memory_bytes: Option<u64>,
    /// Requested upper bound on one invocation's wall-clock time, in milliseconds.
    pub timeout_ms: Option<u64>,
}

impl SkillInfo {
    /// A skill that asks for no capabilities. `version` is usually
    /// `env!("CARGO_PKG_VERSION")`.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        SkillInfo {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            outbound_hosts: Vec::new(),
            secrets: Vec::new(),
            max_memory_bytes: None,
            timeout_ms: None,
        }
    }

    /// Asks for outbound HTTP to destinations matching `pattern`, written as
    /// `scheme://host:port` with `*` wildcards (`https://*.example.com`,
    /// `http://127.0.0.1:*`). May be called several times.
    pub fn outbound_host(mut self, pattern: impl Into<String>) -> Self {
        self.outbound_hosts.push(pattern.into());
        self
    }

    /// Asks for the tenant secret `name`, which the skill may refer to by placeholder.
    /// May be called several times.
    pub fn secret(mut self, name: impl Into<String>) -> Self {
        self.secrets.push(name.into());
        self
    }

    /// The most linear memory the skill needs, in bytes.
    pub fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = Some(bytes);
        self
    }

    /// The most wall-clock time one invocation needs, in milliseconds.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    pub(crate) fn into_wit(self) -> wit::SkillInfo {
        wit::SkillInfo {
            name: self.name,
            version: self.version,
            description: self.description,
            capabilities: wit::Capabilities {
                outbound_hosts: self.outbound_hosts,
                secrets: self.secrets,
                max_memory_bytes: self.max_memory_bytes,
                timeout_ms: self.timeout_ms,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_defaults() {
        let info = SkillInfo::new("a", "0.1.0", "d");
        assert_eq!(info.name, "a");
        assert_eq!(info.version, "0.1.0");
        assert_eq!(info.description, "d");
        assert!(info.outbound_hosts.is_empty());
        assert!(info.secrets.is_empty());
        assert_eq!(info.max_memory_bytes, None);
        assert_eq!(info.timeout_ms, None);
    }

    #[test]
    fn builder_accumulates_and_converts() {
        let wit = SkillInfo::new("a", "0.1.0", "d")
            .outbound_host("https://*.example.com")
            .outbound_host("http://127.0.0.1:*")
            .secret("TOKEN")
            .max_memory_bytes(1 << 20)
            .timeout_ms(5000)
            .into_wit();
        assert_eq!(wit.name, "a");
        assert_eq!(wit.version, "0.1.0");
        assert_eq!(wit.description, "d");
        assert_eq!(
            wit.capabilities.outbound_hosts,
            ["https://*.example.com", "http://127.0.0.1:*"]
        );
        assert_eq!(wit.capabilities.secrets, ["TOKEN"]);
        assert_eq!(wit.capabilities.max_memory_bytes, Some(1 << 20));
        assert_eq!(wit.capabilities.timeout_ms, Some(5000));
    }
}
