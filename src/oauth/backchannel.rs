//! OpenID Connect Back-Channel Logout 1.0: when a session ends, every client that was granted
//! something in it (grants record the session's `sid`, in the database, so any node finds
//! them) and registered a `backchannel_logout_uri` receives a signed logout token (section
//! 2.4) by POST (section 2.5). Deliveries run in the background with a timeout and a bounded
//! number of retries with backoff; the person's sign-out never waits for them. Connections
//! follow the same outbound policy as client `jwks_uri` fetches (`keys::OutboundPolicy`).
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use url::Url;

use super::model::Client;
use super::ports::EndedSession;
use super::{Provider, now};
use crate::crypto::random_token;
use crate::domain::SigningAlg;
use crate::keys::{OutboundPolicy, guarded_client};

/// Section 2.6: the event that makes a JWT a logout token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Section 2.4: explicit typing of logout tokens.
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// Logout tokens are for immediate use (section 2.4 recommends a short lifetime).
const TOKEN_TTL: i64 = 120;
/// Attempts per delivery, and the wait before the second one (doubled each time after).
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP client for deliveries: timeout, no redirects, no proxy, guarded resolver.
#[derive(Clone)]
pub struct LogoutDelivery {
    http: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl LogoutDelivery {
    pub fn new(policy: OutboundPolicy) -> Self {
        let policy = Arc::new(policy);
        let http = guarded_client(&policy, TIMEOUT);
        Self { http, policy }
    }

    /// Posts `logout_token` to `uri` in the background, retrying a bounded number of times.
    fn spawn(&self, client_id: String, uri: Url, logout_token: String) {
        let this = self.clone();
        tokio::spawn(async move { this.deliver(&client_id, &uri, &logout_token).await });
    }

    async fn deliver(&self, client_id: &str, uri: &Url, logout_token: &str) {
        if self.policy.check_url(uri).is_err() {
            tracing::warn!(
                client_id,
                "backchannel_logout_uri refused by the outbound policy"
            );
            return;
        }
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .http
                .post(uri.clone())
                .form(&[("logout_token", logout_token)])
                .send()
                .await;
            // Section 2.8: 200 (or 204) means the logout succeeded.
            match sent {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(client_id, attempt, "back-channel logout delivered");
                    return;
                }
                Ok(r) => tracing::warn!(
                    client_id,
                    attempt,
                    status = r.status().as_u16(),
                    "back-channel logout refused"
                ),
                Err(e) => {
                    tracing::warn!(client_id, attempt, error = %e, "back-channel logout failed")
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        tracing::warn!(client_id, "back-channel logout given up");
    }
}

impl Provider {
    /// Sends logout tokens for the ended session to its clients: those recorded when it
    /// ended, or for an entry queued without them, those its grants name. Failures are
    /// logged and never stop the sign-out.
    pub(super) async fn notify_session_ended(&self, ended: &EndedSession) {
        let sid = self.sid_of(&ended.id_hash);
        let ids = match &ended.client_ids {
            Some(ids) => ids.clone(),
            None => match self.grants.session_clients(&sid).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "cannot list the clients of an ended session"
                    );
                    return;
                }
            },
        };
        for id in ids {
            let Ok(client_id) = crate::domain::ClientId::parse(&id) else {
                continue;
            };
            let client = match self.clients.find_client(&client_id).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(
                        client_id = id,
                        error = format!("{e:#}"),
                        "cannot load a client for back-channel logout"
                    );
                    continue;
                }
            };
            let Some(uri) = client.backchannel_logout_uri.clone() else {
                continue;
            };
            match self.logout_token(&client, &ended.user_id, &sid) {
                Ok(token) => self.logout_delivery.spawn(id, uri, token),
                Err(e) => tracing::warn!(
                    client_id = id,
                    error = format!("{e:#}"),
                    "cannot sign a logout token"
                ),
            }
        }
    }

    /// Section 2.4: `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`, `events`; never `nonce`.
    /// Signed like the client's ID tokens.
    fn logout_token(&self, client: &Client, sub: &str, sid: &str) -> anyhow::Result<String> {
        let iat = now();
        let claims = json!({
            "iss": self.issuer(),
            "aud": client.id.as_str(),
            "iat": iat,
            "exp": iat + TOKEN_TTL,
            "jti": random_token(),
            "sub": sub,
            "sid": sid,
            "events": { LOGOUT_EVENT: {} },
        });
        let alg = client.id_token_alg.unwrap_or(SigningAlg::RS256);
        self.keys.sign(alg, LOGOUT_TOKEN_TYP, &claims)
    }
}
