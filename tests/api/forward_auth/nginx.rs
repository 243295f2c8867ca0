//! A real nginx with `auth_request` in front of an upstream that echoes the headers it
//! receives, configured as docs/gateways.md says. Skipped with a message when nginx is not
//! installed, unless LATCHKEY_REQUIRE_BROWSER_TESTS=1 (`.ci/run` installs it).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::HeaderMap;
use latchkey::config::SessionPolicy;

use super::{gateway_app, rule, token};

fn nginx_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")]);
    for dir in candidates {
        let bin = dir.join("nginx");
        if bin.is_file() {
            return Some(bin);
        }
    }
    if std::env::var("LATCHKEY_REQUIRE_BROWSER_TESTS").as_deref() == Ok("1") {
        panic!("nginx is not installed (LATCHKEY_REQUIRE_BROWSER_TESTS=1; .ci/run installs it)");
    }
    eprintln!("skipping the nginx gateway test: nginx is not installed (apt-get install nginx)");
    None
}

/// An upstream that answers every request with the request's headers as JSON.
async fn echo_upstream() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(|headers: HeaderMap| async move {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &headers {
            seen.entry(name.as_str().to_owned())
                .or_default()
                .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        axum::Json(seen)
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in its own process group, stopped (and its folder removed) when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The nginx configuration of docs/gateways.md, with test paths and ports.
fn config(dir: &Path, port: u16, latchkey: &str, upstream: u16) -> String {
    let d = dir.display();
    format!(
        r#"worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    server {{
        listen 127.0.0.1:{port};

        location = /_latchkey {{
            internal;
            proxy_pass {latchkey}/forward-auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Uri $request_uri;
            proxy_set_header X-Auth-Redirect-Status 401;
        }}

        location @latchkey_sign_in {{
            if ($auth_location = "") {{
                return 401;
            }}
            return 302 $auth_location;
        }}

        location / {{
            auth_request /_latchkey;
            auth_request_set $auth_subject $upstream_http_x_auth_subject;
            auth_request_set $auth_client_id $upstream_http_x_auth_client_id;
            auth_request_set $auth_scopes $upstream_http_x_auth_scopes;
            auth_request_set $auth_method $upstream_http_x_auth_method;
            auth_request_set $auth_location $upstream_http_location;
            error_page 401 = @latchkey_sign_in;

            proxy_set_header X-Auth-Subject $auth_subject;
            proxy_set_header X-Auth-Client-Id $auth_client_id;
            proxy_set_header X-Auth-Scopes $auth_scopes;
            proxy_set_header X-Auth-Method $auth_method;
            proxy_set_header Authorization "";
            proxy_set_header Cookie "";
            proxy_pass http://127.0.0.1:{upstream};
        }}
    }}
}}
"#
    )
}

