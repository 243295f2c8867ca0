//! Building and running the application: connect and migrate the store, load the master
//! key and signing keys, build the protocol `Provider`, bind the listener. Tests call
//! `Application::build` with port 0 and a fresh database.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::crypto::SecretHasher;
use crate::keys::KeyRing;
use crate::oauth::{Ports, Provider};
use crate::store::Store;
use crate::web::{self, AppState};

pub struct Application {
    listener: TcpListener,
    port: u16,
    router: web::Router,
    reloader: tokio::task::JoinHandle<()>,
    janitor: tokio::task::JoinHandle<()>,
    revocation_refresher: Option<tokio::task::JoinHandle<()>>,
    pub provider: Arc<Provider>,
    pub store: Store,
}

impl Application {
    /// Binds `settings.listen` and builds the application.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("failed to bind {}", settings.listen))?;
        Self::build_with_listener(settings, listener).await
    }

    /// Builds on an already bound listener (tests bind port 0 first, so that the issuer URL
    /// can name the real port).
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let master = settings.master_key()?;
        let hasher = SecretHasher::new(&master);
        let store = Store::connect(&settings, &master)
            .await
            .context("failed to open the database")?;
        store
            .migrate()
            .await
            .context("failed to migrate the database")?;
        let keys = KeyRing::load(
            Arc::new(store.clone()),
            master,
            settings.keys.retired_key_retention as i64,
        )
        .await
        .context("failed to load signing keys")?;
        let reloader =
            keys.spawn_reloader(Duration::from_secs(settings.keys.reload_interval.max(1)));
        let revocation_refresher = store
            .spawn_revocation_refresher()
            .await
            .context("failed to load the revoked access tokens")?;
        let janitor = spawn_janitor(
            store.clone(),
            Duration::from_secs(settings.tokens.purge_interval.max(1)),
        );
        let shared = Arc::new(store.clone());
        let provider = Arc::new(Provider::new(
            Arc::clone(&settings),
            Ports {
                clients: shared.clone(),
                replay: shared.clone(),
                revocations: shared.clone(),
                users: shared.clone(),
                sessions: shared.clone(),
                consents: shared.clone(),
                grants: shared.clone(),
                login_throttle: shared.clone(),
            },
            keys,
            hasher,
        ));
        let router = web::router(AppState {
            provider: Arc::clone(&provider),
            readiness: shared,
        });
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            router,
            reloader,
            janitor,
            revocation_refresher,
            provider,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        web::serve(self.listener, self.router, shutdown_signal()).await;
        self.reloader.abort();
        self.janitor.abort();
        if let Some(r) = self.revocation_refresher {
            r.abort();
        }
        Ok(())
    }
}

/// Deletes expired rows now and then, so that tables of short-lived records stay small.
/// Every node may run it; the deletes are idempotent.
fn spawn_janitor(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: skip it, so that start-up (and every node restarting
        // at once) does not begin with six DELETEs; the first purge comes one interval later.
        tick.tick().await;
        loop {
            tick.tick().await;
            match store.purge_expired(crate::oauth::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged expired records"),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "purging expired records failed")
                }
            }
        }
    })
}

/// `latchkey serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let issuer = settings.issuer_str();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), issuer, "latchkey listening");
    app.run_until_stopped().await
}

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
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
