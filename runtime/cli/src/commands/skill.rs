use crate::database::Database;
use crate::output::{Out, short};
use anyhow::Result;
use runproof_host::{HostConfig, SkillHost};
use serde::Serialize;

#[derive(Serialize)]
struct SkillLine {
    name: String,
    version: String,
    digest: String,
    builtin: bool,
    description: String,
    outbound_hosts: Vec<String>,
}

pub async fn list(db: &Database, out: &Out) -> Result<()> {
    let host = SkillHost::new(HostConfig::default())?;
    let mut lines = Vec::new();
    for b in runproof_builtin_skills::BUILTIN_SKILLS {
        let s = host.load(b.wasm).await?;
        lines.push(SkillLine {
            name: s.info.name.clone(),
            version: s.info.version.clone(),
            digest: s.digest.clone(),
            builtin: true,
            description: s.info.description.clone(),
            outbound_hosts: s.info.capabilities.outbound_hosts.clone(),
        });
    }
    let store = db.ready_store().await?;
    for r in store.list_skills().await? {
        if lines.iter().any(|l| l.digest == r.digest) {
            continue;
        }
        lines.push(SkillLine {
            outbound_hosts: r.capabilities["outbound_hosts"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            name: r.name,
            version: r.version,
            digest: r.digest,
            builtin: r.builtin,
            description: r.description,
        });
    }
    out.emit(&lines, || {
        for l in &lines {
            println!(
                "{:<16} {:<8} {}  {}{}",
                l.name,
                l.version,
                short(&l.digest),
                if l.builtin { "built-in  " } else { "" },
                l.description
            );
        }
    });
    Ok(())
}
