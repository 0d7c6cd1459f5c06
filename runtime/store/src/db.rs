//! The connection pool, safe behind a transaction-mode pooler (PgBouncer `pool_mode =
//! transaction`).
//!
//! Behind such a pooler, a client connection is bound to a server connection only for the
//! length of one transaction. Two things sqlx does by default then break:
//! - **Named prepared statements** (`sqlx_s_N`, cached per client connection) live on the
//!   server connection: the next transaction may run on another server (`prepared statement
//!   "sqlx_s_1" does not exist`) and another client may find the name taken (`... already
//!   exists`).
//! - **Unnamed statements are prepared and executed in two round trips**, each ending with a
//!   Sync (Parse/Describe/Sync, then Bind/Execute/Sync). Outside a transaction the pooler may
//!   hand the Bind to another server, where the unnamed statement does not exist.
//!
//! So, in transaction mode ([`Pooling::Transaction`]) every query sent through `&Db` runs
//! as an unnamed statement inside its own `BEGIN … COMMIT`, which holds one server
//! connection for both round trips; and a transaction opened with [`Db::begin`] closes every
//! statement it prepared before it commits (while it still holds that server), and drops its
//! connection instead of returning it if it ends any other way, so the pooler discards the
//! server connection and whatever it held. Nothing else keeps session state: settings are
//! per transaction (`set_config(.., true)`, i.e. `SET LOCAL`), LISTEN is done on a direct
//! connection (see `listen.rs`), and no session advisory lock is taken (`schema.rs`).
//!
//! Direct connections (and session-mode poolers) keep sqlx's statement cache: one round
//! trip per query.

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgQueryResult, PgRow, PgStatement};
use sqlx::{Connection, Either, Execute, Executor, Postgres};
use std::ops::{Deref, DerefMut};

/// How the database is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Postgres itself, or a pooler in session mode (one server connection per client
    /// connection, for the whole session).
    Direct,
    /// A pooler in transaction mode: a server connection per transaction, no session state.
    Transaction,
}

/// The pool every store query runs on. `&Db` is an [`Executor`], like `&PgPool`.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub(crate) inner: PgPool,
    pub(crate) pooling: Pooling,
}

impl Db {
    /// Opens a transaction. In transaction-pooling mode, see the module comment.
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.pooling {
            Pooling::Direct => Ok(Tx::direct(self.inner.begin().await?)),
            Pooling::Transaction => {
                let mut conn = self.inner.acquire().await?;
                sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
                Ok(Tx::pinned(conn))
            }
        }
    }

    pub(crate) async fn close(&self) {
        self.inner.close().await;
    }
}

/// A transaction on [`Db`]: derefs to the connection (`&mut *tx` is an executor) and ends
/// with [`Tx::commit`]; dropped uncommitted, it rolls back.
pub(crate) struct Tx {
    /// `None` only once it has ended.
    inner: Option<TxInner>,
}

enum TxInner {
    Direct(sqlx::Transaction<'static, Postgres>),
    /// Behind a transaction-mode pooler: our own BEGIN on a pooled connection.
    Pinned(sqlx::pool::PoolConnection<Postgres>),
}

impl Tx {
    fn direct(tx: sqlx::Transaction<'static, Postgres>) -> Tx {
        Tx {
            inner: Some(TxInner::Direct(tx)),
        }
    }

    fn pinned(conn: sqlx::pool::PoolConnection<Postgres>) -> Tx {
        Tx {
            inner: Some(TxInner::Pinned(conn)),
        }
    }

    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        match self.inner.take() {
            None => Ok(()),
            Some(TxInner::Direct(tx)) => tx.commit().await,
            Some(TxInner::Pinned(mut c)) => {
                // Close the statements this transaction prepared while it still holds the
                // server connection they live on; only then give the server back.
                let done = async {
                    c.clear_cached_statements().await?;
                    sqlx::raw_sql("COMMIT").execute(&mut *c).await.map(|_| ())
                }
                .await;
                if done.is_err() {
                    // Let Drop discard it rather than return it to the pool mid-transaction.
                    self.inner = Some(TxInner::Pinned(c));
                }
                done
            }
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(TxInner::Pinned(conn)) = self.inner.take() {
            // Not committed (an error, or an early return). Dropping the raw connection closes
            // it mid-transaction: the pooler then discards the server connection, with its
            // open transaction (rolled back) and any statement prepared on it. Returning it
            // to our pool instead would leave those statements behind for the next client.
            drop(conn.detach());
        }
    }
}

impl Deref for Tx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match &self.inner {
            Some(TxInner::Direct(tx)) => tx,
            Some(TxInner::Pinned(c)) => c,
            None => unreachable!("a transaction is not used after it ends"),
        }
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match &mut self.inner {
            Some(TxInner::Direct(tx)) => tx,
            Some(TxInner::Pinned(c)) => c,
            None => unreachable!("a transaction is not used after it ends"),
        }
    }
}

