//! A small real HTTP/1.1 server on 127.0.0.1 for the tests, counting what it serves.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Server {
    pub port: u16,
    hits: Arc<AtomicUsize>,
}

impl Server {
    /// Serves: `/ok` 200 JSON, `/status/N` status N, `/redirect` 302 to `/ok`, `/slow` 200
    /// after 5 s, else 404.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &counter);
                });
            }
        });
        Server { port, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn serve(stream: TcpStream, hits: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            content_length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    hits.fetch_add(1, Ordering::SeqCst);
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let (status, extra, body) = if path == "/ok" {
        (
            200,
            "Content-Type: application/json\r\n".to_string(),
            r#"{"hello":"world"}"#.to_string(),
        )
    } else if let Some(code) = path.strip_prefix("/status/") {
        (
            code.parse().unwrap_or(500),
            String::new(),
            format!("status {code}"),
        )
    } else if path == "/slow" {
        // Long enough for a test to interrupt the run; bounded so nothing hangs.
        std::thread::sleep(std::time::Duration::from_secs(5));
        (200, String::new(), "late".to_string())
    } else if path == "/big" {
        // Over the trace's 64 KiB inline cap: the response body is recorded as its digest.
        (200, String::new(), "b".repeat(100_000))
    } else if path == "/over-cap" {
        // One byte over the host's default response-body cap (8 MiB): `too-large`.
        (200, String::new(), "c".repeat((8 << 20) + 1))
    } else if path == "/redirect" {
        (302, "Location: /ok\r\n".to_string(), String::new())
    } else {
        (404, String::new(), "not found".to_string())
    };
    let mut s = stream;
    write!(
        s,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )?;
    s.flush()
}

/// A loopback port with nothing listening: connections are refused.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
