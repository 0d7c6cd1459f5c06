//! A private PostgreSQL cluster for the RunProof runtime, used when `DATABASE_URL` is
//! unset: created under a home directory (`RUNPROOF_HOME`) on first use from the
//! PostgreSQL binaries installed on the machine, started when it is not running, and left
//! running for the next invocation to reuse.
//!
//! ```no_run
//! let pg = runproof_pgembed::EmbeddedPostgres::new(runproof_pgembed::default_home());
//! let info = pg.ensure_running()?;
//! println!("connect to {}", info.url);
//! # Ok::<(), runproof_pgembed::PgEmbedError>(())
//! ```
//!
//! The server listens on 127.0.0.1 only, with a random superuser password (SCRAM), and
//! keeps fsync on. Everything is synchronous; no async runtime is needed.
//!
//! The binaries are taken from `RUNPROOF_PG_BIN` if set, else from wherever the `pg_ctl`
//! on `PATH` really lives, else from the highest `/usr/lib/postgresql/<version>/bin`.

#![warn(missing_docs)]

mod binaries;
mod cluster;
mod error;
mod home;
mod initdb;
mod layout;
mod lock;
mod privileges;
mod server;
mod state_files;
mod tools;

pub use cluster::{ClusterInfo, ClusterState, EmbeddedPostgres};
pub use error::PgEmbedError;
pub use home::default_home;

/// The superuser role initdb creates, and the user in every URL.
const SUPERUSER: &str = "runproof";

/// The database created for the runtime.
const DATABASE: &str = "runproof";
