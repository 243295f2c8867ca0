//! A scripted browser for the sign-in flow: a cookie jar, no automatic redirects, and
//! just enough HTML reading to fill in the login and consent forms.
use latchkey::admin::clients::NewClient;
use latchkey::admin::users::NewUser;
use reqwest::header::LOCATION;

use crate::helpers::{TestApp, urlencode};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Browser {
    pub http: reqwest::Client,
}

/// A page or a redirect.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The value of a named `<input>` on the page.
    pub fn input(&self, name: &str) -> Option<String> {
        for tag in self.body.split("<input").skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            if attr(tag, "name").as_deref() == Some(name) {
                return Some(attr(tag, "value").unwrap_or_default());
            }
        }
        None
    }

    pub fn is_login(&self) -> bool {
        self.status == 200 && self.body.contains("action=\"/login\"")
    }

    pub fn is_consent(&self) -> bool {
        self.status == 200 && self.body.contains("action=\"/consent\"")
    }

    /// The query parameters of the redirect back to the client.
    pub fn callback(&self) -> std::collections::HashMap<String, String> {
        self.callback_to(REDIRECT)
    }

    /// The query parameters of a redirect that must go to `redirect_uri`.
    pub fn callback_to(&self, redirect_uri: &str) -> std::collections::HashMap<String, String> {
        let loc = self.location.as_deref().expect("a redirect");
        assert!(
            loc.starts_with(&format!("{redirect_uri}?")),
            "redirected to {loc}"
        );
        url::Url::parse(loc)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&amp;", "&")
            .replace("&#x2B;", "+")
            .replace("&#43;", "+")
            .replace("&#x3D;", "=")
            .replace("&#61;", "="),
    )
}

impl Browser {
    pub fn new() -> Self {
        Self::with_headers(reqwest::header::HeaderMap::new())
    }

    /// A browser whose requests reach the server through a proxy that reports `ip` as the
    /// client (`X-Forwarded-For`); the app must trust 127.0.0.1 as a proxy.
    pub fn from_address(ip: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        Self::with_headers(headers)
    }

