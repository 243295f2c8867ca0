//! The operator half of the demo: the demo person and the demo relying-party client,
//! registered through `admin` exactly as `latchkey users create` / `clients create` would,
//! and made again on every start (idempotent). The demo app itself never calls this.
use crate::admin::AdminError;
use crate::admin::clients::{self, NewClient};
use crate::admin::users::{self, NewUser};
use crate::store::Store;

pub const DEMO_CLIENT_ID: &str = "latchkey-demo";
pub const DEMO_USERNAME: &str = "demo";
/// Published in the README and on the demo page: the demo refuses to run on a public issuer.
pub const DEMO_PASSWORD: &str = "demo-password";

/// The demo client's credentials, for the demo app.
pub struct DemoClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

/// Makes sure the demo user (with the published password) and the demo client (with this
/// redirect URI and a fresh secret) exist.
pub async fn provision(store: &Store, redirect_uri: &str) -> Result<DemoClient, AdminError> {
    match users::set_password(store, DEMO_USERNAME, DEMO_PASSWORD).await {
        Ok(()) => {}
        Err(AdminError::NotFound(_)) => {
            users::create(
                store,
                NewUser {
                    username: DEMO_USERNAME.into(),
                    password: DEMO_PASSWORD.into(),
                    email: Some("demo@example.com".into()),
                    email_verified: true,
                    name: Some("Demo Person".into()),
                },
            )
            .await?;
        }
        Err(e) => return Err(e),
    }
    let post_logout = super::post_logout_redirect_uri_for(redirect_uri);
    let same_redirect = match clients::get(store, DEMO_CLIENT_ID).await {
        Ok(c) => Some(
            c.redirect_uris.iter().any(|u| u.as_str() == redirect_uri)
                && c.post_logout_redirect_uris
                    .iter()
                    .any(|u| u.as_str() == post_logout),
        ),
        Err(AdminError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let client_secret = match same_redirect {
        Some(true) => clients::rotate_secret(store, DEMO_CLIENT_ID).await?,
        other => {
            if other.is_some() {
                // Another demo port than last time (or a registration from an older
                // version): register it afresh.
                clients::delete(store, DEMO_CLIENT_ID).await?;
            }
            clients::create(
                store,
                NewClient {
                    id: DEMO_CLIENT_ID.into(),
                    name: Some("Latchkey demo app".into()),
                    redirect_uris: vec![redirect_uri.into()],
                    post_logout_redirect_uris: vec![post_logout.clone()],
                    scopes: vec!["openid profile email offline_access".into()],
                    ..NewClient::default()
                },
            )
            .await?
            .generated_secret
            .ok_or_else(|| AdminError::invalid("the demo client got no secret"))?
        }
    };
    Ok(DemoClient {
        client_id: DEMO_CLIENT_ID.into(),
        client_secret,
        redirect_uri: redirect_uri.into(),
    })
}
