use crate::database::Database;
use crate::output::{Out, short};
use anyhow::{Context, Result, bail};
use runproof_host::SkillHost;
use runproof_store::SkillRecord;
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct SkillLine {
    pub name: String,
    pub version: String,
    pub digest: String,
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
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
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
            outln!(
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

/// Largest component `skill add` accepts: 32 MiB. Real skills are well under 1 MiB (the
/// built-in http_call is ~100 KiB); the cap bounds compile time and the bytes kept in the
/// database per version.
const MAX_COMPONENT_BYTES: u64 = 32 << 20;

pub async fn add(
    file: &std::path::Path,
    replace: bool,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    out: &Out,
) -> Result<()> {
    let line = add_component(file, replace, db, home, out).await?;
    out.emit(&line, || {
        outln!(
            "added skill {} {} (sha256 {})",
            line.name,
            line.version,
            line.digest
        )
    });
    Ok(())
}

/// `skill add` without printing: validates `file` and stores it; returns what was added.
pub(crate) async fn add_component(
    file: &std::path::Path,
    replace: bool,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    out: &Out,
) -> Result<SkillLine> {
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", file.display());
    }
    let size = meta.len();
    // Checked before reading, so an oversized file is never loaded into memory.
    if size > MAX_COMPONENT_BYTES {
        bail!(
            "{} is {size} bytes, over the {} limit for a skill component; nothing was added",
            file.display(),
            runproof_host::limits::Bytes(MAX_COMPONENT_BYTES)
        );
    }
    let wasm = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    // Everything is checked before anything is stored.
    let host = SkillHost::new(crate::compile_progress::host_config(home, out))?;
    let skill = host
        .load(&wasm)
        .await
        .with_context(|| format!("{} was not added", file.display()))?;
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
    Ok(SkillLine {
        name: name.clone(),
        version: skill.info.version.clone(),
        digest: skill.digest.clone(),
        builtin: false,
        description: skill.info.description.clone(),
        outbound_hosts: caps.outbound_hosts.clone(),
    })
}

/// The component bytes behind `skill`: a built-in or added name, or a digest.
pub(crate) async fn find_component(skill: &str, db: &Database) -> Result<(Vec<u8>, bool)> {
    if let Some(b) = runproof_builtin_skills::find(skill) {
        return Ok((b.wasm.to_vec(), true));
    }
    let digest = skill.to_ascii_lowercase();
    let is_digest = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    if is_digest
        && let Some(b) = runproof_builtin_skills::BUILTIN_SKILLS
            .iter()
            .find(|b| runproof_host::component_digest(b.wasm) == digest)
    {
        return Ok((b.wasm.to_vec(), true));
    }
    let store = db.ready_store().await?;
    if let Some(r) = store.added_skill(skill).await?
        && let Some(bytes) = r.component
    {
        return Ok((bytes, false));
    }
    if is_digest
        && let Some(r) = store.skill_by_digest(&digest).await?
        && let Some(bytes) = r.component
    {
        return Ok((bytes, false));
    }
    bail!(
        "no skill named {skill:?} and no component with that digest; `runtime skill list` shows the skills"
    )
}

pub async fn inspect(
    skill: &str,
    agent_id: Option<&str>,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    out: &Out,
) -> Result<()> {
    let (wasm, builtin) = find_component(skill, db).await?;
    let host = SkillHost::new(crate::database::host_config(home))?;
    let s = host.load(&wasm).await?;
    let caps = &s.info.capabilities;
    let mut report = serde_json::json!({
        "name": s.info.name,
        "version": s.info.version,
        "description": s.info.description,
        "digest": s.digest,
        "size_bytes": s.size_bytes,
        "builtin": builtin,
        "requested": {
            "outbound_hosts": caps.outbound_hosts,
            "secrets": caps.secrets,
            "max_memory_bytes": caps.max_memory_bytes,
            "timeout_ms": caps.timeout_ms,
        },
        "imports": s.imports,
        "exports": s.exports,
    });
    let agent = match agent_id {
        Some(id) => {
            let store = db.ready_store().await?;
            let Some(a) = store.agent(id).await? else {
                bail!("agent {id} not found; `runtime agent list` shows the agents");
            };
            let limits =
                runproof_host::InvocationLimits::effective(caps, &runproof_runner::limit_grant(&a));
            report["effective"] = serde_json::json!({
                "agent_id": a.id,
                // A destination is reachable only if it matches both lists.
                "outbound_hosts": {"agent_grants": a.allowed_hosts, "skill_requests": caps.outbound_hosts},
                "limits": limits,
                "ceilings": runproof_host::InvocationLimits::ceilings_json(),
            });
            Some((a, limits))
        }
        None => None,
    };
    out.emit(&report, || {
        use runproof_host::limits::Bytes;
        outln!(
            "skill:       {} {}{}",
            s.info.name,
            s.info.version,
            if builtin { " (built-in)" } else { "" }
        );
        outln!("description: {}", s.info.description);
        outln!("digest:      sha256:{}", s.digest);
        outln!("size:        {} bytes", s.size_bytes);
        outln!(
            "requests:    outbound hosts [{}], secrets [{}], memory {}, timeout {}",
            caps.outbound_hosts.join(", "),
            caps.secrets.join(", "),
            caps.max_memory_bytes
                .map_or("-".to_string(), |m| Bytes(m).to_string()),
            caps.timeout_ms
                .map_or("-".to_string(), |t| format!("{t} ms"))
        );
        outln!("imports:     {}", s.imports.join(", "));
        outln!("exports:     {}", s.exports.join(", "));
        if let Some((a, l)) = &agent {
            outln!("with agent {}:", a.id);
            outln!(
                "  outbound:   a destination must match the agent's [{}] and the skill's [{}]",
                a.allowed_hosts.join(", "),
                caps.outbound_hosts.join(", ")
            );
            outln!("  memory:     {}", Bytes(l.max_memory_bytes as u64));
            outln!("  timeout:    {} ms", l.timeout.as_millis());
            outln!(
                "  fuel:       {}",
                l.fuel
                    .map_or("not metered".to_string(), |f| format!("{f} units"))
            );
            outln!("  host calls: {}", l.max_host_calls);
            outln!("  output cap: {}", Bytes(l.max_output_bytes as u64));
            if l.scratch_dir {
                outln!(
                    "  scratch:    {} written, {} files, {} open at once",
                    Bytes(l.scratch_max_bytes),
                    l.scratch_max_files,
                    l.scratch_max_open_files
                );
            }
            outln!(
                "  filesystem: {}",
                if l.scratch_dir {
                    "per-run scratch directory at /scratch (quotas below)"
                } else {
                    "none"
                }
            );
        }
    });
    Ok(())
}
