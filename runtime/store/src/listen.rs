//! Wake-ups for workers: `LISTEN runproof_runs_queued`, notified by a trigger on every
//! queued insert (migration 0012).
//!
//! LISTEN is session state: it needs a connection that stays one server session, i.e. a
//! direct connection (or a session-mode pooler). Behind a transaction-mode pooler a LISTEN
//! "succeeds" but its notifications go nowhere, so [`QueueListener::connect`] proves the
//! connection works by notifying itself once, and refuses it otherwise; the caller then
//! polls.

use crate::{Store, StoreError};
use sqlx::postgres::PgListener;
use std::time::Duration;

/// The channel the queued-run trigger notifies.
pub const QUEUED_CHANNEL: &str = "runproof_runs_queued";

/// How long the self-test waits for its own notification.
const SELF_TEST: Duration = Duration::from_secs(2);

/// A LISTEN connection that has been seen to deliver.
pub struct QueueListener {
    listener: PgListener,
}

impl QueueListener {
    /// LISTENs on `url` (a direct connection) and checks, with a notification sent through
    /// `store`, that notifications arrive.
    pub async fn connect(url: &str, store: &Store) -> Result<QueueListener, StoreError> {
        let (url, _) = crate::db::split_pooling(url)?;
        let unreachable = |reason: String| StoreError::Unreachable {
            target: "the LISTEN connection".into(),
            reason,
        };
        let mut listener = tokio::time::timeout(crate::CONNECT_TIMEOUT, PgListener::connect(&url))
            .await
            .map_err(|_| unreachable("no answer".into()))?
            .map_err(|e| unreachable(crate::one_line(&e.to_string())))?;
        listener
            .listen(QUEUED_CHANNEL)
            .await
            .map_err(|e| unreachable(crate::one_line(&e.to_string())))?;
        let nonce = format!("self-test:{}", uuid::Uuid::new_v4());
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(QUEUED_CHANNEL)
            .bind(&nonce)
            .execute(&store.pool)
            .await?;
        let heard = tokio::time::timeout(SELF_TEST, async {
            loop {
                match listener.recv().await {
                    Ok(n) if n.payload() == nonce => return Ok(()),
                    Ok(_) => continue,
                    Err(e) => return Err(e),
                }
            }
        })
        .await;
        match heard {
            Ok(Ok(())) => Ok(QueueListener { listener }),
            Ok(Err(e)) => Err(unreachable(crate::one_line(&e.to_string()))),
            Err(_) => Err(StoreError::Rejected(format!(
                "LISTEN on this connection heard nothing within {} s (a transaction-mode pooler?); give a direct connection for wake-ups",
                SELF_TEST.as_secs()
            ))),
        }
    }

    /// Waits for the next notification (any payload: each one means "look at the queue").
    /// An error means the connection is gone; reconnect or poll.
    pub async fn next(&mut self) -> Result<(), StoreError> {
        self.listener
            .recv()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Db(crate::one_line(&e.to_string())))
    }
}

impl Store {
    /// The URL a LISTEN connection can use, when this store's own connections are direct
    /// (`None` behind a transaction-mode pooler).
    pub fn listen_url(&self) -> Option<&str> {
        match self.pool.pooling {
            crate::Pooling::Direct => Some(&self.url),
            crate::Pooling::Transaction => None,
        }
    }
}
