//! Audit events: a server process with JSON logs writes one `target: "audit"` line per
//! sign-in, consent, token issued and token revoked, naming who, which client and from
//! where, and never a password, code, token or secret.
use crate::flow::{Browser, PASSWORD, authorize_url, exchange, pkce, user, web_client};
use crate::helpers::{spawn_app, urlencode};
use crate::process::ProcessNode;

#[tokio::test]
async fn sign_in_consent_tokens_and_revocation_are_audited_without_secrets() {
    let app = spawn_app().await;
    let node = ProcessNode::start(app.db_url(), &app.master_key, None, &[]).await;
    let remote = app.through(&node.address);
    let secret = web_client(&remote, "web").await;
    let alice = user(&remote, "alice").await;

    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let login = browser
        .get(&authorize_url(&remote, "web", &challenge, ""))
        .await;
    let wrong = "not the password at all";
    let again = browser.login(&remote, &login, "alice", wrong).await;
    let consent = browser.login(&remote, &again, "alice", PASSWORD).await;
    let back = browser.consent(&remote, &consent, "allow").await;
    let code = back.callback()["code"].clone();
    let resp = exchange(&remote, ("web", &secret), &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: serde_json::Value = resp.json().await.unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let revoked = remote
        .post_form(
            "/revoke",
            &format!("token={}", urlencode(rt)),
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(revoked.status(), 200);

    let events = node.audit_events();
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(
        names,
        [
            "login.failed",
            "login.succeeded",
            "consent.granted",
            "token.issued",
            "token.revoked"
        ],
        "{}",
        node.log()
    );
    for e in &events {
        assert_eq!(e["client_id"], "web", "{e}");
        assert_eq!(e["source_ip"], "127.0.0.1", "{e}");
    }
    assert_eq!(events[0]["username"], "alice");
    for e in &events[1..] {
        assert_eq!(e["user_id"], alice.as_str(), "{e}");
    }
    assert_eq!(events[3]["grant_type"], "authorization_code");
    assert_eq!(events[4]["token_type"], "refresh_token");

    let log = node.log();
    for secret_value in [
        PASSWORD,
        wrong,
        secret.as_str(),
        code.as_str(),
        verifier.as_str(),
        rt,
        tokens["access_token"].as_str().unwrap(),
        tokens["id_token"].as_str().unwrap(),
    ] {
        assert!(
            !log.contains(secret_value),
            "the log contains a secret: {secret_value}"
        );
    }
}

#[tokio::test]
async fn operator_changes_are_audited_by_the_cli() {
    let app = spawn_app().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["users", "create", "--username", "bob", "--password"])
        .arg(PASSWORD)
        .env_remove("LATCHKEY_CONFIG")
        .env_remove("RUST_LOG")
        .env("LATCHKEY_DATABASE_URL", app.db_url())
        .env("LATCHKEY_MASTER_KEY", &app.master_key)
        .env("LATCHKEY_LOG__FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let event: serde_json::Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["target"] == "audit")
        .unwrap_or_else(|| panic!("no audit line in {stderr}"));
    assert_eq!(event["fields"]["event"], "user.created");
    assert_eq!(event["fields"]["username"], "bob");
    assert_eq!(event["fields"]["actor"], "cli");
    assert!(!stderr.contains(PASSWORD));
}
