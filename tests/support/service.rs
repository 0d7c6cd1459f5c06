//! For the service tests: real `runtime serve` and `runtime worker` processes on loopback,
//! a small blocking HTTP/1.1 client, and a lock that keeps the tests that run workers from
//! executing each other's runs (every worker claims any tenant's queued runs).
#![allow(dead_code)]

use crate::support::{runtime, runtime_cmd};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Held by every test that starts a worker (or needs runs to stay queued).
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (SIGKILL) when dropped, unless it already ended.
pub struct Proc {
    pub child: Child,
    pub stderr_file: std::path::PathBuf,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child by pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Waits for the process to end (at most `limit`); its exit code and stderr.
    pub fn wait(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let err = std::fs::read_to_string(&self.stderr_file).unwrap_or_default();
                return (status.code(), err);
            }
            if Instant::now() > deadline {
                let err = std::fs::read_to_string(&self.stderr_file).unwrap_or_default();
                panic!("process did not end within {limit:?}; stderr:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> Proc {
    let stderr_file = crate::support::tempfile("");
    let mut cmd = runtime_cmd();
    cmd.args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_file).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc {
        child: cmd.spawn().expect("runtime starts"),
        stderr_file,
    }
}

/// `runtime worker` with `args` (e.g. `--concurrency 8`) and `env`.
pub fn worker(args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut all = vec!["worker"];
    all.extend(args);
    let p = spawn(&all, env);
    // Ready once it has said how it is woken (it claims from then on).
    wait_for(&p, "wake-ups:", Duration::from_secs(60));
    p
}

fn wait_for(p: &Proc, needle: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !p.stderr().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} within {limit:?}; stderr:\n{}",
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `runtime serve`.
pub struct Api {
    pub proc: Proc,
    pub base: String,
}

/// `runtime serve` on a free loopback port, with extra `args`, ready to answer.
pub fn serve(args: &[&str], env: &[(&str, &str)]) -> Api {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut all = vec!["serve", "--addr", &addr];
    all.extend(args);
    let proc = spawn(&all, env);
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(&addr).is_ok()
            && get(&format!("{base}/v1/health"), None).status == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not come up; stderr:\n{}",
            proc.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Api { proc, base }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A tenant's API token, created with the CLI.
pub fn token(tenant: &str) -> (String, String) {
    let v = runtime(&["--json", "token", "create", "--tenant-id", tenant])
        .ok()
        .json();
    (
        v["token"].as_str().unwrap().to_string(),
        v["token_id"].as_str().unwrap().to_string(),
    )
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    (host.to_string(), format!("/{path}"))
}

/// One HTTP/1.1 request; the connection is closed after the response.
pub fn request(
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let (host, path) = split_url(url);
    let mut s = TcpStream::connect(&host).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        // A server may answer (413) and close before reading all of a large body.
        let _ = s.write_all(b);
    }
    let mut reader = BufReader::new(s);
    read_response(&mut reader)
}

fn read_response(reader: &mut BufReader<TcpStream>) -> Response {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap() == 0 || l == "\r\n" {
            break;
        }
        if let Some((k, v)) = l.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n];
            reader.read_exact(&mut chunk).unwrap();
            body.extend(chunk);
            let mut crlf = String::new();
            reader.read_line(&mut crlf).unwrap();
        }
    } else {
        let _ = reader.read_to_end(&mut body);
    }
    Response {
        status,
        headers,
        body,
    }
}

pub fn get(url: &str, token: Option<&str>) -> Response {
    request("GET", url, token, &[], None)
}

pub fn post_json(url: &str, token: Option<&str>, body: &Value) -> Response {
    request(
        "POST",
        url,
        token,
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

/// `POST /v1/runs`; panics unless 200/201.
/// `runtime run --detach` of `plan` (plus `extra` flags): asserts it was queued and returns
/// its run_id.
pub fn detach(agent_id: &str, tenant: &str, origin: &str, plan: &Value, extra: &[&str]) -> String {
    let file = crate::support::tempfile(&plan.to_string());
    let mut args = vec![
        "--json",
        "-q",
        "run",
        "--detach",
        "--agent-id",
        agent_id,
        "--tenant-id",
        tenant,
        "--origin-system-id",
        origin,
        "--goal",
        "e2e",
        "--plan",
        file.to_str().unwrap(),
    ];
    args.extend(extra);
    let v = runtime(&args).ok().json();
    assert_eq!(v["status"], "queued", "{v}");
    v["run_id"].as_str().unwrap().to_string()
}

pub fn submit(api: &Api, token: &str, body: &Value) -> Value {
    let r = post_json(&api.url("/v1/runs"), Some(token), body);
    assert!(
        r.status == 201 || r.status == 200,
        "{} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

/// Long-polls `GET /v1/runs/{id}/wait` until the run has ended (at most `limit`).
pub fn wait_run(api: &Api, token: &str, run_id: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let r = get(
            &api.url(&format!("/v1/runs/{run_id}/wait?timeout=10")),
            Some(token),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        if v["done"] == true {
            return v["run"].clone();
        }
        assert!(Instant::now() < deadline, "run {run_id} did not end: {v}");
    }
}

/// The run as the CLI sees it: each field's value (`runs show --json` pairs every field
/// with its coverage by the signed head; the coverage is e2e_bound's subject, not this).
pub fn cli_run(tenant: &str, run_id: &str) -> Value {
    let shown = runtime(&[
        "--json",
        "runs",
        "show",
        "--run-id",
        run_id,
        "--tenant-id",
        tenant,
    ])
    .ok()
    .json();
    let fields = shown["run"]
        .as_object()
        .expect("runs show --json has a run object");
    fields
        .iter()
        .map(|(name, field)| {
            assert!(
                field.get("coverage").is_some(),
                "{name} has no coverage: {field}"
            );
            (name.clone(), field["value"].clone())
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Polls `runtime runs show` until `done(run)` (at most `limit`); returns the run.
pub fn until(tenant: &str, run_id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let run = cli_run(tenant, run_id);
        if done(&run) {
            return run;
        }
        assert!(Instant::now() < deadline, "timed out; run is {run}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A one-step plan GETting `url`, with `extra` plan fields (e.g. max_attempts).
pub fn get_plan(url: &str, extra: Value) -> Value {
    let mut plan = serde_json::json!({"planner": "manual", "steps": [
        {"step_id": "get", "skill": "http_call", "params": {"url": url}}
    ]});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            plan[k] = v;
        }
    }
    plan
}

/// Reads a server-sent event stream to its end: (event, id, data) triples.
pub fn sse(url: &str, token: &str) -> Vec<(String, Option<String>, Value)> {
    let (host, path) = split_url(url);
    let mut s = TcpStream::connect(&host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let r = read_response(&mut BufReader::new(s));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let text = String::from_utf8(r.body).unwrap();
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
        for l in block.lines() {
            if let Some(v) = l.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = l.strip_prefix("id:") {
                id = Some(v.trim().to_string());
            } else if let Some(v) = l.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if !data.is_empty() {
            events.push((event, id, serde_json::from_str(&data).unwrap()));
        }
    }
    events
}
