//! Prometheus metrics (text exposition format) on `prometheus-client`: one registry per
//! running application (no process-wide recorder, so tests running several servers in one
//! process each see their own figures).
//!
//! Recording is a hash lookup under a read lock plus an atomic add, cheap enough for the
//! token endpoint. Gauges that describe a state (signing keys, the connection pool) are
//! computed when `/metrics` is read, not kept up to date on every change.
//!
//! Depends on no web or storage crate: `web/` records requests, `oauth/` sign-ins and
//! tokens, the janitor cleanup counts.
use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::{PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The route template (`/static/{file}`), never the raw path, so that the number of
    /// series stays bounded whatever clients send.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    alg: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    table: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// How a sign-in attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Succeeded,
    Failed,
    Locked,
}

/// The connection pool at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// The two series one answered request updates, resolved once per (method, route, status).
#[derive(Clone)]
struct RequestSeries {
    method: &'static str,
    status: u16,
    count: Counter,
    latency: Histogram,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Handles into `requests` and `latency` by route template, so that recording a request
    /// builds, allocates and hashes no label set: a lookup by the route under a read lock
    /// and two atomic updates. Bounded as the families are (route templates, not paths).
    request_series: RwLock<HashMap<String, Vec<RequestSeries>>>,
    tokens: Family<GrantLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    keys: Family<KeyLabels, Gauge>,
    cleanup: Family<TableLabels, Counter>,
    cleanup_runs: Counter,
    pool: Family<PoolLabels, Gauge<u32, AtomicU32>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 4 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        let latency: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template",
            latency.clone(),
        );
        let tokens = Family::<GrantLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Successful token responses by grant type",
            tokens.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "logins",
            "Sign-in attempts by result (succeeded, failed, locked)",
            logins.clone(),
        );
        let keys = Family::<KeyLabels, Gauge>::default();
        registry.register(
            "signing_keys",
            "Published signing keys by algorithm and state (next, active, retired)",
            keys.clone(),
        );
        let cleanup = Family::<TableLabels, Counter>::default();
        registry.register(
            "cleanup_deleted_rows",
            "Expired rows deleted by the cleanup task, by table",
            cleanup.clone(),
        );
        let cleanup_runs = Counter::default();
        registry.register(
            "cleanup_runs",
            "Cleanup passes this node ran (a pass another node was running is skipped)",
            cleanup_runs.clone(),
        );
        let pool = Family::<PoolLabels, Gauge<u32, AtomicU32>>::default();
        registry.register(
            "db_pool_connections",
            "Database connections: open, idle, in_use and the configured max",
            pool.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            request_series: RwLock::default(),
            tokens,
            logins,
            keys,
            cleanup,
            cleanup_runs,
            pool,
        }
    }

    /// One answered HTTP request. `route` is the matched route template.
    pub fn record_request(&self, method: &'static str, route: &str, status: u16, secs: f64) {
        let known = self
            .request_series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .and_then(|all| {
                all.iter()
                    .find(|s| s.method == method && s.status == status)
                    .cloned()
            });
        let series = known.unwrap_or_else(|| self.resolve_series(method, route, status));
        series.count.inc();
        series.latency.observe(secs);
    }

    /// The series of a (method, route, status) not seen before, remembered for next time.
    fn resolve_series(&self, method: &'static str, route: &str, status: u16) -> RequestSeries {
        let series = RequestSeries {
            method,
            status,
            count: self
                .requests
                .get_or_create(&RequestLabels {
                    method,
                    route: route.to_owned(),
                    status,
                })
                .clone(),
            latency: self
                .latency
                .get_or_create(&RouteLabels {
                    method,
                    route: route.to_owned(),
                })
                .clone(),
        };
        let mut all = self
            .request_series
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let for_route = all.entry(route.to_owned()).or_default();
        // Another thread may have resolved it meanwhile: the handles are the same series.
        if !for_route
            .iter()
            .any(|s| s.method == method && s.status == status)
        {
            for_route.push(series.clone());
        }
        series
    }

    pub fn token_issued(&self, grant_type: &'static str) {
        self.tokens.get_or_create(&GrantLabels { grant_type }).inc();
    }

    pub fn login(&self, outcome: LoginOutcome) {
        let result = match outcome {
            LoginOutcome::Succeeded => "succeeded",
            LoginOutcome::Failed => "failed",
            LoginOutcome::Locked => "locked",
        };
        self.logins.get_or_create(&LoginLabels { result }).inc();
    }

    pub fn cleanup_deleted(&self, table: &'static str, rows: u64) {
        self.cleanup
            .get_or_create(&TableLabels { table })
            .inc_by(rows);
    }

    pub fn cleanup_ran(&self) {
        self.cleanup_runs.inc();
    }

    /// The text exposition of every metric, with the state gauges set from `keys` (alg,
    /// state, count) and `pool` first.
    pub fn render(
        &self,
        keys: &[(&'static str, &'static str, i64)],
        pool: Option<PoolUsage>,
    ) -> String {
        self.keys.clear();
        for &(alg, state, n) in keys {
            self.keys.get_or_create(&KeyLabels { alg, state }).set(n);
        }
        if let Some(p) = pool {
            let set = |state, v| {
                self.pool.get_or_create(&PoolLabels { state }).set(v);
            };
            set("open", p.open);
            set("idle", p.idle);
            set("in_use", p.open.saturating_sub(p.idle));
            set("max", p.max);
        }
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_recorded_series() {
        let m = Metrics::new();
        m.record_request("POST", "/token", 200, 0.002);
        m.record_request("POST", "/token", 200, 0.004);
        m.record_request("POST", "/token", 401, 0.001);
        m.token_issued("client_credentials");
        m.login(LoginOutcome::Failed);
        m.cleanup_deleted("sessions", 3);
        let text = m.render(
            &[("ES256", "active", 1)],
            Some(PoolUsage {
                open: 3,
                idle: 2,
                max: 5,
            }),
        );
        assert!(text.contains(
            r#"latchkey_http_requests_total{method="POST",route="/token",status="200"} 2"#
        ));
        assert!(text.contains(
            r#"latchkey_http_requests_total{method="POST",route="/token",status="401"} 1"#
        ));
        assert!(text.contains(
            r#"latchkey_http_request_duration_seconds_count{method="POST",route="/token"} 3"#
        ));
        assert!(
            text.contains(r#"latchkey_tokens_issued_total{grant_type="client_credentials"} 1"#)
        );
        assert!(text.contains(r#"latchkey_logins_total{result="failed"} 1"#));
        assert!(text.contains(r#"latchkey_cleanup_deleted_rows_total{table="sessions"} 3"#));
        assert!(text.contains(r#"latchkey_signing_keys{alg="ES256",state="active"} 1"#));
        assert!(text.contains(r#"latchkey_db_pool_connections{state="in_use"} 1"#));
        assert!(text.ends_with("# EOF\n"));
    }
}