async fn start_nginx(bin: &Path, latchkey: &str, upstream: u16) -> Nginx {
    let dir = std::env::temp_dir().join(format!(
        "latchkey-nginx-{}",
        latchkey::crypto::random_token()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(&dir, port, latchkey, upstream)).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let nginx = Nginx { child, dir, port };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return nginx;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default();
    panic!("nginx did not start: {log}");
}

#[tokio::test]
async fn nginx_auth_request_passes_identity_and_strips_credentials() {
    let Some(bin) = nginx_binary() else { return };
    let (app, secret) = gateway_app(|s| {
        let mut portal = rule(None, "/portal", &[]);
        portal.session = SessionPolicy::Redirect;
        s.forward_auth.rules = vec![rule(None, "/api", &["read"]), portal];
        s.forward_auth.sign_in_url = Some("https://login.example.com/start".parse().unwrap());
        s.forward_auth.allowed_redirect_domains = vec!["127.0.0.1".into()];
    })
    .await;
    let upstream = echo_upstream().await;
    let nginx = start_nginx(&bin, &app.url(""), upstream).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", nginx.port);

    // No token: 401 with the RFC 6750 challenge.
    let resp = http.get(url("/api/orders")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"latchkey\""
    );

    // A token without the route's scope: 403.
    let write = token(&app, &secret, "write").await;
    let resp = http
        .get(url("/api/orders"))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // A bad token: 401.
    let resp = http
        .get(url("/api/orders"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A good token: the upstream sees the identity, not the credentials, and not the
    // identity headers the client tried to forge.
    let read = token(&app, &secret, "read").await;
    let resp = http
        .post(url("/api/orders?x=1"))
        .bearer_auth(&read)
        .header("x-auth-subject", "admin")
        .header("cookie", "latchkey_session=stolen; other=1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen: BTreeMap<String, Vec<String>> = resp.json().await.unwrap();
    assert_eq!(seen["x-auth-subject"], ["svc"]);
    assert_eq!(seen["x-auth-client-id"], ["svc"]);
    assert_eq!(seen["x-auth-scopes"], ["read"]);
    assert_eq!(seen["x-auth-method"], ["token"]);
    assert!(!seen.contains_key("authorization"), "{seen:?}");
    assert!(!seen.contains_key("cookie"), "{seen:?}");

    // A browser without a session on a redirect route goes to sign in and back.
    let resp = http.get(url("/portal/page?a=b")).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let back = format!("http://127.0.0.1:{}/portal/page?a=b", nginx.port);
    assert_eq!(
        location,
        format!(
            "https://login.example.com/start?rd={}",
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        )
    );
}

#[tokio::test]
async fn nginx_sends_browsers_to_latchkeys_own_sign_in_and_back_with_a_shared_session() {
    let Some(bin) = nginx_binary() else { return };
    // Arrange: Latchkey at login.example.test, the application behind nginx at
    // app.example.test; the session cookie is shared with example.test; no sign_in_url, so
    // browsers go to Latchkey's own /signin.
    let (app, _) = gateway_app(|s| {
        s.issuer = format!("http://login.example.test:{}", s.listen.port())
            .parse()
            .unwrap();
        s.session.cookie_domain = Some("example.test".into());
        let mut portal = rule(None, "/portal", &[]);
        portal.session = SessionPolicy::Redirect;
        s.forward_auth.rules = vec![rule(None, "/api", &["read"]), portal];
        s.forward_auth.allowed_redirect_domains = vec!["app.example.test".into()];
    })
    .await;
    let alice = crate::flow::user(&app, "alice").await;
    let upstream = echo_upstream().await;
    let nginx = start_nginx(&bin, &app.url(""), upstream).await;
    let latchkey_port = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let loopback = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let browser = crate::flow::Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .resolve("login.example.test", loopback(latchkey_port))
            .resolve("app.example.test", loopback(nginx.port))
            .build()
            .unwrap(),
    };
    let login = format!("http://login.example.test:{latchkey_port}");
    let original = format!("http://app.example.test:{}/portal/page?a=b", nginx.port);

    // Act 1: the browser asks for the application without a session.
    let first = browser.get(&original).await;

    // Assert 1: sent to Latchkey's sign-in, with the original URL to return to.
    assert_eq!(first.status, 302, "{first:?}");
    let to_sign_in = first.location.clone().unwrap();
    let return_to: String = url::form_urlencoded::byte_serialize(original.as_bytes()).collect();
    assert_eq!(to_sign_in, format!("{login}/signin?return_to={return_to}"));

    // Act 2: it signs in there.
    let page = browser.get(&to_sign_in).await;
    assert!(page.is_login(), "{page:?}");
    let signed_in = browser
        .post(
            &format!("{login}/login"),
            &[
                ("csrf_token", &page.input("csrf_token").unwrap()),
                ("req", &page.input("req").unwrap()),
                ("username", "alice"),
                ("password", crate::flow::PASSWORD),
            ],
        )
        .await;

    // Assert 2: back to the original URL, with a session cookie for the whole domain.
    assert_eq!(
        signed_in.location.as_deref(),
        Some(original.as_str()),
        "{signed_in:?}"
    );
    let set_cookie = signed_in.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("latchkey_session="), "{set_cookie}");
    assert!(
        set_cookie
            .to_ascii_lowercase()
            .contains("domain=example.test"),
        "{set_cookie}"
    );

    // Act 3: the browser comes back to the application.
    let resp = browser.http.get(&original).send().await.unwrap();

    // Assert 3: the upstream is reached with the identity, without the cookie.
    assert_eq!(resp.status(), 200);
    let seen: BTreeMap<String, Vec<String>> = resp.json().await.unwrap();
    assert_eq!(seen["x-auth-subject"], [alice.as_str()]);
    assert_eq!(seen["x-auth-method"], ["session"]);
    assert!(!seen.contains_key("cookie"), "{seen:?}");
    // The session is for browsers only: an API route still needs a token.
    let api = browser
        .get(&format!(
            "http://app.example.test:{}/api/orders",
            nginx.port
        ))
        .await;
    assert_eq!(api.status, 401);

    // A return_to on a host that is not allowed is refused by the sign-in page.
    let evil: String =
        url::form_urlencoded::byte_serialize(b"http://evil.example.test/steal").collect();
    let refused = browser
        .get(&format!("{login}/signin?return_to={evil}"))
        .await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(refused.location.is_none());
}
