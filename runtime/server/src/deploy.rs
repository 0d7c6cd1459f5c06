//! One process serving a small deployment: the API, and optionally workers executing what
//! it queues (`serve --workers N`), with one shutdown for both.

use crate::AppState;
use runproof_worker::{Worker, WorkerConfig, WorkerObserver, WorkerSummary};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long open requests (long-polls, step streams) get after a shutdown is asked for.
const HTTP_GRACE: Duration = Duration::from_secs(5);

pub struct ServeOptions {
    /// Largest request body accepted (413 above).
    pub max_body: usize,
    /// In-process workers, executing with the state's runner (which must hold a `worker/…`
    /// lease then).
    pub workers: Option<WorkerConfig>,
    pub worker_observer: Arc<dyn WorkerObserver>,
}

/// Serves `state` on `listener` until `shutdown` resolves (with its reason): then stops
/// accepting, gives open requests `HTTP_GRACE`, and drains the workers (their own grace).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    options: ServeOptions,
    shutdown: impl Future<Output = String>,
) -> std::io::Result<Option<WorkerSummary>> {
    let (stop, stopped) = watch::channel(None::<String>);
    let reason = |mut rx: watch::Receiver<Option<String>>| async move {
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                return "the server ended".to_string();
            }
        }
    };
    let worker = options.workers.map(|config| {
        let w = Worker::new(state.runner.clone(), config)
            .with_observer(options.worker_observer.clone());
        tokio::spawn(w.run(reason(stopped.clone())))
    });
    let app = crate::router(state, options.max_body);
    let http_stop = reason(stopped.clone());
    let mut http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                http_stop.await;
            })
            .await
    });
    tokio::select! {
        why = shutdown => {
            let _ = stop.send(Some(why));
        }
        ended = &mut http => {
            // The listener failed: stop the workers too, and say why.
            let _ = stop.send(Some("the HTTP server stopped".into()));
            if let Some(w) = worker { let _ = w.await; }
            return match ended {
                Ok(r) => r.map(|_| None),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
        }
    }
    // Streams and long-polls would hold a graceful shutdown open: bound it.
    if tokio::time::timeout(HTTP_GRACE, &mut http).await.is_err() {
        http.abort();
    }
    match worker {
        Some(w) => Ok(w.await.ok()),
        None => Ok(None),
    }
}
