use latchkey::admin::clients::NewClient;
use latchkey::config::Settings;
use latchkey::crypto::MasterKey;
use latchkey::startup::Application;
use latchkey::store::Store;
use latchkey::store::scratch::ScratchSchema;
use sea_orm::Database;
use secrecy::SecretString;
use serde_json::Value;

/// A running server on a fresh database.
pub struct TestApp {
    pub address: String,
    pub store: Store,
    pub http: reqwest::Client,
    pub master_key: String,
    /// Kept so the database lives (and is dropped) with the app; `None` for a second node.
    _db: Option<TestDb>,
    db_url: String,
}

/// The database of one test: a temporary SQLite file, or a PostgreSQL schema created for
/// this test and dropped afterwards (`latchkey::store::scratch`).
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<ScratchSchema>,
}

impl TestDb {
    pub async fn new() -> Self {
        match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let schema = ScratchSchema::create(&admin_url)
                    .await
                    .expect("create a test schema in LATCHKEY_TEST_DATABASE_URL");
                Self {
                    url: schema.url.clone(),
                    _dir: None,
                    pg: Some(schema),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/latchkey.db?mode=rwc", dir.path().display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
        }
    }
}

impl TestDb {
    /// A database the test manages itself (nothing is created or dropped here).
    pub fn at(url: String) -> Self {
        Self {
            url,
            _dir: None,
            pg: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(schema) = self.pg.take() {
            // Drop runs inside the test's runtime; use a thread with its own runtime.
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(schema.drop())
            })
            .join();
            if !std::thread::panicking() {
                dropped
                    .expect("dropping the test schema panicked")
                    .expect("drop the test schema");
            }
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::new().await;
    let master_key = MasterKey::generate().to_base64();
    spawn_app_on(db, master_key, configure).await
}

/// Starts a server on an existing database (e.g. one the CLI wrote to).
pub async fn spawn_app_on(
    db: TestDb,
    master_key: String,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let url = db.url.clone();
    let mut app = spawn_node(&url, master_key, None, configure).await;
    app._db = Some(db);
    app
}

/// One server process on `db_url`. With `issuer`, it is another node of that issuer (behind
/// the same name in production); otherwise its own address is the issuer.
async fn spawn_node(
    db_url: &str,
    master_key: String,
    issuer: Option<&str>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let port = listener.local_addr().unwrap().port();
    let address = format!("http://127.0.0.1:{port}");
    let mut settings = Settings {
        listen: listener.local_addr().unwrap(),
        issuer: url::Url::parse(issuer.unwrap_or(&address)).unwrap(),
        database_url: SecretString::from(db_url.to_owned()),
        database_max_connections: 5,
        master_key: Some(SecretString::from(master_key.clone())),
        ..Settings::default()
    };
    settings.keys.reload_interval = 1;
    settings.cache.revocation_refresh = 1;
    settings.cache.client_ttl = 1;
    configure(&mut settings);
    let app = Application::build_with_listener(settings, listener)
        .await
        .expect("failed to build the application");
    let store = app.store.clone();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        store,
        http,
        master_key,
        _db: None,
        db_url: db_url.to_owned(),
    }
}