/// A query taken apart (so it can move to another task) and sent as an unnamed statement.
struct Unnamed {
    sql: sqlx::SqlStr,
    arguments: Option<PgArguments>,
}

impl<'q> Execute<'q, Postgres> for Unnamed {
    fn sql(self) -> sqlx::SqlStr {
        self.sql
    }
    fn statement(&self) -> Option<&PgStatement> {
        None
    }
    fn take_arguments(&mut self) -> Result<Option<PgArguments>, sqlx::error::BoxDynError> {
        Ok(self.arguments.take())
    }
    fn persistent(&self) -> bool {
        false
    }
}

type Item = Result<Either<PgQueryResult, PgRow>, sqlx::Error>;

/// Runs `query` as an unnamed statement inside its own transaction on one pooled connection,
/// on a task of its own that hands the results over a small channel (so a long result is
/// streamed, not collected). The stream ends after the COMMIT: a failed commit is its last
/// item.
fn pinned_stream(pool: PgPool, query: Unnamed) -> BoxStream<'static, Item> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Item>(64);
    tokio::spawn(async move {
        let run = async {
            let mut conn = pool.acquire().await?;
            let mut t = conn.begin().await?;
            {
                let mut results = (&mut *t).fetch_many(query);
                while let Some(item) = results.next().await {
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() {
                        // The reader went away: finish the statement, then commit what it did
                        // (as an autocommitted statement would have).
                        break;
                    }
                    if failed {
                        // Already reported; the transaction rolls back when `t` drops.
                        return Ok(());
                    }
                }
            }
            t.commit().await
        };
        if let Err(e) = run.await {
            let _ = tx.send(Err(e)).await;
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) })
        .boxed()
}

fn take_apart<'q, E: Execute<'q, Postgres>>(mut query: E) -> Result<Unnamed, sqlx::Error> {
    let arguments = query.take_arguments().map_err(sqlx::Error::Encode)?;
    Ok(Unnamed {
        sql: query.sql(),
        arguments,
    })
}

impl<'c> Executor<'c> for &'c Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Item>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        match self.pooling {
            Pooling::Direct => (&self.inner).fetch_many(query),
            Pooling::Transaction => match take_apart(query) {
                Ok(q) => pinned_stream(self.inner.clone(), q),
                Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
            },
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        match self.pooling {
            Pooling::Direct => (&self.inner).fetch_optional(query),
            Pooling::Transaction => {
                let results = self.fetch_many(query);
                async move {
                    // Read to the end: the commit's outcome is the stream's last item.
                    let mut results = results;
                    let mut first = None;
                    while let Some(item) = results.next().await {
                        if let Either::Right(row) = item?
                            && first.is_none()
                        {
                            first = Some(row);
                        }
                    }
                    Ok(first)
                }
                .boxed()
            }
        }
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [sqlx::postgres::PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        // A prepared statement object outlives any one server connection behind a
        // transaction-mode pooler; the store never prepares explicitly.
        (&self.inner).prepare_with(sql, parameters)
    }

    // Part of the trait while sqlx's `offline` feature is on (the `macros` feature of the
    // workspace's sqlx turns it on); only the query macros call it.
    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&self.inner).describe(sql)
    }
}

/// Takes the `pgbouncer` parameter out of a Postgres URL (sqlx would ignore it with a
/// warning) and says which [`Pooling`] it names.
pub(crate) fn split_pooling(url: &str) -> Result<(String, Pooling), crate::StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Pooling::Direct));
    };
    let mut pooling = Pooling::Direct;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "pgbouncer" {
            kept.push(pair);
            continue;
        }
        pooling = match value.to_ascii_lowercase().as_str() {
            "transaction" | "true" => Pooling::Transaction,
            "session" | "false" => Pooling::Direct,
            other => {
                return Err(crate::StoreError::BadUrl(format!(
                    "pgbouncer={other:?}: use pgbouncer=transaction (a transaction-mode pooler) or pgbouncer=session"
                )));
            }
        };
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, pooling))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pgbouncer_parameter_is_taken_out() {
        let (url, p) = split_pooling("postgres://u:p@h:6432/db?pgbouncer=transaction").unwrap();
        assert_eq!(
            (url.as_str(), p),
            ("postgres://u:p@h:6432/db", Pooling::Transaction)
        );
        let (url, p) = split_pooling("postgres://h/db?sslmode=disable&pgbouncer=true&x=1").unwrap();
        assert_eq!(
            (url.as_str(), p),
            ("postgres://h/db?sslmode=disable&x=1", Pooling::Transaction)
        );
        let (url, p) = split_pooling("postgres://h/db?pgbouncer=session").unwrap();
        assert_eq!((url.as_str(), p), ("postgres://h/db", Pooling::Direct));
        assert_eq!(split_pooling("postgres://h/db").unwrap().1, Pooling::Direct);
        assert!(split_pooling("postgres://h/db?pgbouncer=maybe").is_err());
    }
}
