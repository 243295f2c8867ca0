//! `latchkey demo`: the server plus the demo relying-party app on a second local port, with
//! the demo user and client made (again) at start. Only for an issuer on this machine.
use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::Args;

use crate::config::Settings;
use crate::demo::{self, DemoApp};
use crate::startup::Application;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the demo app (the server keeps `listen`).
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    pub demo_listen: SocketAddr,
}

pub async fn run(args: DemoArgs, settings: Settings) -> anyhow::Result<()> {
    if !demo::is_local_issuer(&settings.issuer) {
        bail!(
            "the demo runs only with an issuer on this machine (such as http://127.0.0.1:8080), \
             because its user has a published password; the issuer is {}",
            settings.issuer_str()
        );
    }
    if !args.demo_listen.ip().is_loopback() {
        bail!("--demo-listen must be a loopback address such as 127.0.0.1:8081");
    }
    let issuer = settings.issuer_str();
    let app = Application::build(settings).await?;
    let listener = tokio::net::TcpListener::bind(args.demo_listen)
        .await
        .with_context(|| format!("failed to bind {} for the demo app", args.demo_listen))?;
    let redirect_uri = demo::redirect_uri_for(listener.local_addr()?);
    let client = demo::provision(&app.store, &redirect_uri)
        .await
        .map_err(super::admin_err)
        .context("failed to create the demo user and client")?;
    let demo_app = DemoApp::build(listener, &issuer, &client)?;
    tracing::warn!(
        "demo mode: a user with a published password exists; never do this in production"
    );
    tracing::info!(port = app.port(), issuer, "latchkey listening");
    out!(
        "Demo running. Open {} and press \"Sign in with Latchkey\" (user {}, password {}).",
        demo_app.url(),
        demo::DEMO_USERNAME,
        demo::DEMO_PASSWORD
    );
    let demo_task = tokio::spawn(demo_app.run(std::future::pending()));
    let result = app.run_until_stopped().await;
    demo_task.abort();
    result
}
