//! A real PgBouncer (Debian's 1.18, `scripts/setup` installs it) in front of the test
//! database, started by the test as the `postgres` user (PgBouncer refuses to run as root).
#![allow(dead_code)]

use crate::support::runtime;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PgBouncer {
    child: Child,
    /// The URL clients use (with `pgbouncer=transaction` in transaction mode).
    pub url: String,
    /// The direct URL of the database behind it.
    pub direct: String,
    pub log: std::path::PathBuf,
}

fn binary() -> &'static str {
    for p in ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"] {
        if std::path::Path::new(p).exists() {
            return p;
        }
    }
    panic!("pgbouncer is not installed: run scripts/setup (apt-get install pgbouncer)")
}

impl PgBouncer {
    /// `mode`: "session" or "transaction". `pool_size` server connections at most, so many
    /// clients share each one (what makes named statements collide).
    pub fn start(mode: &str, pool_size: u32) -> PgBouncer {
        let direct = runtime(&["db", "url"]).ok().stdout.trim().to_string();
        let rest = direct.strip_prefix("postgres://").expect("a postgres URL");
        let (auth, hostpart) = rest.rsplit_once('@').unwrap();
        let (user, password) = auth.split_once(':').unwrap();
        let (hostport, db) = hostpart.split_once('/').unwrap();
        let (host, port) = hostport.rsplit_once(':').unwrap();
        let listen = crate::service::free_port();
        let dir = crate::support::home()
            .parent()
            .unwrap()
            .join(format!("pgbouncer-{mode}-{}-{listen}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let userlist = dir.join("userlist.txt");
        std::fs::write(&userlist, format!("\"{user}\" \"{password}\"\n")).unwrap();
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n\
                 auth_type = scram-sha-256\nauth_file = {}\npool_mode = {mode}\n\
                 default_pool_size = {pool_size}\nmax_client_conn = 400\n\
                 ignore_startup_parameters = extra_float_digits\n",
                userlist.display()
            ),
        )
        .unwrap();
        // Readable by the postgres user only: the user list holds the password.
        let postgres = users_uid("postgres");
        for f in [&dir, &userlist, &ini] {
            std::os::unix::fs::chown(f, Some(postgres.0), Some(postgres.1)).unwrap();
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let log = crate::support::tempfile("");
        let child = Command::new("setpriv")
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                binary(),
            ])
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("setpriv starts pgbouncer");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", listen)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut url = format!("postgres://{user}:{password}@127.0.0.1:{listen}/{db}");
        if mode == "transaction" {
            url.push_str("?pgbouncer=transaction");
        }
        PgBouncer {
            child,
            url,
            direct,
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn users_uid(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .expect("a postgres user");
    let f: Vec<&str> = line.split(':').collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // setpriv execs pgbouncer: this pid is pgbouncer's.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
