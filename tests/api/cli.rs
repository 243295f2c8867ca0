//! The operator CLI, run as a real process against the test database.
use std::process::{Command, Output};

use crate::helpers::{TestDb, spawn_app_on};

fn latchkey(db: &TestDb, master: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", &db.url)
        .env("LATCHKEY_MASTER_KEY", master)
        .env_remove("LATCHKEY_CONFIG")
        .output()
        .expect("run latchkey")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn created_client_gets_a_token_with_the_printed_secret() {
    let db = TestDb::new().await;
    let master = latchkey::crypto::MasterKey::generate().to_base64();
    let out = latchkey(
        &db,
        &master,
        &[
            "clients",
            "create",
            "--id",
            "svc",
            "--grant-type",
            "client_credentials",
            "--scope",
            "read write",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let secret = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("client_secret:"))
        .expect("secret printed")
        .trim()
        .to_owned();

    let list = latchkey(&db, &master, &["clients", "list"]);
    assert!(stdout(&list).contains("svc"));
    let show = latchkey(&db, &master, &["clients", "show", "svc"]);
    assert!(show.status.success());
    assert!(
        !stdout(&show).contains(&secret),
        "show must never print the secret"
    );

    let app = spawn_app_on(db, master, |_| {}).await;
    let token = app
        .client_credentials_token("svc", &secret, "&scope=read")
        .await;
    assert_eq!(token["scope"], "read");
}

#[tokio::test]
async fn invalid_input_fails_with_one_line_and_changes_nothing() {
    let db = TestDb::new().await;
    let master = latchkey::crypto::MasterKey::generate().to_base64();
    let ok = latchkey(
        &db,
        &master,
        &[
            "clients",
            "create",
            "--id",
            "first",
            "--grant-type",
            "client_credentials",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));

    let cases: &[&[&str]] = &[
        &["clients", "create", "--id", "x", "--grant-type", "password"],
        &[
            "clients",
            "create",
            "--id",
            "x",
            "--redirect-uri",
            "https://app.example/cb#frag",
        ],
        &[
            "clients",
            "create",
            "--id",
            "x",
            "--redirect-uri",
            "not a url",
        ],
        &[
            "clients",
            "create",
            "--id",
            "first",
            "--grant-type",
            "client_credentials",
        ],
        &[
            "clients",
            "create",
            "--id",
            "x",
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            "ftp://x",
        ],
        &["clients", "delete", "nobody"],
    ];
    for args in cases {
        let out = latchkey(&db, &master, args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{err}");
    }
    let list = stdout(&latchkey(&db, &master, &["clients", "list"]));
    assert!(list.contains("first"));
    assert!(!list.contains(" x "), "{list}");
    assert!(
        !list
            .lines()
            .any(|l| l.split_whitespace().next() == Some("x")),
        "{list}"
    );
}

#[tokio::test]
async fn users_and_keys_commands_work() {
    let db = TestDb::new().await;
    let master = latchkey::crypto::MasterKey::generate().to_base64();
    let out = latchkey(
        &db,
        &master,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--password",
            "correct horse battery",
            "--email",
            "alice@example.com",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let dup = latchkey(
        &db,
        &master,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--password",
            "another password",
        ],
    );
    assert!(!dup.status.success());
    assert!(stdout(&latchkey(&db, &master, &["users", "list"])).contains("alice"));

    let keys = latchkey(&db, &master, &["keys", "list"]);
    assert!(keys.status.success(), "{}", stderr(&keys));
    let rotate = latchkey(&db, &master, &["keys", "rotate"]);
    assert!(rotate.status.success(), "{}", stderr(&rotate));
    // The STATE column of `keys list`, counted.
    let states = |listed: &str, state: &str| {
        listed
            .lines()
            .skip(1)
            .filter(|l| l.split_whitespace().nth(2) == Some(state))
            .count()
    };
    let listed = stdout(&latchkey(&db, &master, &["keys", "list"]));
    assert_eq!(states(&listed, "next"), 3, "{listed}");
    assert_eq!(states(&listed, "active"), 3, "{listed}");
    assert_eq!(listed.matches("signs until").count(), 3, "{listed}");
    let now = latchkey(&db, &master, &["keys", "rotate", "--now"]);
    assert!(now.status.success(), "{}", stderr(&now));
    let listed = stdout(&latchkey(&db, &master, &["keys", "list"]));
    assert_eq!(states(&listed, "retired"), 6, "{listed}");
    assert_eq!(states(&listed, "active"), 3, "{listed}");
    assert!(listed.contains("published until"), "{listed}");
    // Emergency: new keys sign at once, every other key is withdrawn.
    let emergency = latchkey(&db, &master, &["keys", "rotate", "--emergency"]);
    assert!(emergency.status.success(), "{}", stderr(&emergency));
    assert!(stdout(&emergency).contains("no longer verify"));
    let listed = stdout(&latchkey(&db, &master, &["keys", "list"]));
    assert_eq!(states(&listed, "active"), 3, "{listed}");
    assert_eq!(listed.lines().count(), 4, "{listed}");

    let del = latchkey(&db, &master, &["users", "delete", "alice"]);
    assert!(del.status.success());
    assert!(!stdout(&latchkey(&db, &master, &["users", "list"])).contains("alice"));
}

#[tokio::test]
async fn wrong_master_key_fails_loudly() {
    let db = TestDb::new().await;
    let master = latchkey::crypto::MasterKey::generate().to_base64();
    assert!(latchkey(&db, &master, &["keys", "rotate"]).status.success());
    let other = latchkey::crypto::MasterKey::generate().to_base64();
    let out = latchkey(&db, &other, &["keys", "list"]);
    assert!(
        !out.status.success(),
        "keys list must refuse the wrong master key"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = latchkey::config::Settings {
        database_url: secrecy::SecretString::from(db.url.clone()),
        master_key: Some(secrecy::SecretString::from(other.clone())),
        ..Default::default()
    };
    let app = latchkey::startup::Application::build_with_listener(settings, listener).await;
    assert!(
        app.is_err(),
        "a server must not start with the wrong master key"
    );
}

#[tokio::test]
async fn init_writes_a_loadable_config_and_a_private_key_then_refuses_to_overwrite() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("latchkey.toml");
    let key = dir.path().join("latchkey.master.key");
    let init = || {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args([
                "init",
                config.to_str().unwrap(),
                "--issuer",
                "https://login.acme.example",
            ])
            .env_remove("LATCHKEY_CONFIG")
            .output()
            .expect("run latchkey init")
    };

    // Act
    let first = init();

    // Assert: both files, the key private and valid, the config commented and loadable.
    assert!(first.status.success(), "{}", stderr(&first));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("issuer = \"https://login.acme.example\""),
        "{text}"
    );
    assert!(
        text.lines().filter(|l| l.starts_with('#')).count() > 5,
        "{text}"
    );
    let key_text = std::fs::read_to_string(&key).unwrap();
    latchkey::crypto::MasterKey::from_base64(key_text.trim()).expect("a valid master key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let db = TestDb::new().await;
    let migrate = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["--config", config.to_str().unwrap(), "migrate"])
        .env("LATCHKEY_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{}", stderr(&migrate));

    // Act + Assert: a second run changes nothing and says why on one line.
    let second = init();
    assert_eq!(second.status.code(), Some(1));
    let err = stderr(&second);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), key_text);

    // An existing key file alone also stops it, without writing the config.
    std::fs::remove_file(&config).unwrap();
    let third = init();
    assert_eq!(third.status.code(), Some(1));
    assert!(!config.exists());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), key_text);
}

