//! Where this server may connect when it fetches a client's `jwks_uri`.
//!
//! - Scheme: `https`; `http` only to a loopback host (`localhost`, 127.0.0.0/8, `::1`), for
//!   local development; the same rule as registration (`admin::jwks`).
//! - Addresses: never link-local (169.254.0.0/16, including the 169.254.169.254 cloud
//!   metadata service, fe80::/10), other cloud metadata addresses (100.100.100.200,
//!   192.0.0.0/24, fd00:ec2::254), unspecified, multicast or reserved ranges; loopback only
//!   when the URL itself names a loopback host. Networks listed in
//!   `keys.client_jwks_allowed_networks` are allowed anyway. Private networks (10/8, ...) are
//!   allowed: services of one system commonly publish their keys there.
//! - The check is made on the resolved addresses, inside the HTTP client's resolver, and the
//!   connection goes to exactly those addresses: a DNS answer that changes between a check
//!   and the connection (rebinding) cannot slip through. IPv4-mapped and NAT64 IPv6
//!   addresses are checked as the IPv4 address they carry.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use url::Url;

use super::jws::KeyError;

#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Networks allowed even though they are otherwise refused.
    pub allowed: Vec<IpNet>,
}

/// Whether the URL names a loopback host: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl OutboundPolicy {
    /// The checks that need no DNS: scheme, and the address when the host is an IP literal
    /// (the resolver is not asked about those).
    pub fn check_url(&self, url: &Url) -> Result<(), KeyError> {
        let loopback = is_loopback_host(url);
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(KeyError::invalid(
                    "jwks_uri must be https (http only to a loopback host)",
                ));
            }
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(KeyError::invalid("jwks_uri has no host")),
        };
        match literal {
            Some(ip) if !self.permits(ip, true) => Err(KeyError::invalid(
                "jwks_uri points to an address this server does not connect to",
            )),
            _ => Ok(()),
        }
    }

    /// Whether a connection to `ip` is allowed; `loopback_named` says the URL's host is a
    /// loopback name or address, which is what makes loopback addresses acceptable.
    pub fn permits(&self, ip: IpAddr, loopback_named: bool) -> bool {
        let ip = embedded_v4(ip);
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        if ip.is_loopback() {
            return loopback_named;
        }
        !refused(ip)
    }
}

/// IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) addresses as the IPv4
/// address they reach.
fn embedded_v4(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            ip
        }
        v4 => v4,
    }
}

fn refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_unspecified()
                || a == 0
                || v4.is_link_local()
                || v4.is_multicast()
                || a >= 240
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
                || (a, b, c) == (192, 0, 0)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_unspecified()
                || (first & 0xffc0) == 0xfe80
                || (first & 0xff00) == 0xff00
                || v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)
        }
    }
}

/// The HTTP client's resolver: resolves once and hands over only permitted addresses, which
/// are then the ones connected to.
pub struct GuardedResolver {
    pub policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let loopback_named = host.eq_ignore_ascii_case("localhost");
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip(), loopback_named))
                .collect();
            if permitted.is_empty() {
                tracing::warn!(
                    host = %host,
                    addresses = ?resolved,
                    "refused to connect: jwks_uri host resolves only to refused addresses"
                );
                return Err(
                    format!("{host} resolves to no address this server connects to").into(),
                );
            }
            let addrs: reqwest::dns::Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

/// An HTTP client that connects only where `policy` allows: the guarded resolver, no proxy,
/// no redirects (a registered URI must not point elsewhere by redirecting), `timeout`.
pub fn guarded_client(
    policy: &Arc<OutboundPolicy>,
    timeout: std::time::Duration,
) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            policy: Arc::clone(policy),
        }))
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the TLS backend of the HTTP client failed to initialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn metadata_and_link_local_addresses_are_refused() {
        let p = OutboundPolicy::default();
        for bad in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "192.0.0.192",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "fe80::1",
            "ff02::1",
            "::",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!p.permits(ip(bad), false), "{bad}");
        }
        for good in ["203.0.113.5", "10.0.0.5", "192.168.1.1", "2001:db8::1"] {
            assert!(p.permits(ip(good), false), "{good}");
        }
    }

    #[test]
    fn loopback_only_when_the_url_names_it_and_configured_networks_are_allowed() {
        let p = OutboundPolicy::default();
        assert!(!p.permits(ip("127.0.0.1"), false));
        assert!(p.permits(ip("127.0.0.1"), true));
        assert!(p.permits(ip("::1"), true));
        let p = OutboundPolicy {
            allowed: vec!["169.254.10.0/24".parse().unwrap()],
        };
        assert!(p.permits(ip("169.254.10.7"), false));
        assert!(!p.permits(ip("169.254.169.254"), false));
    }

    #[test]
    fn schemes_and_literal_hosts_are_checked_before_any_connection() {
        let p = OutboundPolicy::default();
        let ok = |s: &str| p.check_url(&Url::parse(s).unwrap()).is_ok();
        assert!(ok("https://keys.example.com/jwks"));
        assert!(ok("http://127.0.0.1:9000/jwks"));
        assert!(ok("http://localhost/jwks"));
        assert!(!ok("http://keys.example.com/jwks"));
        assert!(!ok("ftp://keys.example.com/jwks"));
        assert!(!ok("file:///etc/passwd"));
        assert!(!ok("https://169.254.169.254/latest/meta-data"));
        assert!(!ok("https://[fe80::1]/jwks"));
        assert!(!ok("https://[::ffff:a9fe:a9fe]/jwks"));
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        use reqwest::dns::Resolve;
        let r = GuardedResolver {
            policy: Arc::new(OutboundPolicy::default()),
        };
        // "localhost" resolves to loopback, permitted because the name says so.
        let addrs: Vec<_> = r
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
        // A name that resolves to a refused address yields an error, not a connection.
        assert!(r.resolve("0.0.0.0".parse().unwrap()).await.is_err());
    }
}
