//! Where a worker's wake-ups come from: a LISTEN connection when one works, else polling.
//!
//! The LISTEN connection must be direct (LISTEN is session state, which a transaction-mode
//! pooler does not keep); `QueueListener::connect` proves it delivers before it is used.
//! When it cannot be had (only the pooler is reachable, the database restarts), the worker
//! polls and tries LISTEN again every half minute.

use crate::{WorkerEvent, WorkerObserver};
use runproof_store::Store;
use runproof_store::listen::QueueListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// How often a failed LISTEN is tried again.
const RELISTEN: Duration = Duration::from_secs(30);

/// Which connection to LISTEN on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WakeSource {
    /// The store's own URL when it is direct; none behind a transaction-mode pooler.
    Auto,
    /// This URL (a direct connection to the same database).
    Url(String),
    /// Poll only.
    Off,
}

/// What the worker currently relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WakeMode {
    Listening,
    Polling { why: String },
}

pub(crate) struct Wake {
    notify: Arc<Notify>,
    listening: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Wake {
    pub(crate) fn start(
        store: Store,
        source: WakeSource,
        observer: Arc<dyn WorkerObserver>,
    ) -> Wake {
        let notify = Arc::new(Notify::new());
        let listening = Arc::new(AtomicBool::new(false));
        let url = match &source {
            WakeSource::Auto => store.listen_url().map(str::to_string),
            WakeSource::Url(u) => Some(u.clone()),
            WakeSource::Off => None,
        };
        let Some(url) = url else {
            let why = match source {
                WakeSource::Off => "LISTEN turned off".to_string(),
                _ => "the database is reached through a transaction-mode pooler and no direct LISTEN URL was given".to_string(),
            };
            observer.event(&WorkerEvent::Wake(&WakeMode::Polling { why }));
            return Wake {
                notify,
                listening,
                task: None,
            };
        };
        let task = tokio::spawn({
            let (notify, listening) = (notify.clone(), listening.clone());
            async move {
                loop {
                    match QueueListener::connect(&url, &store).await {
                        Ok(mut l) => {
                            listening.store(true, Ordering::Relaxed);
                            observer.event(&WorkerEvent::Wake(&WakeMode::Listening));
                            let why = loop {
                                match l.next().await {
                                    // `notify_one` keeps a permit when nobody waits yet, so a
                                    // notification between two claims is not lost.
                                    Ok(()) => notify.notify_one(),
                                    Err(e) => break e.to_string(),
                                }
                            };
                            listening.store(false, Ordering::Relaxed);
                            observer.event(&WorkerEvent::Wake(&WakeMode::Polling {
                                why: format!("the LISTEN connection failed: {why}"),
                            }));
                            // Runs queued while it was down: look now.
                            notify.notify_one();
                        }
                        Err(e) => {
                            observer.event(&WorkerEvent::Wake(&WakeMode::Polling {
                                why: format!("no LISTEN connection: {e}"),
                            }));
                            tokio::time::sleep(RELISTEN).await;
                        }
                    }
                }
            }
        });
        Wake {
            notify,
            listening,
            task: Some(task),
        }
    }

    pub(crate) fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    pub(crate) async fn notified(&self) {
        self.notify.notified().await
    }

    pub(crate) fn stop(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
