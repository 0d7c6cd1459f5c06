//! `hostile`: a test-fixture skill whose actions try to escape the sandbox or exhaust a
//! limit. The end-to-end suite (`tests/e2e_hostile.rs`) runs one action per run and checks
//! that the runtime survives, fails the run with a reason naming the cause, and records it.
//!
//! Input: `{"action": "<name>", "arg": "<optional argument>"}`.
//!
//! | action | tries to |
//! | --- | --- |
//! | `read_file` (arg: path) | read a host file with `std::fs` |
//! | `scratch` (arg: dir) | write, read back and list a file in a granted scratch dir |
//! | `socket` (arg: `ip:port`) | open a TCP connection with `std::net` |
//! | `loop` | spin forever without a host call |
//! | `alloc` | allocate (and touch) 1 MiB blocks without bound |
//! | `recurse` | recurse without bound |
//! | `output` (arg: bytes) | return a JSON string of that many bytes |
//! | `host_calls` (arg: n) | make `n` `log` host calls |
//! | `clock_loop` | read the monotonic clock forever (each read is a host call) |
//! | `stdout_flood` | print to stdout without end |
//! | `env` | read its environment, arguments and current directory (returns them) |
//! | `trap` | execute `unreachable` |
//! | `exit` (arg: code) | call `exit(code)` |
//! | `log` (arg: message) | one `log` call; returns `{"log": message}` (benign) |
//! | `sleep` (arg: seconds) | park in a WASI sleep (a `poll` on a monotonic-clock timer) |
//! | `big_requests` (arg: `<bytes>x<count>@<url>`) | POST a body of `bytes` to `url`, `count` times (one allocation) |
//! | `big_url` (arg: bytes) | GET a URL `bytes` long |
//! | `big_error` (arg: bytes) | return a skill error whose message is `bytes` long |
//! | `scratch_fill` (arg: MiB) | write 1 MiB files under /scratch, at most `MiB` of them |
//! | `scratch_files` (arg: n) | create at most `n` empty files under /scratch |
//! | `scratch_fds` (arg: n) | open and keep open at most `n` files under /scratch |
//!
//! The `scratch_*` and `big_*` actions return normally if the sandbox lets them finish (a
//! test that expects a quota or a cap then fails loudly); their loops are bounded so a
//! missing quota cannot fill the host's disk.
//!
//! An attempt the sandbox denies ends with the skill error `denied: <what the guest saw>`;
//! one that succeeds returns what it got, so a test that expects a denial fails loudly.

use runproof_sdk::bindings::runproof::skill::http::{Request, send};
use runproof_sdk::bindings::runproof::skill::log::{Level, log};
use runproof_sdk::bindings::runproof::skill::types::Capabilities;
use runproof_sdk::bindings::{Guest, SkillError, SkillInfo};
use serde_json::{Value, json};
use std::hint::black_box;

struct Hostile;

fn err(code: &str, message: impl Into<String>) -> SkillError {
    SkillError {
        code: code.into(),
        message: message.into(),
    }
}

