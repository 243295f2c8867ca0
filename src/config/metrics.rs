//! `[metrics]`: where `/metrics` is served and to whom.
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address of a separate listener that serves only `/metrics`, `/healthz` and `/readyz`
    /// (e.g. `10.0.0.5:9100` on an internal interface). When set, `/metrics` is not served
    /// on the main listener. Unset (the default): `/metrics` is on the main listener for the
    /// addresses in `allow`.
    pub listen: Option<SocketAddr>,
    /// Client addresses or networks (CIDR) that may read `/metrics` on the main listener;
    /// others get 404. Default: loopback only. The address is the one `http.trusted_proxies`
    /// resolves, so requests relayed by a local proxy count as their origin.
    pub allow: Vec<ipnet::IpNet>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: None,
            allow: vec![
                "127.0.0.0/8".parse().expect("static network"),
                "::1/128".parse().expect("static network"),
            ],
        }
    }
}
