//! Complete sign-ins per second. Each virtual user is one task with its own HTTP client and
//! cookie jar; the jar is emptied before each sign-in, so every sign-in is a new browser
//! session that must log in (one argon2id verification on the server). Consent was given
//! once per user during the warm-up, so the measured sign-ins find it remembered.
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use latchkey::crypto::{random_token, sha256_b64url};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderValue, LOCATION};
use url::Url;

#[derive(clap::Args, Clone)]
pub struct Options {
    /// The server's issuer URL (loopback only), e.g. http://127.0.0.1:8080.
    #[arg(long)]
    base: Url,
    #[arg(long)]
    client_id: String,
    /// The client's secret (client_secret_basic at the token endpoint).
    #[arg(long, env = "BENCH_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    #[arg(long)]
    redirect_uri: String,
    /// Users are `<prefix>0` .. `<prefix>{users-1}`, all with `--password`.
    #[arg(long, default_value = "bench-user-")]
    user_prefix: String,
    #[arg(long, default_value_t = 32)]
    users: usize,
    #[arg(long, env = "BENCH_USER_PASSWORD", hide_env_values = true)]
    password: String,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of sign-ins before the measurement (consent is given here).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
}

/// A cookie jar that can be emptied: a new browser session without a new connection.
#[derive(Default)]
struct ResettableJar(RwLock<Arc<Jar>>);

impl ResettableJar {
    fn reset(&self) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Jar::default());
    }
    fn current(&self) -> Arc<Jar> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl CookieStore for ResettableJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        self.current().set_cookies(headers, url)
    }
    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.current().cookies(url)
    }
}

struct VirtualUser {
    opts: Arc<Options>,
    username: String,
    jar: Arc<ResettableJar>,
    http: reqwest::Client,
}

/// What one virtual user did in the measured window.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    consent_pages: u64,
    first_error: Option<String>,
}

pub fn run(opts: Options) -> anyhow::Result<()> {
    ensure!(is_loopback(&opts.base), "--base must be a loopback URL");
    ensure!(
        opts.users > 0 && opts.users <= 1024,
        "--users must be 1..=1024"
    );
    ensure!(
        opts.seconds > 0.0 && opts.seconds <= 60.0 && (0.0..=60.0).contains(&opts.warmup),
        "--seconds must be in (0, 60] and --warmup in [0, 60]"
    );
    // One thread: the driver should take as little of the shared cores as it can.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(drive(Arc::new(opts)))
}

