//! End-to-end: a real cluster from the installed PostgreSQL binaries, in a fresh home.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Instant;

use runproof_pgembed::{ClusterState, EmbeddedPostgres, PgEmbedError};

const PSQL: &str = "/usr/bin/psql";

/// A fresh home that is stopped and removed however the test ends, so a failing test does
/// not leave a server running.
struct TestHome {
    dir: PathBuf,
    pg: EmbeddedPostgres,
}

impl TestHome {
    fn new(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("pgembed-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create test home");
        // The server may run as the postgres user, which must be able to pass through.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod test home");
        let pg = EmbeddedPostgres::new(&dir);
        TestHome { dir, pg }
    }
}

impl Drop for TestHome {
    fn drop(&mut self) {
        let stopped = self.pg.stop();
        if stopped.is_ok() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "could not stop the test cluster in {}: {stopped:?}",
                self.dir.display()
            );
        }
    }
}

/// Runs one query through psql, if psql is installed.
fn psql(url: &str, sql: &str) -> Option<String> {
    if !Path::new(PSQL).exists() {
        eprintln!("{PSQL} not installed; skipping the SQL check");
        return None;
    }
    let out = Command::new(PSQL)
        .args([url, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn cluster_lifecycle() {
    let home = TestHome::new("lifecycle");
    let pg = &home.pg;
    assert_eq!(pg.state().expect("state"), ClusterState::NotInitialized);

    let t = Instant::now();
    let info = pg
        .ensure_running()
        .expect("first ensure_running (init + start)");
    eprintln!(
        "first ensure_running (initdb + createdb + start): {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    let again = pg.ensure_running().expect("second ensure_running");
    eprintln!("second ensure_running (already running): {:?}", t.elapsed());
    assert_eq!(
        again, info,
        "a running cluster is reused, not restarted elsewhere"
    );

    assert!(info.url.starts_with("postgres://runproof:"), "{info:?}");
    assert!(
        info.url
            .ends_with(&format!("@127.0.0.1:{}/runproof", info.port)),
        "{info:?}"
    );
    assert_eq!(pg.url().expect("url"), info.url);
    assert_eq!(info.data_dir, home.dir.join("postgres/data"));
    assert!(info.data_dir.join("PG_VERSION").exists());
    assert!(info.log_file.exists());

    // Files are private: data dir 0700 (as PostgreSQL demands), password 0600 and ours.
    let data_meta = fs::metadata(&info.data_dir).expect("stat data");
    assert_eq!(data_meta.mode() & 0o777, 0o700);
    let pw_meta = fs::metadata(home.dir.join("postgres/password")).expect("stat password");
    assert_eq!(pw_meta.mode() & 0o777, 0o600);
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(pw_meta.uid(), euid);
    if euid == 0 {
        assert_ne!(
            data_meta.uid(),
            0,
            "as root the data directory belongs to the postgres user"
        );
    }
    assert!(
        !home.dir.join("postgres/initdb.pwfile").exists(),
        "initdb's password file is removed"
    );

    TcpStream::connect(("127.0.0.1", info.port)).expect("server accepts TCP connections");
    if let Some(row) = psql(&info.url, "SELECT 1") {
        assert_eq!(row, "1");
        let settings = psql(
            &info.url,
            "SELECT current_user || ',' || current_database() || ',' || current_setting('fsync') || ',' \
             || current_setting('listen_addresses') || ',' || current_setting('max_connections') || ',' \
             || current_setting('server_encoding')",
        );
        assert_eq!(
            settings.as_deref(),
            Some("runproof,runproof,on,127.0.0.1,200,UTF8")
        );
    }
    assert_eq!(
        pg.state().expect("state"),
        ClusterState::Running { port: info.port }
    );

    let t = Instant::now();
    pg.stop().expect("stop");
    eprintln!("stop: {:?}", t.elapsed());
    assert_eq!(pg.state().expect("state"), ClusterState::Stopped);
    assert!(
        TcpStream::connect(("127.0.0.1", info.port)).is_err(),
        "nothing listens after stop"
    );
    pg.stop().expect("stopping a stopped cluster is a no-op");
    assert_eq!(pg.url().expect("url works while stopped"), info.url);

    let t = Instant::now();
    let restarted = pg.ensure_running().expect("restart");
    eprintln!(
        "ensure_running on a stopped cluster (start): {:?}",
        t.elapsed()
    );
    assert_eq!(
        restarted.port, info.port,
        "the saved port is reused when free"
    );
    assert_eq!(restarted.url, info.url);
    if let Some(row) = psql(&restarted.url, "SELECT 1") {
        assert_eq!(row, "1");
    }

    // A server that cannot start is reported in one line with the log's reason.
    pg.stop().expect("stop");
    let conf = info.data_dir.join("postgresql.conf");
    let original = fs::read_to_string(&conf).expect("read postgresql.conf");
    fs::write(&conf, format!("{original}\nno_such_setting = 1\n")).expect("break postgresql.conf");
    let err = pg
        .ensure_running()
        .expect_err("a broken config must not start");
    let msg = err.to_string();
    assert!(matches!(err, PgEmbedError::StartFailed { .. }), "{msg}");
    assert!(
        msg.contains("no_such_setting") && !msg.contains('\n'),
        "{msg}"
    );
    fs::write(&conf, original).expect("repair postgresql.conf");
    assert_eq!(
        pg.ensure_running().expect("starts once repaired").url,
        info.url
    );

    pg.stop().expect("final stop");
    assert_eq!(pg.state().expect("state"), ClusterState::Stopped);
}

#[test]
fn root_refuses_a_home_the_postgres_user_cannot_reach() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the server runs as us, so every home we can use is reachable");
        return;
    }
    let private = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("pgembed-private-{}", std::process::id()));
    let _ = fs::remove_dir_all(&private);
    fs::create_dir_all(&private).expect("mkdir");
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).expect("chmod 0700");

    let home = private.join("home");
    let result = EmbeddedPostgres::new(&home).ensure_running();
    let created_anything = home.exists();
    fs::remove_dir_all(&private).expect("cleanup");

    match result {
        Err(PgEmbedError::Unreachable { user, path }) => {
            assert_eq!(user, "postgres");
            assert_eq!(
                path,
                fs::canonicalize(Path::new(env!("CARGO_TARGET_TMPDIR")))
                    .expect("canonicalize")
                    .join(private.file_name().expect("name"))
            );
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(
        !created_anything,
        "nothing is created in a home the server could never use"
    );
}

#[test]
fn concurrent_callers_share_one_cluster_and_a_taken_port_is_replaced() {
    let home = TestHome::new("concurrent");

    // Several processes' worth of callers at once: exactly one initialises and starts,
    // the rest wait on the lock and find it running.
    let infos: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| home.pg.ensure_running()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("ensure_running"))
            .collect()
    });
    assert!(
        infos.windows(2).all(|w| w[0] == w[1]),
        "all callers see the same cluster: {infos:?}"
    );
    let first = &infos[0];

    // Someone else takes our port while the cluster is stopped.
    home.pg.stop().expect("stop");
    let squatter = TcpListener::bind(("127.0.0.1", first.port)).expect("take the saved port");
    let moved = home.pg.ensure_running().expect("start on a new port");
    assert_ne!(moved.port, first.port);
    assert_eq!(
        home.pg.url().expect("url"),
        moved.url,
        "the new port is saved"
    );
    assert_eq!(
        home.pg.state().expect("state"),
        ClusterState::Running { port: moved.port }
    );
    if let Some(row) = psql(&moved.url, "SELECT 1") {
        assert_eq!(row, "1");
    }
    drop(squatter);
}
