//! `latchkey demo`: a small relying-party web app on its own port, to see "Sign in with
//! Latchkey" work end to end without writing a client. It is a third party to the server:
//! it talks to it only over HTTP through the public endpoints (`rp.rs`) and shares no code
//! with `oauth/`, `web/` or `store/`. Every page says it is a demo, and the command refuses
//! to run for an issuer that is not on this machine.
//!
//! `setup.rs` is the operator half (the demo user and client, through `admin`); `pages.rs`
//! the app's handlers and views.
mod pages;
mod rp;
mod setup;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use rp::{Metadata, Pending, RelyingParty, Tokens};
pub use setup::{DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_USERNAME, DemoClient, provision};

/// Most sign-ins in progress plus signed-in sessions kept in memory.
const MAX_ENTRIES: usize = 10_000;
/// How long a started sign-in may take, and how long a demo session lasts.
const PENDING_TTL: Duration = Duration::from_secs(600);
const SESSION_TTL: Duration = Duration::from_secs(3600);

/// A person signed in to the demo app.
#[derive(Clone)]
pub struct DemoSession {
    pub id_token_claims: serde_json::Value,
    pub userinfo: serde_json::Value,
    pub tokens: Tokens,
    /// Protects the refresh and sign-out forms.
    pub csrf: String,
    pub refreshed: u32,
}

/// Entries that expire; bounded so that a flood of sign-in starts cannot grow it.
struct Expiring<T> {
    map: HashMap<String, (Instant, T)>,
    ttl: Duration,
}

impl<T: Clone> Expiring<T> {
    fn new(ttl: Duration) -> Self {
        Self {
            map: HashMap::new(),
            ttl,
        }
    }

    /// Adds or replaces an entry; `false` when full of live entries (a replacement always
    /// fits).
    fn insert(&mut self, key: String, value: T) -> bool {
        let new = !self.map.contains_key(&key);
        if new && self.map.len() >= MAX_ENTRIES {
            let now = Instant::now();
            self.map.retain(|_, (at, _)| *at > now);
            if self.map.len() >= MAX_ENTRIES {
                return false;
            }
        }
        self.map.insert(key, (Instant::now() + self.ttl, value));
        true
    }

    fn get(&self, key: &str) -> Option<T> {
        self.map
            .get(key)
            .filter(|(at, _)| *at > Instant::now())
            .map(|(_, v)| v.clone())
    }

    fn take(&mut self, key: &str) -> Option<T> {
        self.map
            .remove(key)
            .filter(|(at, _)| *at > Instant::now())
            .map(|(_, v)| v)
    }
}

pub(crate) struct DemoState {
    rp: RelyingParty,
    /// The server's origin, which the sign-out redirect goes to (CSP `form-action`).
    issuer_origin: String,
    /// Where the server sends the browser back after RP-initiated logout (registered).
    post_logout_redirect_uri: String,
    pending: Mutex<Expiring<Pending>>,
    sessions: Mutex<Expiring<DemoSession>>,
}

/// The demo app, bound and ready to serve.
pub struct DemoApp {
    listener: TcpListener,
    router: Router,
    pub address: SocketAddr,
}

impl DemoApp {
    /// `redirect_uri` must be `http://<this listener>/callback`, as registered.
    pub fn build(listener: TcpListener, issuer: &str, client: &DemoClient) -> anyhow::Result<Self> {
        let address = listener.local_addr()?;
        let issuer_origin = url::Url::parse(issuer)
            .context("the issuer is not a URL")?
            .origin()
            .ascii_serialization();
        let state = Arc::new(DemoState {
            rp: RelyingParty::new(
                issuer,
                &client.client_id,
                &client.client_secret,
                &client.redirect_uri,
            )?,
            issuer_origin,
            post_logout_redirect_uri: post_logout_redirect_uri_for(&client.redirect_uri),
            pending: Mutex::new(Expiring::new(PENDING_TTL)),
            sessions: Mutex::new(Expiring::new(SESSION_TTL)),
        });
        let router = Router::new()
            .route("/", get(pages::home))
            .route("/signin", get(pages::sign_in))
            .route("/callback", get(pages::callback))
            .route("/refresh", post(pages::refresh))
            .route("/signout", post(pages::sign_out))
            .route("/demo.css", get(pages::stylesheet))
            .fallback(pages::not_found)
            .with_state(state);
        Ok(Self {
            listener,
            router,
            address,
        })
    }

    /// The one URL to open.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        crate::web::serve(self.listener, self.router, shutdown).await;
    }
}

/// The redirect URI of a demo app listening on `addr`.
pub fn redirect_uri_for(addr: SocketAddr) -> String {
    format!("http://{addr}/callback")
}

/// The post-logout redirect URI of the demo app whose redirect URI is `redirect_uri`: its
/// home page.
pub fn post_logout_redirect_uri_for(redirect_uri: &str) -> String {
    format!("{}/", redirect_uri.trim_end_matches("/callback"))
}

/// Whether `issuer` is on this machine: the demo's user has a published password, so it
/// must never be reachable as a real issuer.
pub fn is_local_issuer(issuer: &url::Url) -> bool {
    match issuer.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_issuers_may_run_the_demo() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(is_local_issuer(&url::Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "https://login.example.com",
            "http://10.0.0.5:8080",
            "http://0.0.0.0:8080",
        ] {
            assert!(!is_local_issuer(&url::Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn expiring_entries_are_taken_once_and_bounded() {
        let mut e = Expiring::new(Duration::from_secs(60));
        assert!(e.insert("a".into(), 1));
        assert_eq!(e.get("a"), Some(1));
        assert_eq!(e.take("a"), Some(1));
        assert_eq!(e.take("a"), None);
        let mut expired = Expiring::new(Duration::ZERO);
        assert!(expired.insert("b".into(), 2));
        assert_eq!(expired.get("b"), None);
    }
}
