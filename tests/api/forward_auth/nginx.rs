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