#[tokio::test]
async fn a_branding_colour_that_is_not_a_colour_stops_the_start_with_one_line() {
    let db = TestDb::new().await;
    let master = latchkey::crypto::MasterKey::generate().to_base64();

    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("migrate")
        .env("LATCHKEY_DATABASE_URL", &db.url)
        .env("LATCHKEY_MASTER_KEY", &master)
        .env(
            "LATCHKEY_BRANDING__PRIMARY_COLOR",
            "red;} body{display:none",
        )
        .env_remove("LATCHKEY_CONFIG")
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("branding.primary_color is not a colour"),
        "{err}"
    );
}

#[tokio::test]
async fn token_exchange_policy_is_set_at_creation_and_changed_later() {
    let db = TestDb::new().await;
    let master = latchkey::crypto::MasterKey::generate().to_base64();
    let out = latchkey(
        &db,
        &master,
        &[
            "clients",
            "create",
            "--id",
            "svc",
            "--grant-type",
            "client_credentials",
            "--exchange-audience",
            "orders",
            "--exchange-audience",
            "https://billing.example/api",
            "--exchange-scope",
            "orders:read billing:read",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("orders https://billing.example/api"),
        "{text}"
    );
    assert!(text.contains("billing:read orders:read"), "{text}");
    assert!(text.contains("(this server only)"), "{text}");

    let changed = latchkey(
        &db,
        &master,
        &[
            "clients",
            "exchange-policy",
            "svc",
            "--exchange-audience",
            "inventory",
            "--may-impersonate",
        ],
    );
    assert!(changed.status.success(), "{}", stderr(&changed));
    let show = stdout(&latchkey(&db, &master, &["clients", "show", "svc"]));
    assert!(
        show.contains("inventory") && !show.contains("orders"),
        "{show}"
    );

    // Subject tokens of another issuer: stored, with a warning while it is not configured.
    let foreign = latchkey(
        &db,
        &master,
        &[
            "clients",
            "exchange-policy",
            "svc",
            "--exchange-audience",
            "inventory",
            "--exchange-issuer",
            "https://idp.partner.example",
        ],
    );
    assert!(foreign.status.success(), "{}", stderr(&foreign));
    assert!(
        stderr(&foreign)
            .contains("warning: https://idp.partner.example is neither this server's issuer"),
        "{}",
        stderr(&foreign)
    );
    let show = stdout(&latchkey(&db, &master, &["clients", "show", "svc"]));
    assert!(show.contains("https://idp.partner.example"), "{show}");

    let removed = latchkey(&db, &master, &["clients", "exchange-policy", "svc"]);
    assert!(removed.status.success(), "{}", stderr(&removed));
    let show = stdout(&latchkey(&db, &master, &["clients", "show", "svc"]));
    assert!(!show.contains("inventory"), "{show}");

    let bad = latchkey(
        &db,
        &master,
        &["clients", "exchange-policy", "svc", "--exchange-scope", "x"],
    );
    assert!(!bad.status.success(), "a policy needs an audience");
}

/// A running server that looks at the logout outbox every second, and alice signed in to
/// "web", which has a back-channel logout receiver.
struct AliceSignedIn {
    app: crate::helpers::TestApp,
    db_url: String,
    master: String,
    receiver: crate::backchannel_logout::Receiver,
    browser: crate::flow::Browser,
    id_claims: serde_json::Value,
}

async fn alice_signed_in_to_web() -> AliceSignedIn {
    use crate::backchannel_logout::{Receiver, client_with, sign_in_to, start_receiver};
    use crate::flow::{Browser, user};

    let db = TestDb::new().await;
    let db_url = db.url.clone();
    let master = latchkey::crypto::MasterKey::generate().to_base64();
    let app = spawn_app_on(db, master.clone(), |s| s.tokens.logout_outbox_interval = 1).await;
    let receiver = Receiver::default();
    let web = client_with(&app, "web", Some(start_receiver(receiver.clone()).await)).await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let id_claims = sign_in_to(&app, &browser, ("web", &web)).await;
    assert_eq!(app.count_rows("sessions").await, 1);
    AliceSignedIn {
        app,
        db_url,
        master,
        receiver,
        browser,
        id_claims,
    }
}

impl AliceSignedIn {
    /// The command succeeded, the session is gone, a server sent its logout token to "web",
    /// and the old cookie no longer works.
    async fn assert_signed_out_everywhere(&self, out: &Output) {
        assert!(out.status.success(), "{}", stderr(out));
        assert_eq!(self.app.count_rows("sessions").await, 0);
        crate::backchannel_logout::assert_queued_logout_delivered(
            &self.app,
            &self.receiver,
            "web",
            &self.id_claims,
        )
        .await;
        let account = self.browser.get(&self.app.url("/account")).await;
        assert_eq!(account.status, 303, "the old cookie no longer works");
    }
}

#[tokio::test]
async fn set_password_ends_the_sessions_and_a_server_sends_their_back_channel_logouts() {
    // Arrange
    let alice = alice_signed_in_to_web().await;

    // Act: the operator sets a new password from another process.
    let out = latchkey(
        &TestDb::at(alice.db_url.clone()),
        &alice.master,
        &[
            "users",
            "set-password",
            "alice",
            "--password",
            "a new passphrase",
        ],
    );

    // Assert
    alice.assert_signed_out_everywhere(&out).await;
}

#[tokio::test]
async fn deleting_a_user_ends_the_sessions_and_a_server_sends_their_back_channel_logouts() {
    // Arrange
    let alice = alice_signed_in_to_web().await;
    assert_eq!(alice.app.count_rows("grants").await, 1);

    // Act: the operator deletes alice from another process; her grants go with her.
    let out = latchkey(
        &TestDb::at(alice.db_url.clone()),
        &alice.master,
        &["users", "delete", "alice"],
    );

    // Assert
    alice.assert_signed_out_everywhere(&out).await;
    assert_eq!(alice.app.count_rows("users").await, 0);
    assert_eq!(alice.app.count_rows("grants").await, 0);
}
