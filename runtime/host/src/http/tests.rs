//! The client against loopback servers: caps, redirects, special addresses, secrets.

use super::*;
use crate::policy::HostPattern;
use crate::secrets::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn policy(granted: &[&str]) -> OutboundPolicy {
    let p = |s: &&str| HostPattern::parse(s).unwrap();
    OutboundPolicy {
        granted: granted.iter().map(p).collect(),
        requested: ["http://*:*"].iter().map(p).collect(),
    }
}

fn get(url: String) -> OutboundRequest {
    OutboundRequest {
        method: "GET".into(),
        url,
        headers: vec![],
        body: None,
        follow_redirects: true,
    }
}

fn soon(ms: u64) -> Deadline {
    Deadline {
        at: Instant::now() + Duration::from_millis(ms),
        what: "the invocation's deadline".into(),
    }
}

/// A loopback server that reads a request head, then answers with `respond(head)`;
/// `None` means trickle a never-ending head instead.
async fn server(respond: fn() -> Option<Vec<u8>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                match respond() {
                    Some(bytes) => {
                        let _ = s.write_all(&bytes).await;
                    }
                    None => {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
                        for _ in 0..600 {
                            if s.write_all(b"X").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        }
    });
    port
}

/// A write-ahead that keeps nothing: these tests are about the exchange.
fn quiet() -> WriteAhead<'static> {
    WriteAhead::new(&crate::NullRecorder, "test", "test")
}

/// Remembers what was recorded, and whether the server had been reached when the
/// intent was made durable.
struct Witness {
    events: std::sync::Mutex<Vec<(crate::HostEvent, usize)>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    fail: bool,
}

impl crate::TraceRecorder for Witness {
    fn record(&self, _: &str, e: crate::HostEvent) {
        let hits = self.hits.load(std::sync::atomic::Ordering::SeqCst);
        self.events.lock().unwrap().push((e, hits));
    }

    fn record_durable(
        &self,
        skill: &str,
        e: crate::HostEvent,
    ) -> crate::RecorderFuture<'_, Result<(), crate::NotDurable>> {
        self.record(skill, e);
        let fail = self.fail;
        Box::pin(async move {
            // Durability takes time; nothing may leave meanwhile.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if fail {
                Err(crate::NotDurable("database gone".into()))
            } else {
                Ok(())
            }
        })
    }
}

async fn counting_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 302 Found\r\nlocation: /next\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, hits)
}

#[tokio::test]
async fn the_intent_is_durable_before_anything_leaves_and_only_once_per_call() {
    let (port, hits) = counting_server().await;
    let w = Witness {
        events: Default::default(),
        hits: hits.clone(),
        fail: false,
    };
    let mut req = get(format!("http://127.0.0.1:{port}/start"));
    req.follow_redirects = true;
    let mut ahead = WriteAhead::new(&w, "probe", "runproof:skill/http");
    let caps = HttpCaps {
        max_redirects: 2,
        ..HttpCaps::default()
    };
    let _ = send(
        &req,
        &policy(&["http://127.0.0.1:*"]),
        &SecretSet::default(),
        &caps,
        &soon(5000),
        &mut ahead,
    )
    .await;
    assert!(ahead.committed());
    assert!(
        hits.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "redirects were followed"
    );
    let events = w.events.lock().unwrap();
    assert_eq!(
        events.len(),
        1,
        "one intent for the call, whatever the hops"
    );
    let (intent, hits_then) = &events[0];
    assert_eq!(intent.kind, runproof_proof::StepKind::HostIntent);
    assert_eq!(*hits_then, 0, "recorded before the server was reached");
    assert_eq!(intent.body["interface"], "runproof:skill/http");
    assert_eq!(intent.body["request"], req.to_json(&caps));
}

