//! `runtime replay`: verify a run's proof, then re-run each of its skill invocations
//! against the recorded trace (`runproof-replay`): `REPLAYED` (exit 0) or `DIVERGED` at a
//! step (exit 5). An unverified trace is not replayed (exit 4): replaying it would lend it
//! a credibility it has not earned.
//!
//! Two sources: the database (`--run-id`, `--tenant-id`) or a bundle (offline: no database
//! is opened, so it works with the database stopped). Components come, by digest, from
//! `--component DIGEST=FILE`, the bundle (`proof export --with-components`), the database
//! (`skills` keeps every component ever added or run) or this binary's built-ins.

use crate::args::ReplayArgs;
use crate::database::Database;
use crate::exit::{EXIT_DIVERGED, EXIT_NOT_VERIFIED};
use crate::output::{Out, short};
use crate::signing::{KeyLocation, trusted_or_local};
use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use runproof_coordinator::RunProofCoordinator;
use runproof_host::{SkillHost, component_digest};
use runproof_proof::{Integrity, VerifyingKey};
use runproof_replay::{ReplayReport, ReplayRequest, TraceStep, Verdict, needed_components};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bundles with interpreter components (Python, JS) run to tens of MB; far beyond is not ours.
const MAX_BUNDLE_BYTES: u64 = 4 << 30;
/// As `skill add`'s cap: no component a run used can be larger.
const MAX_COMPONENT_BYTES: u64 = 32 << 20;

/// A verified (or not) trace, and the components its source holds.
struct Source {
    origin: String,
    run_id: String,
    tenant_id: String,
    trace_id: String,
    integrity: Integrity,
    steps: Vec<TraceStep>,
    components: BTreeMap<String, Vec<u8>>,
}

#[derive(Serialize)]
struct ProofLine<'a> {
    verification_status: &'static str,
    signed_by: Option<&'a str>,
    trusted_keys: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Printed<'a> {
    run_id: &'a str,
    tenant_id: &'a str,
    trace_id: &'a str,
    source: &'a str,
    proof: ProofLine<'a>,
    #[serde(flatten)]
    result: Outcome<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Outcome<'a> {
    /// Nothing was replayed: `verdict` is null and `refused` says why.
    Refused {
        verdict: Option<Verdict>,
        refused: String,
    },
    Replayed(&'a ReplayReport),
}

pub async fn run(
    args: &ReplayArgs,
    db: &Database,
    home: Option<&PathBuf>,
    local: &KeyLocation,
    out: &Out,
) -> Result<i32> {
    let (trusted, trust_note) = trusted_or_local(&args.trust.trusted_keys, local)?;
    let given = component_flags(&args.components)?;
    let substitutes = against_flags(&args.against)?;
    let mut source = match &args.bundle {
        Some(path) => from_bundle(path, &trusted)?,
        None => {
            let (Some(run_id), Some(tenant_id)) = (&args.run_id, &args.tenant_id) else {
                bail!("give a BUNDLE file, or --run-id and --tenant-id");
            };
            from_database(run_id, tenant_id, db, &trusted, &given).await?
        }
    };
    let proof = ProofLine {
        verification_status: source.integrity.verification_status.as_str(),
        signed_by: source.integrity.signed_by.as_deref(),
        trusted_keys: &trust_note,
        failure_reason: source.integrity.failure_reason.as_deref(),
    };
    if !source.integrity.is_verified() {
        let refused = format!(
            "the proof is {}: an unverified trace is not replayed",
            proof.verification_status
        );
        let printed = Printed {
            run_id: &source.run_id,
            tenant_id: &source.tenant_id,
            trace_id: &source.trace_id,
            source: &source.origin,
            proof,
            result: Outcome::Refused {
                verdict: None,
                refused,
            },
        };
        out.emit(&printed, || {
            print_header(&printed);
            outln!("replay: refused (the trace is not VERIFIED; nothing was replayed)");
        });
        return Ok(EXIT_NOT_VERIFIED);
    }

    for (digest, bytes) in given {
        source.components.insert(digest, bytes);
    }
    for digest in needed_components(&source.steps)?.keys() {
        if !source.components.contains_key(digest)
            && let Some(b) = builtin_by_digest(digest)
        {
            source.components.insert(digest.clone(), b.to_vec());
        }
    }
    let host = SkillHost::new(crate::database::host_config(home))?;
    out.progress(format!(
        "replaying run {} ({} steps) against its trace",
        source.run_id,
        source.steps.len()
    ));
    let report = runproof_replay::replay_trace(
        &host,
        &ReplayRequest {
            steps: &source.steps,
            components: &source.components,
            substitutes: &substitutes,
        },
    )
    .await?;
    let printed = Printed {
        run_id: &source.run_id,
        tenant_id: &source.tenant_id,
        trace_id: &source.trace_id,
        source: &source.origin,
        proof,
        result: Outcome::Replayed(&report),
    };
    out.emit(&printed, || {
        print_header(&printed);
        print_report(&report);
    });
    Ok(match report.verdict {
        Verdict::Replayed => 0,
        Verdict::Diverged => EXIT_DIVERGED,
    })
}

