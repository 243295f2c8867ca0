//! `[http]`: the reverse proxies whose `X-Forwarded-For` is believed.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Addresses or networks (CIDR) of the reverse proxies in front of Latchkey. A request
    /// whose peer is one of them is attributed to the address its `X-Forwarded-For` header
    /// names (the right-most one that is not itself a trusted proxy); from any other peer the
    /// header is ignored, so a client cannot choose the address it is throttled and logged
    /// under. Empty (the default): the peer address is always used.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}