    fn with_headers(headers: reqwest::header::HeaderMap) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .default_headers(headers)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        Page {
            status,
            location,
            body: resp.text().await.unwrap(),
            headers,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        Self::page(self.http.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        Self::page(
            self.http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Submits the login form shown on `page`.
    pub async fn login(&self, app: &TestApp, page: &Page, username: &str, password: &str) -> Page {
        assert!(page.is_login(), "expected the login page, got {page:?}");
        let csrf = page.input("csrf_token").expect("csrf_token field");
        let req = page.input("req").expect("req field");
        self.post(
            &app.url("/login"),
            &[
                ("csrf_token", &csrf),
                ("req", &req),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Answers the consent page shown on `page`.
    pub async fn consent(&self, app: &TestApp, page: &Page, decision: &str) -> Page {
        assert!(page.is_consent(), "expected the consent page, got {page:?}");
        let csrf = page.input("csrf_token").expect("csrf_token field");
        let req = page.input("req").expect("req field");
        self.post(
            &app.url("/consent"),
            &[("csrf_token", &csrf), ("req", &req), ("decision", decision)],
        )
        .await
    }
}

/// Registers a confidential web app (authorization_code + refresh_token) and returns its secret.
pub async fn web_client(app: &TestApp, id: &str) -> String {
    app.create_client(NewClient {
        id: id.into(),
        name: Some("Example Web App".into()),
        redirect_uris: vec![REDIRECT.into()],
        ..Default::default()
    })
    .await
    .expect("secret")
}

pub async fn public_client(app: &TestApp, id: &str) {
    app.create_client(NewClient {
        id: id.into(),
        name: Some("Example SPA".into()),
        public: true,
        redirect_uris: vec![REDIRECT.into()],
        ..Default::default()
    })
    .await;
}

pub async fn user(app: &TestApp, username: &str) -> String {
    latchkey::admin::users::create(
        &app.store,
        NewUser {
            username: username.into(),
            password: PASSWORD.into(),
            email: Some(format!("{username}@example.com")),
            name: Some(format!("{username} Example")),
            email_verified: true,
        },
    )
    .await
    .expect("create user")
    .id
}

/// From now on the client `client_id` requires two factors (`latchkey clients update ID
/// --require-two-factor`).
pub async fn require_two_factors(app: &TestApp, client_id: &str) {
    let client = latchkey::admin::clients::update(
        &app.store,
        client_id,
        &latchkey::admin::clients::ClientUpdate {
            require_two_factor: Some(true),
        },
    )
    .await
    .expect("update the client");
    assert!(client.require_two_factor);
}

/// PKCE pair: (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = latchkey::crypto::random_token();
    let challenge = latchkey::crypto::sha256_b64url(verifier.as_bytes());
    (verifier, challenge)
}

/// An authorization URL with sensible defaults, plus `extra` query text.
pub fn authorize_url(app: &TestApp, client_id: &str, challenge: &str, extra: &str) -> String {
    format!(
        "{}?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid+profile+email+offline_access&state=st-123&nonce=n-456&code_challenge={challenge}&code_challenge_method=S256{extra}",
        app.url("/authorize"),
        urlencode(REDIRECT)
    )
}

/// Runs login and consent for `alice` and returns the callback parameters.
pub async fn sign_in(
    app: &TestApp,
    browser: &Browser,
    url: &str,
    username: &str,
) -> std::collections::HashMap<String, String> {
    let page = browser.get(url).await;
    let mut page = if page.is_login() {
        browser.login(app, &page, username, PASSWORD).await
    } else {
        page
    };
    if page.is_consent() {
        page = browser.consent(app, &page, "allow").await;
    }
    assert_eq!(page.status, 303, "{page:?}");
    page.callback()
}

/// Exchanges a code at the token endpoint with client_secret_basic.
pub async fn exchange(
    app: &TestApp,
    client: (&str, &str),
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
        urlencode(code),
        urlencode(REDIRECT)
    );
    app.post_form("/token", &body, Some(client)).await
}

pub async fn refresh(app: &TestApp, client: (&str, &str), token: &str) -> reqwest::Response {
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        urlencode(token)
    );
    app.post_form("/token", &body, Some(client)).await
}

/// A fresh app with the `web` client and the user `alice`, and a browser on the login page
/// of a default authorization request.
pub async fn at_login_page() -> (TestApp, Browser, Page) {
    let app = crate::helpers::spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&app, "web", &challenge, ""))
        .await;
    (app, browser, page)
}

/// A fresh PKCE pair and the default authorization URL for `client_id`, signed in and
/// approved by `username` in `browser`. Returns (callback parameters, verifier, challenge).
pub async fn sign_in_with_pkce(
    app: &TestApp,
    browser: &Browser,
    client_id: &str,
    username: &str,
) -> (std::collections::HashMap<String, String>, String, String) {
    let (verifier, challenge) = pkce();
    let q = sign_in(
        app,
        browser,
        &authorize_url(app, client_id, &challenge, ""),
        username,
    )
    .await;
    (q, verifier, challenge)
}

/// The `openidconnect` crate's client as a relying party would build it: discovery, client
/// `client_id` with `secret`, the test redirect URI.
pub type OidcClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Signs `username` in to `client_id` in `browser` and lets the `openidconnect` client
/// exchange the code. Returns the client, its HTTP client and the token response.
pub async fn oidc_sign_in(
    app: &TestApp,
    browser: &Browser,
    (client_id, secret): (&str, &str),
    username: &str,
) -> (
    OidcClient,
    openidconnect::reqwest::Client,
    openidconnect::core::CoreTokenResponse,
) {
    use openidconnect::core::CoreProviderMetadata;
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, IssuerUrl, PkceCodeVerifier, RedirectUrl,
    };
    let (q, verifier, _) = sign_in_with_pkce(app, browser, client_id, username).await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = OidcClient::from_provider_metadata(
        meta,
        ClientId::new(client_id.into()),
        Some(ClientSecret::new(secret.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http)
        .await
        .expect("code exchange");
    (client, http, tokens)
}
