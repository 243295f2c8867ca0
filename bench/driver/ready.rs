//! Waits for the first `200` from a URL (the server's `/readyz`), polling every millisecond
//! with a plain HTTP/1.1 request, and prints the moment it came (unix nanoseconds), so that
//! `bench/run` can subtract the moment it spawned the server.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use url::Url;

pub fn run(url: &Url, timeout: f64) -> anyhow::Result<()> {
    let host = url.host_str().context("the URL has no host")?;
    let addr: SocketAddr = format!("{host}:{}", url.port_or_known_default().unwrap_or(80))
        .parse()
        .context("--url must name a loopback IP address and port")?;
    anyhow::ensure!(addr.ip().is_loopback(), "--url must be a loopback address");
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        url.path()
    );
    let deadline = Instant::now() + Duration::from_secs_f64(timeout);
    while Instant::now() < deadline {
        if answers_200(&addr, &request) {
            let at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
            println!("BENCH_READY unix_ns={at}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    bail!("no 200 from {url} within {timeout} s")
}

fn answers_200(addr: &SocketAddr, request: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(addr, Duration::from_millis(100)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
