//! Building and running the application: connect and migrate the store, load the master
//! key and signing keys, build the protocol `Provider`, bind the listener. Tests call
//! `Application::build` with port 0 and a fresh database.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::crypto::SecretHasher;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::oauth::{Ports, Provider};
use crate::store::Store;
use crate::web::{self, AppState};

pub struct Application {
    listener: TcpListener,
    port: u16,
    router: web::Router,
    /// The separate metrics listener (`metrics.listen`) and its router.
    admin: Option<(TcpListener, web::Router)>,
    shutting_down: Arc<AtomicBool>,
    reloader: tokio::task::JoinHandle<()>,
    janitor: tokio::task::JoinHandle<()>,
    postman: tokio::task::JoinHandle<()>,
    memory_release: tokio::task::JoinHandle<()>,
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
        // Before the database: a bad logo path or colour fails the start at once.
        let ui = Arc::new(load_ui(&settings)?);
        let master = settings.master_key()?;
        let hasher = SecretHasher::new(&master);
        let sealer = master.sealer();
        let store = Store::connect(&settings, &master)
            .await
            .context("failed to open the database")?;
        store
            .migrate()
            .await
            .context("failed to migrate the database")?;
        let policy = settings.rotation_policy();
        let keys = KeyRing::load(Arc::new(store.clone()), master, policy.retention)
            .await
            .context("failed to load signing keys")?;
        let reloader = keys.spawn_maintainer(
            Duration::from_secs(settings.keys.reload_interval.max(1)),
            Some(policy),
        );
        let revocation_refresher = store
            .spawn_revocation_refresher()
            .await
            .context("failed to load the revoked access tokens")?;
        let shared = Arc::new(store.clone());
        let passkeys =
            crate::oauth::passkeys::RelyingParty::from_settings(&settings, shared.clone())?;
        let provider = Arc::new(
            Provider::new(
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
                    two_factor: shared.clone(),
                    accounts: shared.clone(),
                },
                keys,
                hasher,
                sealer,
            )
            .with_passkeys(passkeys),
        );
        let janitor = spawn_janitor(
            store.clone(),
            Arc::clone(&provider.metrics),
            Duration::from_secs(settings.tokens.purge_interval.max(1)),
        );
        let postman = spawn_logout_postman(
            Arc::clone(&provider),
            Duration::from_secs(settings.tokens.logout_outbox_interval.max(1)),
        );
        let memory_release = spawn_memory_release(Arc::clone(&provider));
        let shutting_down = Arc::new(AtomicBool::new(false));
        let state = AppState {
            provider: Arc::clone(&provider),
            readiness: shared,
            shutting_down: Arc::clone(&shutting_down),
            ui,
        };
        let admin = match settings.metrics.listen {
            Some(addr) => {
                let l = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("failed to bind metrics.listen {addr}"))?;
                Some((l, web::admin_router(state.clone())))
            }
            None => None,
        };
        let router = web::router(state);
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            router,
            admin,
            shutting_down,
            reloader,
            janitor,
            postman,
            memory_release,
            revocation_refresher,
            provider,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `metrics.listen` listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.admin
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then reports not ready, stops accepting and finishes
    /// in-flight requests. The metrics listener keeps answering (`/readyz`: 503) until then.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let admin = self
            .admin
            .map(|(l, r)| tokio::spawn(web::serve(l, r, std::future::pending())));
        let flag = Arc::clone(&self.shutting_down);
        let stop = async move {
            stop.await;
            flag.store(true, Ordering::Relaxed);
        };
        web::serve(self.listener, self.router, stop).await;
        if let Some(admin) = admin {
            admin.abort();
        }
        self.reloader.abort();
        self.janitor.abort();
        self.postman.abort();
        self.memory_release.abort();
        if let Some(r) = self.revocation_refresher {
            r.abort();
        }
        Ok(())
    }
}

/// The pages' brand and message catalogues; warns about colours too faint to read (WCAG AA).
fn load_ui(settings: &Settings) -> anyhow::Result<web::Ui> {
    let theme =
        crate::branding::Theme::load(&settings.branding).context("invalid [branding] settings")?;
    for warning in &theme.contrast_warnings {
        tracing::warn!(warning = %warning, "branding colours fail WCAG AA contrast for text");
    }
    let catalogues = crate::i18n::Catalogues::load()?;
    Ok(web::Ui { theme, catalogues })
}

/// Frees the password hasher's working memory (19 MiB per core) once no sign-in has used it
/// for `PASSWORD_MEMORY_IDLE`: after a burst of sign-ins, an idle server goes back to its
/// idle size.
fn spawn_memory_release(provider: Arc<Provider>) -> tokio::task::JoinHandle<()> {
    const PASSWORD_MEMORY_IDLE: Duration = Duration::from_secs(60);
    spawn_every(PASSWORD_MEMORY_IDLE / 2, move || {
        let freed = provider.passwords.release_idle(PASSWORD_MEMORY_IDLE);
        if freed > 0 {
            tracing::debug!(buffers = freed, "freed idle password-hashing memory");
        }
        std::future::ready(())
    })
}

/// Runs `task` now and then every `every` (a late tick waits a whole interval, it does not
/// catch up), until aborted.
fn spawn_every<F, Fut>(every: Duration, mut task: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            task().await;
        }
    })
}

/// Delivers the back-channel logouts of sessions ended elsewhere (the CLI, another node
/// that stopped before delivering): the logout outbox, every `every`.
fn spawn_logout_postman(provider: Arc<Provider>, every: Duration) -> tokio::task::JoinHandle<()> {
    spawn_every(every, move || {
        let provider = Arc::clone(&provider);
        async move {
            provider.deliver_pending_logouts().await;
        }
    })
}

/// Deletes expired rows now and then, so that tables of short-lived records stay small.
/// Every node runs it; on PostgreSQL a node skips its turn while another one is cleaning
/// (see `Store::purge_expired`). Deleted-row counts go to the metrics.
fn spawn_janitor(
    store: Store,
    metrics: Arc<Metrics>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: skip it, so that start-up (and every node restarting
        // at once) does not begin with six DELETEs; the first purge comes one interval later.
        tick.tick().await;
        loop {
            tick.tick().await;
            match store.purge_expired(crate::oauth::now()).await {
                Ok(None) => tracing::debug!("cleanup skipped: another node is running it"),
                Ok(Some(deleted)) => {
                    metrics.cleanup_ran();
                    for &(table, rows) in &deleted {
                        metrics.cleanup_deleted(table, rows);
                        if rows > 0 {
                            tracing::info!(table, rows, "deleted expired records");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "deleting expired records failed")
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