async fn drive(opts: Arc<Options>) -> anyhow::Result<()> {
    let users = (0..opts.users)
        .map(|i| VirtualUser::new(&opts, format!("{}{i}", opts.user_prefix)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Warm-up: every user signs in once (giving consent), then all loop until the deadline.
    let warm_start = Instant::now();
    let warm_until = warm_start + Duration::from_secs_f64(opts.warmup);
    let users = run_all(users, warm_until, true).await?;
    let warm_secs = warm_start.elapsed().as_secs_f64();
    let warm_n: usize = users.iter().map(|(_, t)| t.latencies.len()).sum();
    let measured = Duration::from_secs_f64(opts.seconds);
    let start = Instant::now();
    let results = run_all(
        users.into_iter().map(|(u, _)| u).collect(),
        start + measured,
        false,
    )
    .await?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut all = Tally::default();
    for (_, t) in results {
        all.latencies.extend(t.latencies);
        all.errors += t.errors;
        all.consent_pages += t.consent_pages;
        all.first_error = all.first_error.or(t.first_error);
    }
    if let Some(e) = &all.first_error {
        eprintln!("bench-driver: first failed sign-in: {e}");
    }
    all.latencies.sort_unstable();
    let n = all.latencies.len();
    let pct = |p: f64| -> u128 {
        if n == 0 {
            return 0;
        }
        let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
        all.latencies[i].as_micros()
    };
    println!(
        "BENCH_RESULT figure=signins requests={n} seconds={elapsed:.3} rps={:.1} p50_us={} p99_us={} errors={} consent_pages={} users={} warmup_requests={warm_n} warmup_seconds={warm_secs:.3}",
        n as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        all.errors,
        all.consent_pages,
        opts.users
    );
    Ok(())
}

/// Runs every user until `until`; in the warm-up each user completes at least one sign-in
/// (and any failure stops the run: the setup is wrong).
async fn run_all(
    users: Vec<VirtualUser>,
    until: Instant,
    warmup: bool,
) -> anyhow::Result<Vec<(VirtualUser, Tally)>> {
    let tasks: Vec<_> = users
        .into_iter()
        .map(|u| {
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut first = warmup;
                while first || Instant::now() < until {
                    let t0 = Instant::now();
                    match u.sign_in().await {
                        Ok(consent) => {
                            tally.latencies.push(t0.elapsed());
                            tally.consent_pages += u64::from(consent);
                        }
                        Err(e) if warmup => return Err(e.context(format!("user {}", u.username))),
                        Err(e) => {
                            tally.errors += 1;
                            tally.first_error.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                    first = false;
                }
                Ok((u, tally))
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.context("virtual user task")??);
    }
    Ok(out)
}

impl VirtualUser {
    fn new(opts: &Arc<Options>, username: String) -> anyhow::Result<Self> {
        let jar = Arc::new(ResettableJar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            opts: opts.clone(),
            username,
            jar,
            http,
        })
    }

    /// One complete sign-in in a fresh session. Returns whether a consent page was shown.
    async fn sign_in(&self) -> anyhow::Result<bool> {
        self.jar.reset();
        let o = &self.opts;
        let verifier = random_token();
        let mut authorize = o.base.join("/authorize")?;
        authorize
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &o.client_id)
            .append_pair("redirect_uri", &o.redirect_uri)
            .append_pair("scope", "openid profile email")
            .append_pair("state", &random_token())
            .append_pair("nonce", &random_token())
            .append_pair("code_challenge", &sha256_b64url(verifier.as_bytes()))
            .append_pair("code_challenge_method", "S256");
        let page = self.get(authorize).await?;
        ensure!(page.is_form("/login"), "expected the login page: {page}");
        let mut page = self
            .post(
                "/login",
                &[
                    ("csrf_token", &page.input("csrf_token")?),
                    ("req", &page.input("req")?),
                    ("username", &self.username),
                    ("password", &o.password),
                ],
            )
            .await?;
        let mut consent = false;
        // Follow redirects on our side until the one back to the client.
        for _ in 0..5 {
            if page.is_form("/consent") {
                consent = true;
                page = self
                    .post(
                        "/consent",
                        &[
                            ("csrf_token", &page.input("csrf_token")?),
                            ("req", &page.input("req")?),
                            ("decision", "allow"),
                        ],
                    )
                    .await?;
                continue;
            }
            let Some(loc) = page.location.clone() else {
                bail!("expected a redirect: {page}");
            };
            if loc.starts_with(&o.redirect_uri) {
                let code = Url::parse(&loc)?
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .with_context(|| format!("no code in the redirect {loc}"))?;
                self.exchange(&code, &verifier).await?;
                return Ok(consent);
            }
            page = self.get(o.base.join(&loc)?).await?;
        }
        bail!("too many redirects")
    }

    async fn exchange(&self, code: &str, verifier: &str) -> anyhow::Result<()> {
        let o = &self.opts;
        let resp = self
            .http
            .post(o.base.join("/token")?)
            .basic_auth(&o.client_id, Some(&o.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &o.redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await?;
        let status = resp.status();
        let body = resp.text().await?;
        ensure!(
            status.is_success() && body.contains("\"id_token\"") && body.contains("access_token"),
            "code exchange answered {status}: {body}"
        );
        Ok(())
    }

    async fn get(&self, url: Url) -> anyhow::Result<Page> {
        Page::read(self.http.get(url).send().await?).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Page> {
        Page::read(
            self.http
                .post(self.opts.base.join(path)?)
                .form(form)
                .send()
                .await?,
        )
        .await
    }
}

struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl std::fmt::Display for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head: String = self.body.chars().take(200).collect();
        write!(
            f,
            "status {} location {:?} body {head:?}",
            self.status, self.location
        )
    }
}

impl Page {
    async fn read(resp: reqwest::Response) -> anyhow::Result<Self> {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self {
            status,
            location,
            body: resp.text().await?,
        })
    }

    fn is_form(&self, action: &str) -> bool {
        self.status == 200 && self.body.contains(&format!("action=\"{action}\""))
    }

    /// The value of the named `<input>`, with the entities askama escapes undone.
    fn input(&self, name: &str) -> anyhow::Result<String> {
        let needle = format!("name=\"{name}\"");
        for tag in self.body.split("<input").skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            if !tag.contains(&needle) {
                continue;
            }
            let value = tag
                .split_once("value=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(v, _)| v)
                .unwrap_or("");
            return Ok(value
                .replace("&#x2B;", "+")
                .replace("&#43;", "+")
                .replace("&#x3D;", "=")
                .replace("&#61;", "=")
                .replace("&#x2F;", "/")
                .replace("&#47;", "/")
                .replace("&amp;", "&"));
        }
        bail!("no input named {name} on the page: {self}")
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => IpAddr::V4(a).is_loopback(),
        Some(url::Host::Ipv6(a)) => IpAddr::V6(a).is_loopback(),
        None => false,
    }
}
