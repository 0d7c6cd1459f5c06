use crate::args::DbCommand;
use crate::database::Database;
use crate::output::Out;
use anyhow::Result;
use runproof_pgembed::ClusterState;

pub async fn run(cmd: &DbCommand, db: &Database, out: &Out) -> Result<()> {
    match cmd {
        DbCommand::Migrate => {
            let store = db.connect().await?;
            let applied = store.migrate().await?;
            let status = store.schema_status().await?;
            out.emit(
                &serde_json::json!({"applied": applied, "pending": status.pending}),
                || {
                    if applied.is_empty() {
                        outln!(
                            "schema is up to date ({} migrations)",
                            status.migrations.len()
                        );
                    } else {
                        outln!("applied {} migration(s): {applied:?}", applied.len());
                    }
                },
            );
        }
        DbCommand::Status => {
            let server = match db {
                Database::External(_) => serde_json::json!({"kind": "external"}),
                Database::Embedded(pg) => {
                    let state = match pg.state()? {
                        ClusterState::NotInitialized => "not initialized".to_string(),
                        ClusterState::Stopped => "stopped".to_string(),
                        ClusterState::Running { port } => format!("running on 127.0.0.1:{port}"),
                    };
                    serde_json::json!({"kind": "built-in", "state": state})
                }
            };
            // The built-in database is kept migrated by every command, this one included.
            let store = match db {
                Database::Embedded(_) => db.ready_store().await?,
                Database::External(_) => db.connect().await?,
            };
            let status = store.schema_status().await?;
            out.emit(
                &serde_json::json!({"server": server, "schema": status}),
                || {
                    outln!("database: {}", server["kind"].as_str().unwrap_or("?"));
                    if let Some(s) = server.get("state").and_then(|s| s.as_str()) {
                        outln!("server:   {s}");
                    }
                    for m in &status.migrations {
                        outln!(
                            "  {} {:>4} {}",
                            if m.applied { "applied" } else { "PENDING" },
                            m.version,
                            m.description
                        );
                    }
                    if status.pending > 0 {
                        outln!(
                            "{} migration(s) pending: run `runtime db migrate`",
                            status.pending
                        );
                    }
                },
            );
        }
        DbCommand::Url => {
            let url = db.url_blocking_pool().await?;
            out.emit(&serde_json::json!({"url": url}), || outln!("{url}"));
        }
        DbCommand::Stop => match db {
            Database::External(_) => {
                anyhow::bail!("DATABASE_URL is set: that server is not managed by runtime")
            }
            Database::Embedded(pg) => {
                pg.stop()?;
                out.emit(&serde_json::json!({"stopped": true}), || {
                    outln!("built-in database stopped")
                });
            }
        },
    }
    Ok(())
}
