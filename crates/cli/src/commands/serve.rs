//! `latchkey serve`.

use std::sync::Arc;

use anyhow::Context;
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_server::janitor::{self, JanitorSettings};
use latchkey_server::notices::Caches;
use latchkey_server::AppState;

use crate::config::Config;
use crate::wiring;

/// `counting`: where this node counts password attempts (shared on PostgreSQL, so that nodes
/// together allow each limit once).
pub async fn run<S: Store>(
    config: Config,
    store: Arc<S>,
    counting: Counting,
) -> anyhow::Result<()> {
    let services = wiring::build(&config, store, counting).await?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let state = AppState::new(&services, Some(metrics))
        .with_proxies(config.proxies.clone())
        .with_web(config.web.clone());
    let app = latchkey_server::router(state);
    let janitor_settings = JanitorSettings {
        interval: config.janitor_interval,
        batch: config.janitor_batch,
        max_jwt_lifetime: config
            .tokens
            .jwt_lifetime
            .max(config.tokens.service_jwt_max_lifetime),
    };
    tokio::spawn(janitor::run(
        services.tokens.clone(),
        services.keys.clone(),
        services.authz.clone(),
        janitor_settings,
    ));
    tokio::spawn(Caches::of(&services).follow());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (setting `listen`)", config.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(
        listen = %local,
        database = %latchkey_store::redact(&config.database_url),
        issuer = %config.tokens.issuer,
        kid = %services.tokens.keys().signer().kid(),
        "latchkey is serving"
    );
    let (authz, feed) = (services.authz.clone(), services.feed.clone());
    let shutdown = async move {
        shutdown_signal().await;
        // Waiting feed polls answer now instead of holding up the graceful shutdown.
        authz.close_feed();
        feed.close();
    };
    latchkey_server::serve_with(listener, app, shutdown, config.http)
        .await
        .context("the server stopped with an error")?;
    tracing::info!("latchkey stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
