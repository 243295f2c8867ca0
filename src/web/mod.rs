//! HTTP: the axum router, one small file per endpoint, extractors and the mapping of
//! protocol errors to responses. Handlers extract, call `oauth::Provider`, and map; no
//! protocol decisions are made here.
mod account;
mod account_passkeys;
mod assets;
mod authorize;
mod client_addr;
mod discovery;
mod error;
mod extract;
mod forward_auth;
mod health;
mod jwks;
mod logout;
mod metrics;
mod pages;
mod passkeys;
mod qr;
mod request_body;
mod security_headers;
mod serve;
mod signin;
mod token;
mod two_factor;
mod ui;
mod userinfo;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{any, get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::oauth::Provider;
use crate::oauth::ports::Readiness;

pub use client_addr::ClientAddr;
pub use error::ApiError;
pub use serve::serve;
pub use ui::Ui;

/// The application as one service, for `serve`.
pub use axum::Router;

#[derive(Clone)]
pub struct AppState {
    pub provider: Arc<Provider>,
    pub readiness: Arc<dyn Readiness>,
    /// Set once shutdown has begun: `/readyz` then answers 503 so that load balancers stop
    /// sending new requests while those in flight finish.
    pub shutting_down: Arc<std::sync::atomic::AtomicBool>,
    /// Brand and message catalogues of the human pages.
    pub ui: Arc<Ui>,
}

/// Browser apps (public clients) call these cross-origin; no cookies are involved, so any
/// origin may (RFC 8252-style SPAs, OpenID Connect discovery from the browser).
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
        ])
        .max_age(Duration::from_secs(3600))
}

/// The main router. With `metrics.listen` unset, it also serves `/metrics` (to the
/// addresses in `metrics.allow`).
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route(
            "/jwks",
            jwks::route(state.provider.settings.keys.jwks_max_age),
        )
        .route("/token", post(token::token))
        .route("/revoke", post(token::revoke))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .layer(cors());
    let app = Router::new()
        .merge(api)
        .route("/introspect", post(token::introspect))
        .route(
            "/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(
            "/login",
            get(authorize::form_page_get).post(authorize::login_post),
        )
        .route(
            "/consent",
            get(authorize::form_page_get).post(authorize::consent_post),
        )
        .route("/signin", get(signin::sign_in_get))
        .route("/login/second-factor", post(two_factor::code_post))
        .route(
            "/login/second-factor/passkey",
            post(two_factor::passkey_post),
        )
        .route(
            "/login/second-factor/passkey/options",
            post(two_factor::passkey_options),
        )
        .route("/login/enrol", post(two_factor::enrol_post))
        .route("/login/continue", post(two_factor::continue_post))
        .route("/account", get(account::account_get))
        .route("/account/profile", post(account::profile_post))
        .route("/account/password", post(account::password_post))
        .route("/account/apps/revoke", post(account::revoke_post))
        .route("/account/sessions/end", post(account::end_session_post))
        .route("/account/sessions/end-all", post(account::end_all_post))
        .route("/account/two-factor", get(two_factor::two_factor_get))
        .route(
            "/account/two-factor/enrol",
            post(two_factor::account_enrol_post),
        )
        .route(
            "/account/two-factor/recovery-codes",
            post(two_factor::recovery_codes_post),
        )
        .route("/account/two-factor/remove", post(two_factor::remove_post))
        .route("/logout", get(logout::logout_get).post(logout::logout_post))
        .route("/login/passkey", post(passkeys::login_post))
        .route("/login/passkey/options", post(passkeys::sign_in_options))
        .route(
            "/account/passkeys",
            get(account_passkeys::page_get).post(account_passkeys::register),
        )
        .route("/account/passkeys/options", post(account_passkeys::options))
        .route(
            "/account/passkeys/{id}/rename",
            post(account_passkeys::rename),
        )
        .route(
            "/account/passkeys/{id}/delete",
            post(account_passkeys::delete),
        )
        .route("/forward-auth", any(forward_auth::forward_auth))
        .route("/forward-auth/{*path}", any(forward_auth::forward_auth))
        .route("/static/{file}", get(assets::asset))
        .route("/branding/{file}", get(assets::branding_asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    let app = if state.provider.settings.metrics.listen.is_none() {
        app.route("/metrics", get(metrics::metrics_public))
    } else {
        app
    };
    with_common_layers(
        app.fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") }),
        state,
    )
}

/// The router of the separate `metrics.listen` listener: `/metrics` and the health checks.
pub fn admin_router(state: AppState) -> Router {
    let app = Router::new()
        .route("/metrics", get(metrics::metrics_admin))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") });
    with_common_layers(app, state)
}

fn with_common_layers(app: Router<AppState>, state: AppState) -> Router {
    let https = state.provider.settings.is_https();
    // One `ServiceBuilder`, given to `Router::layer` once: it wraps every route in a box per
    // call, and each request clones and polls each box, so a call per layer would cost a box
    // per layer a request. The first layer named is the outermost: metrics see every answer, the
    // timeout's, the panic handler's and the body bounds' (413, 408: `request_body`)
    // included. The panic handler's answer gets the security headers itself (it is made
    // outside their layer).
    app.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                metrics::track,
            ))
            .layer(TraceLayer::new_for_http())
            .layer(CatchPanicLayer::custom(move |panic| {
                security_headers::add(error::panic_response(panic), https)
            }))
            .layer(security_headers::layer(https))
            .layer(DefaultBodyLimit::max(extract::MAX_BODY))
            .layer(request_body::DeadlineLayer::new(
                request_body::BODY_READ_TIMEOUT,
            ))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                Duration::from_secs(30),
            )),
    )
    .with_state(state)
}