impl Guest for Hostile {
    fn describe() -> SkillInfo {
        SkillInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test fixture: tries to escape the sandbox or exhaust a limit.".into(),
            capabilities: Capabilities {
                outbound_hosts: vec![],
                secrets: vec![],
                max_memory_bytes: None,
                timeout_ms: None,
            },
        }
    }

    fn invoke(input: String) -> Result<String, SkillError> {
        let input: Value =
            serde_json::from_str(&input).map_err(|e| err("invalid-input", e.to_string()))?;
        let action = input["action"].as_str().unwrap_or_default();
        let arg = input["arg"].as_str().unwrap_or_default();
        let value = match action {
            "read_file" => match std::fs::read_to_string(arg) {
                Ok(text) => json!({"read": arg, "content": text}),
                Err(e) => return Err(err("denied", format!("cannot read {arg}: {e}"))),
            },
            "scratch" => scratch(arg)?,
            "socket" => match std::net::TcpStream::connect(arg) {
                Ok(_) => json!({"connected": arg}),
                Err(e) => return Err(err("denied", format!("cannot connect to {arg}: {e}"))),
            },
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut blocks: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Touch every block so nothing can be optimized away.
                    blocks.push(black_box(vec![0xA5; 1 << 20]));
                }
            }
            "recurse" => json!({"depth": recurse(black_box(0))}),
            "output" => {
                let n: usize = arg
                    .parse()
                    .map_err(|_| err("invalid-input", "output needs a byte count"))?;
                // One allocation of exactly the answer: a JSON string of `n` bytes in total.
                let mut s = String::with_capacity(n);
                s.push('"');
                s.extend(std::iter::repeat_n('x', n.saturating_sub(2)));
                s.push('"');
                return Ok(s);
            }
            "host_calls" => {
                let n: u64 = arg
                    .parse()
                    .map_err(|_| err("invalid-input", "host_calls needs a count"))?;
                for i in 0..n {
                    log(Level::Debug, &format!("call {i}"));
                }
                json!({"host_calls": n})
            }
            "clock_loop" => {
                let mut last = std::time::Instant::now();
                loop {
                    last = black_box(std::time::Instant::now().max(last));
                }
            }
            "env" => json!({
                "vars": std::env::vars().collect::<Vec<_>>(),
                "args": std::env::args().collect::<Vec<_>>(),
                "cwd": std::env::current_dir().ok().map(|d| d.display().to_string()),
            }),
            "stdout_flood" => loop {
                println!("{}", black_box("flood ").repeat(1024));
            },
            "trap" => core::arch::wasm32::unreachable(),
            "exit" => std::process::exit(arg.parse().unwrap_or(1)),
            "log" => {
                log(Level::Info, arg);
                json!({"log": arg})
            }
            "sleep" => {
                let secs: u64 = arg.parse().unwrap_or(3600);
                std::thread::sleep(std::time::Duration::from_secs(secs));
                json!({"slept": secs})
            }
            "big_requests" => big_requests(arg)?,
            "big_url" => {
                let n: usize = arg
                    .parse()
                    .map_err(|_| err("invalid-input", "big_url needs a byte count"))?;
                let mut url = String::from("http://127.0.0.1:9/");
                url.extend(std::iter::repeat_n('a', n.saturating_sub(url.len())));
                match send(&request("GET", url, None)) {
                    Ok(r) => json!({"status": r.status}),
                    Err(e) => return Err(err("refused", format!("{e:?}"))),
                }
            }
            "big_error" => {
                let n: usize = arg
                    .parse()
                    .map_err(|_| err("invalid-input", "big_error needs a byte count"))?;
                return Err(err("big", "E".repeat(n)));
            }
            "scratch_fill" => {
                let mib: usize = arg.parse().unwrap_or(64);
                let chunk = vec![0x5Au8; 1 << 20];
                for i in 0..mib {
                    std::fs::write(format!("/scratch/fill-{i}"), &chunk)
                        .map_err(|e| err("denied", format!("write {i}: {e}")))?;
                }
                json!({"wrote_mib": mib})
            }
            "scratch_files" => {
                let n: usize = arg.parse().unwrap_or(1000);
                for i in 0..n {
                    std::fs::File::create(format!("/scratch/f-{i}"))
                        .map_err(|e| err("denied", format!("create {i}: {e}")))?;
                }
                json!({"created": n})
            }
            "scratch_fds" => {
                let n: usize = arg.parse().unwrap_or(1000);
                let mut open = Vec::new();
                for i in 0..n {
                    let f = std::fs::File::create(format!("/scratch/fd-{}", i % 4))
                        .map_err(|e| err("denied", format!("open {i}: {e}")))?;
                    open.push(f);
                }
                json!({"open": open.len()})
            }
            _ => return Err(err("invalid-input", format!("unknown action {action:?}"))),
        };
        Ok(value.to_string())
    }
}

fn request(method: &str, url: String, body: Option<Vec<u8>>) -> Request {
    Request {
        method: method.into(),
        url,
        headers: vec![],
        body,
        timeout_ms: Some(5_000),
        follow_redirects: false,
    }
}

/// `<bytes>x<count>@<url>`: one body of `bytes`, sent `count` times; returns how many were
/// refused and the first refusal.
fn big_requests(arg: &str) -> Result<Value, SkillError> {
    let bad = || err("invalid-input", "big_requests needs <bytes>x<count>@<url>");
    let (spec, url) = arg.split_once('@').ok_or_else(bad)?;
    let (bytes, count) = spec.split_once('x').ok_or_else(bad)?;
    let bytes: usize = bytes.parse().map_err(|_| bad())?;
    let count: usize = count.parse().map_err(|_| bad())?;
    let req = request("POST", url.to_string(), Some(vec![b'A'; bytes]));
    let (mut refused, mut first) = (0usize, None::<String>);
    for _ in 0..count {
        if let Err(e) = send(&req) {
            refused += 1;
            first.get_or_insert_with(|| format!("{e:?}"));
        }
    }
    match first {
        Some(first) => Err(err(
            "refused",
            format!("{refused} of {count} requests refused; the first: {first}"),
        )),
        None => Ok(json!({"refused": 0})),
    }
}

/// Writes a file in `dir`, reads it back and lists the directory.
fn scratch(dir: &str) -> Result<Value, SkillError> {
    let path = format!("{dir}/hostile.txt");
    let denied =
        |what: &str, e: std::io::Error| err("denied", format!("cannot {what} {path}: {e}"));
    std::fs::write(&path, "written by the hostile skill").map_err(|e| denied("write", e))?;
    let back = std::fs::read_to_string(&path).map_err(|e| denied("read", e))?;
    let entries: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| denied("list", e))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    Ok(json!({"wrote": path, "read_back": back, "entries": entries}))
}

#[inline(never)]
#[allow(unconditional_recursion)] // on purpose: the sandbox must stop it
fn recurse(depth: u64) -> u64 {
    // Only wasm locals, no frame in linear memory: this exhausts the wasm stack that the
    // engine bounds (`max_wasm_stack`), not the guest's own shadow stack. The opaque call
    // on the result keeps it from becoming a loop.
    black_box(recurse(black_box(depth + 1))) + 1
}

runproof_sdk::bindings::__runproof_export_skill_world!(Hostile with_types_in runproof_sdk::bindings);
