//! The built `latchkey` binary as a server process of its own, for what an in-process server
//! cannot show: signals, `kill -9`, two processes on one database, the log it writes.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `latchkey serve` process; killed (SIGKILL) when dropped.
pub struct ProcessNode {
    child: Child,
    pub address: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// A port that was free a moment ago (the process binds it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ProcessNode {
    /// Starts a node on `db_url` with JSON logs, keys reloaded every second, and `issuer`
    /// (its own address when `None`); `env` adds or overrides `LATCHKEY_*` settings.
    /// Returns once `/healthz` answers.
    pub async fn start(
        db_url: &str,
        master_key: &str,
        issuer: Option<&str>,
        env: &[(&str, &str)],
    ) -> ProcessNode {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr.log");
        let port = free_port();
        let address = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.arg("serve")
            .env_remove("LATCHKEY_CONFIG")
            .env_remove("RUST_LOG")
            .env("LATCHKEY_DATABASE_URL", db_url)
            .env("LATCHKEY_MASTER_KEY", master_key)
            .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
            .env("LATCHKEY_ISSUER", issuer.unwrap_or(&address))
            .env("LATCHKEY_DATABASE_MAX_CONNECTIONS", "5")
            .env("LATCHKEY_KEYS__RELOAD_INTERVAL", "1")
            .env("LATCHKEY_LOG__FORMAT", "json")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start latchkey serve");
        let mut node = ProcessNode {
            child,
            address,
            log,
            _dir: dir,
        };
        node.wait_healthy(Duration::from_secs(30)).await;
        node
    }

    async fn wait_healthy(&mut self, within: Duration) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("latchkey exited with {status}:\n{}", self.log());
            }
            if let Ok(r) = http.get(format!("{}/healthz", self.address)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "latchkey did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a signal by name (`TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to end, at most `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "latchkey did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the process wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Everything the process has logged until now: the server writes its log in batches,
    /// at most 100 ms after a line was made, so this waits until the file stops growing.
    pub fn settled_log(&self) -> String {
        let mut seen = self.log();
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(250));
            let now = self.log();
            if now == seen {
                break;
            }
            seen = now;
        }
        seen
    }

    /// The JSON log lines with `target: "audit"` (see `settled_log`).
    pub fn audit_events(&self) -> Vec<serde_json::Value> {
        self.settled_log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"] == "audit")
            .map(|v| v["fields"].clone())
            .collect()
    }
}

impl Drop for ProcessNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