#[tokio::test]
async fn no_intent_no_request_and_a_denied_request_records_no_intent() {
    let (port, hits) = counting_server().await;
    let w = Witness {
        events: Default::default(),
        hits: hits.clone(),
        fail: true,
    };
    let mut ahead = WriteAhead::new(&w, "probe", "runproof:skill/http");
    let err = send(
        &get(format!("http://127.0.0.1:{port}/")),
        &policy(&["http://127.0.0.1:*"]),
        &SecretSet::default(),
        &HttpCaps::default(),
        &soon(5000),
        &mut ahead,
    )
    .await
    .unwrap_err();
    assert!(err.message().contains("was not sent"), "{err:?}");
    assert!(err.message().contains("database gone"), "{err:?}");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing left the host"
    );

    // Denied by policy: nothing would leave, so nothing is announced.
    let w = Witness {
        events: Default::default(),
        hits,
        fail: false,
    };
    let mut ahead = WriteAhead::new(&w, "probe", "runproof:skill/http");
    let err = send(
        &get(format!("http://127.0.0.1:{port}/")),
        &policy(&["https://api.example.com"]),
        &SecretSet::default(),
        &HttpCaps::default(),
        &soon(5000),
        &mut ahead,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "denied");
    assert!(!ahead.committed());
    assert!(w.events.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_trickling_server_is_cut_at_the_deadline_it_names() {
    let port = server(|| None).await;
    let started = Instant::now();
    let err = send(
        &get(format!("http://127.0.0.1:{port}/")),
        &policy(&["http://127.0.0.1:*"]),
        &SecretSet::default(),
        &HttpCaps::default(),
        &soon(400),
        &mut quiet(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "timeout", "{err:?}");
    assert!(
        err.message().contains("the invocation's deadline"),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn response_header_caps_are_too_large() {
    let many = server(|| {
        let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_vec();
        for i in 0..150 {
            r.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        r.extend_from_slice(b"\r\n");
        Some(r)
    })
    .await;
    let big = server(|| {
        Some(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-big: {}\r\n\r\n",
                "a".repeat(100_000)
            )
            .into_bytes(),
        )
    })
    .await;
    for port in [many, big] {
        let err = send(
            &get(format!("http://127.0.0.1:{port}/")),
            &policy(&["http://127.0.0.1:*"]),
            &SecretSet::default(),
            &HttpCaps::default(),
            &soon(5000),
            &mut quiet(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "too-large", "{err:?}");
        assert!(err.message().contains("max_header"), "{err:?}");
    }
}

#[tokio::test]
async fn request_caps_are_checked_before_sending() {
    let caps = HttpCaps {
        max_request_body: 10,
        ..Default::default()
    };
    let mut req = get("http://127.0.0.1:1/".into());
    req.body = Some(vec![b'x'; 11]);
    let err = send(
        &req,
        &policy(&["http://127.0.0.1:*"]),
        &SecretSet::default(),
        &caps,
        &soon(5000),
        &mut quiet(),
    )
    .await
    .unwrap_err();
    assert!(err.message().contains("max_request_body"), "{err:?}");
    let mut req = get("http://127.0.0.1:1/".into());
    req.headers = (0..101).map(|i| (format!("x-{i}"), "v".into())).collect();
    let err = send(
        &req,
        &policy(&["http://127.0.0.1:*"]),
        &SecretSet::default(),
        &caps,
        &soon(5000),
        &mut quiet(),
    )
    .await
    .unwrap_err();
    assert!(err.message().contains("max_headers"), "{err:?}");
}

#[tokio::test]
async fn names_resolving_to_special_addresses_are_denied_before_connecting() {
    let err = send(
        &get("http://localhost:1/".into()),
        &policy(&["http://*:*"]),
        &SecretSet::default(),
        &HttpCaps::default(),
        &soon(5000),
        &mut quiet(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "denied", "{err:?}");
    assert!(
        err.message().contains("localhost resolves to it"),
        "{err:?}"
    );
}

#[tokio::test]
async fn secrets_never_go_to_dns_or_into_errors() {
    let secrets = SecretSet::new(vec![Secret {
        name: "T".into(),
        value: "v4lue".into(),
        allowed_hosts: vec![HostPattern::parse("http://*:*").unwrap()],
    }]);
    let err = send(
        &get("http://{{secret:T}}.example.com/".into()),
        &policy(&["http://*:*"]),
        &secrets,
        &HttpCaps::default(),
        &soon(5000),
        &mut quiet(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.code(), "denied" | "invalid-request"),
        "{err:?}"
    );
    assert!(!err.message().contains("v4lue"), "{err:?}");
    // A refused connection's error names the URL: redacted.
    let err = send(
        &get("http://127.0.0.1:1/?k={{secret:T}}".into()),
        &policy(&["http://127.0.0.1:*"]),
        &secrets,
        &HttpCaps::default(),
        &soon(5000),
        &mut quiet(),
    )
    .await
    .unwrap_err();
    assert!(!err.message().contains("v4lue"), "{err:?}");
}
