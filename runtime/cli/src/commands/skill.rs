use crate::database::Database;
use crate::output::{Out, short};
use anyhow::{Context, Result, bail};
use runproof_store::SkillRecord;
use runproof_host::SkillHost;
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

pub async fn list(db: &Database, home: Option<&std::path::PathBuf>, out: &Out) -> Result<()> {
    let host = SkillHost::new(crate::database::host_config(home))?;
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

/// Largest component `skill add` accepts.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

pub async fn add(file: &std::path::Path, replace: bool, db: &Database, home: Option<&std::path::PathBuf>, out: &Out) -> Result<()> {
    let size = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?.len();
    if size > MAX_COMPONENT_BYTES {
        bail!("{} is {size} bytes; the limit for a skill component is {MAX_COMPONENT_BYTES} bytes", file.display());
    }
    let wasm = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    // Everything is checked before anything is stored.
    let host = SkillHost::new(crate::database::host_config(home))?;
    let skill = host.load(&wasm).await.with_context(|| format!("{} was not added", file.display()))?;
    let name = &skill.info.name;
    if runproof_builtin_skills::find(name).is_some() {
        bail!("{name:?} is the name of a built-in skill; give the skill another name in describe");
    }
    let store = db.ready_store().await?;
    if let Some(existing) = store.added_skill(name).await?
        && existing.digest != skill.digest
        && !replace
    {
        bail!(
            "a different component named {name:?} is already added (digest {}); rename the skill, or pass --replace to make this one current",
            short(&existing.digest)
        );
    }
    let caps = &skill.info.capabilities;
    store
        .record_skill(&SkillRecord {
            digest: skill.digest.clone(),
            name: name.clone(),
            version: skill.info.version.clone(),
            description: skill.info.description.clone(),
            capabilities: serde_json::json!({
                "outbound_hosts": caps.outbound_hosts,
                "secrets": caps.secrets,
                "max_memory_bytes": caps.max_memory_bytes,
                "timeout_ms": caps.timeout_ms,
            }),
            builtin: false,
            size_bytes: wasm.len() as i64,
            component: Some(wasm),
            created_at: None,
        })
        .await?;
    let line = SkillLine {
        name: name.clone(),
        version: skill.info.version.clone(),
        digest: skill.digest.clone(),
        builtin: false,
        description: skill.info.description.clone(),
        outbound_hosts: caps.outbound_hosts.clone(),
    };
    out.emit(&line, || println!("added skill {} {} (sha256 {})", line.name, line.version, line.digest));
    Ok(())
}