fn print_header(p: &Printed<'_>) {
    outln!("run_id: {}  tenant_id: {}", p.run_id, p.tenant_id);
    outln!("source: {}", p.source);
    outln!("verification_status: {}", p.proof.verification_status);
    if let Some(k) = p.proof.signed_by {
        outln!("signed_by: {k}");
    }
    outln!("trusted_keys: {}", p.proof.trusted_keys);
    if let Some(r) = p.proof.failure_reason {
        outln!("failure_reason: {r}");
    }
}

fn print_report(r: &ReplayReport) {
    for s in &r.substituted {
        outln!(
            "against: skill {} replayed with component {} instead of the recorded {}",
            s.skill,
            short(&s.replayed_digest),
            s.recorded_digests
                .iter()
                .map(|d| short(d))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for i in &r.invocations {
        let note = if i.stopped_as_recorded {
            " (cut off where the trace ends, by its deadline or from outside, as recorded)"
        } else {
            ""
        };
        outln!(
            "  steps {}..{}  {} {:?} attempt {} ({}): {}, {} host steps{note}",
            i.start_step,
            i.end_step,
            i.skill,
            i.step_id,
            i.attempt,
            short(&i.replayed_digest),
            i.result,
            i.host_steps
        );
    }
    match &r.divergence {
        None => outln!(
            "verdict: REPLAYED ({} invocations, {} host steps, {:.1} ms)",
            r.invocation_count,
            r.replayed_steps,
            r.replay_ms
        ),
        Some(d) => {
            outln!(
                "verdict: DIVERGED at step {} ({} {:?} attempt {})",
                d.at.step_index,
                d.skill,
                d.step_id,
                d.attempt
            );
            outln!("  expected: {}", d.at.expected.summary);
            outln!("  actual:   {}", d.at.actual.summary);
            if d.at.expected.kind == d.at.actual.kind
                && !d.at.expected.detail.is_null()
                && d.at.expected.detail != d.at.actual.detail
            {
                outln!("  expected detail: {}", d.at.expected.detail);
                outln!("  actual detail:   {}", d.at.actual.detail);
            }
        }
    }
}

async fn from_database(
    run_id: &str,
    tenant_id: &str,
    db: &Database,
    trusted: &[VerifyingKey],
    given: &BTreeMap<String, Vec<u8>>,
) -> Result<Source> {
    let store = db.ready_store().await?;
    let verified = RunProofCoordinator::new(store.clone())
        .trusting(trusted.to_vec())
        .verified_steps(tenant_id, run_id)
        .await?;
    let steps: Vec<TraceStep> = verified.steps.into_iter().map(TraceStep::from).collect();
    let mut components = BTreeMap::new();
    if verified.integrity.is_verified() {
        for digest in needed_components(&steps)?.keys() {
            if given.contains_key(digest) || builtin_by_digest(digest).is_some() {
                continue;
            }
            if let Some(bytes) = store
                .skill_by_digest(digest)
                .await?
                .and_then(|r| r.component)
            {
                components.insert(digest.clone(), bytes);
            }
        }
    }
    store.close().await;
    Ok(Source {
        origin: "database".into(),
        run_id: run_id.into(),
        tenant_id: tenant_id.into(),
        trace_id: verified.trace_id,
        integrity: verified.integrity,
        steps,
        components,
    })
}

fn from_bundle(path: &Path, trusted: &[VerifyingKey]) -> Result<Source> {
    let bytes = read_capped(path, MAX_BUNDLE_BYTES, "bundle")?;
    // The verdict over these bytes; the steps replayed are read from the same bytes.
    let verdict = runproof_proof::verify_bundle(&bytes, trusted);
    let mut source = Source {
        origin: format!("bundle {}", path.display()),
        run_id: verdict.run_id.clone().unwrap_or_default(),
        tenant_id: verdict.tenant_id.clone().unwrap_or_default(),
        trace_id: verdict.trace_id.clone().unwrap_or_default(),
        integrity: verdict.integrity,
        steps: Vec::new(),
        components: BTreeMap::new(),
    };
    if !source.integrity.is_verified() {
        return Ok(source);
    }
    let bundle = runproof_proof::parse_bundle(&bytes)
        .with_context(|| format!("reading bundle {}", path.display()))?;
    // Checked by `verify_bundle` above: each hashes to its digest, a digest the head signs.
    source.components = runproof_proof::components::bundle_components(&bytes)
        .with_context(|| format!("reading the components of bundle {}", path.display()))?;
    source.steps = bundle
        .steps
        .iter()
        .map(|s| {
            Ok(TraceStep {
                index: s.step_index,
                payload: STANDARD.decode(&s.payload).with_context(|| {
                    format!(
                        "bundle step {} has a payload that is not base64",
                        s.step_index
                    )
                })?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(source)
}

/// `--component DIGEST=FILE`: each file read and checked against its digest.
fn component_flags(flags: &[String]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for flag in flags {
        let (digest, file) = split_flag(flag, "--component", "DIGEST=FILE")?;
        let digest = digest.to_ascii_lowercase();
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("--component {flag}: {digest:?} is not a SHA-256 digest (64 hex digits)");
        }
        let bytes = read_capped(Path::new(file), MAX_COMPONENT_BYTES, "component")?;
        let actual = component_digest(&bytes);
        if actual != digest {
            bail!(
                "--component {flag}: {file} has sha256 {actual}, not {digest}: it is not that component (to replay another build, use --against SKILL={file})"
            );
        }
        out.insert(digest, bytes);
    }
    Ok(out)
}

/// `--against SKILL=FILE`.
fn against_flags(flags: &[String]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for flag in flags {
        let (skill, file) = split_flag(flag, "--against", "SKILL=FILE")?;
        let bytes = read_capped(Path::new(file), MAX_COMPONENT_BYTES, "component")?;
        if out.insert(skill.to_string(), bytes).is_some() {
            bail!("--against names skill {skill:?} twice");
        }
    }
    Ok(out)
}

fn split_flag<'a>(flag: &'a str, name: &str, shape: &str) -> Result<(&'a str, &'a str)> {
    match flag.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a, b)),
        _ => bail!("{name} {flag:?}: expected {shape}"),
    }
}

fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {what} {}", path.display()))?
        .len();
    if size > cap {
        bail!(
            "{what} {} is {size} bytes, over the {cap}-byte limit",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// The bytes of every component in `skill_digests` (skill name → digest): this binary's
/// built-ins, else the database's `skills` row. One that is neither is an error naming it.
pub async fn components_of(
    store: &runproof_store::Store,
    skill_digests: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for (skill, digest) in skill_digests {
        let bytes = match builtin_by_digest(digest) {
            Some(b) => b.to_vec(),
            None => store
                .skill_by_digest(digest)
                .await?
                .and_then(|r| r.component)
                .with_context(|| {
                    format!(
                        "component {digest} of skill {skill:?} is not stored in this database nor built into this binary"
                    )
                })?,
        };
        out.insert(digest.clone(), bytes);
    }
    Ok(out)
}

fn builtin_by_digest(digest: &str) -> Option<&'static [u8]> {
    runproof_builtin_skills::BUILTIN_SKILLS
        .iter()
        .find(|b| component_digest(b.wasm) == digest)
        .map(|b| b.wasm)
}
