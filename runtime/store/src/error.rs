use thiserror::Error;

/// Everything that can go wrong talking to the database, phrased so an operator knows what
/// to do next.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("DATABASE_URL is not a valid Postgres URL: {0}")]
    BadUrl(String),
    #[error(
        "cannot reach the database at {target}: {reason} (check that Postgres is running and DATABASE_URL is right, or unset DATABASE_URL to use the built-in database)"
    )]
    Unreachable { target: String, reason: String },
    #[error(
        "the database schema is behind this runtime ({missing} migration(s) not applied): run `runtime db migrate`"
    )]
    SchemaBehind { missing: usize },
    #[error(
        "the database schema is newer than this runtime (migration {version} is unknown here): upgrade `runtime`"
    )]
    SchemaAhead { version: i64 },
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("rejected by the database: {0}")]
    Rejected(String),
    #[error("database error: {0}")]
    Db(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // Constraint and trigger violations are the schema saying no; keep their text.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("23") || c == "42501") =>
            {
                StoreError::Rejected(super::one_line(db.message()))
            }
            _ => StoreError::Db(super::one_line(&e.to_string())),
        }
    }
}