impl TestApp {
    /// Whether `check` comes true within the staleness bound of the per-node caches (1 s in
    /// tests, see `cache.*`) plus a margin for a busy machine: for changes made on another
    /// node, which this one may see only after its next reload.
    pub async fn eventually<F, Fut>(&self, mut check: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if check().await {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Another node of the same deployment: same database, master key and issuer, its own
    /// process state and port.
    pub async fn second_node(&self) -> TestApp {
        spawn_node(
            &self.db_url,
            self.master_key.clone(),
            Some(&self.address),
            |_| {},
        )
        .await
    }

    /// This app's database, for another node or process.
    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// The same deployment seen through another server (a process started by the test) at
    /// `address`: requests go there, the store is this app's.
    pub fn through(&self, address: &str) -> TestApp {
        TestApp {
            address: address.to_owned(),
            store: self.store.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            master_key: self.master_key.clone(),
            _db: None,
            db_url: self.db_url.clone(),
        }
    }

    /// Rows in a table, read over a connection of its own (to prove what a request stored).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let conn = Database::connect(&self.db_url).await.expect("connect");
        let n = count_rows_on(&conn, table).await;
        conn.close().await.ok();
        n
    }

    /// Row counts of every table a request could write to: compare before and after an
    /// attack to prove nothing was stored or issued.
    pub async fn stored(&self) -> Vec<(&'static str, i64)> {
        let mut counts = Vec::new();
        for table in [
            "clients",
            "users",
            "sessions",
            "consents",
            "grants",
            "authorization_codes",
            "refresh_tokens",
            "grant_access_tokens",
            "revoked_tokens",
            "client_assertion_jtis",
            "client_exchange_policies",
            "totp_authenticators",
            "recovery_codes",
            "passkeys",
            "passkey_ceremonies",
        ] {
            counts.push((table, self.count_rows(table).await));
        }
        counts
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Registers a confidential client_credentials client and returns its generated secret.
    pub async fn create_service_client(&self, id: &str, scopes: &[&str]) -> String {
        self.create_client(NewClient {
            id: id.into(),
            grant_types: vec!["client_credentials".into()],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
        .expect("generated secret")
    }

    /// Registers any client; returns the generated secret, if one was generated.
    pub async fn create_client(&self, new: NewClient) -> Option<String> {
        latchkey::admin::clients::create(&self.store, new)
            .await
            .expect("create client")
            .generated_secret
    }

    pub async fn post_form(
        &self,
        path: &str,
        body: &str,
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some((u, p)) = basic {
            req = req.basic_auth(u, Some(p));
        }
        req.send().await.expect("request")
    }

    /// Asks for a client_credentials token with client_secret_basic.
    pub async fn client_credentials_request(
        &self,
        id: &str,
        secret: &str,
        extra: &str,
    ) -> reqwest::Response {
        let body = format!("grant_type=client_credentials{extra}");
        self.post_form("/token", &body, Some((id, secret))).await
    }

    /// Gets a client_credentials token with client_secret_basic; returns the raw response JSON.
    pub async fn client_credentials_token(&self, id: &str, secret: &str, extra: &str) -> Value {
        let resp = self.client_credentials_request(id, secret, extra).await;
        assert_eq!(resp.status(), 200, "token request failed");
        resp.json().await.unwrap()
    }

    pub async fn introspect(&self, token: &str, caller: (&str, &str)) -> Value {
        let body = format!("token={}", urlencode(token));
        let resp = self.post_form("/introspect", &body, Some(caller)).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Revokes an access token (RFC 7009) as `caller`, with the type hint, as a client sends
    /// it (the oauth2 crate revokes only over https, so this is sent by hand).
    pub async fn revoke_access_token(
        &self,
        token: &str,
        caller: (&str, &str),
    ) -> reqwest::Response {
        let body = format!("token={}&token_type_hint=access_token", urlencode(token));
        self.post_form("/revoke", &body, Some(caller)).await
    }

    /// A JSON document served at `path`.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The OpenID Connect discovery document.
    pub async fn openid_configuration(&self) -> Value {
        self.get_json("/.well-known/openid-configuration").await
    }

    pub async fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        self.get_json("/jwks").await
    }

    /// Verifies a JWT with the `jsonwebtoken` crate against the published JWKS, independently
    /// of the server's own code. Returns (header, claims).
    pub async fn verify_jwt(&self, token: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
        let header = jsonwebtoken::decode_header(token).expect("JWT header");
        let jwks = self.jwks().await;
        let kid = header.kid.clone().expect("kid in header");
        let jwk = jwks.find(&kid).expect("kid published in JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[self.address.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "iat"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("JWT verifies");
        (data.header, data.claims)
    }
}

/// Rows in `table`, over an open connection.
pub async fn count_rows_on(conn: &impl sea_orm::ConnectionTrait, table: &str) -> i64 {
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count query")
        .expect("one row");
    row.try_get("", "n").expect("count")
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The OAuth error JSON of a response, asserting status and `error` code.
pub async fn assert_oauth_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"], code, "body: {body}");
    body
}
