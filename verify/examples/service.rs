//! A small orders API protected by Latchkey access tokens.
//!
//! ```sh
//! LATCHKEY_ISSUER=http://127.0.0.1:8080 ORDERS_AUDIENCE=orders-api \
//!   cargo run -p latchkey-verify --example service
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/orders
//! ```
//!
//! `GET /orders` needs scope `orders:read` (checked by the `RequireBearer` layer);
//! `GET /me` needs any valid token and shows who called (the `Authenticated` extractor).
use axum::routing::get;
use axum::{Extension, Json, Router};
use latchkey_verify::{Authenticated, RequireBearer, Verifier, VerifierConfig};
use serde_json::{Value, json};

/// The service's routes, given a verifier for its issuer and audience.
pub fn app(verifier: Verifier) -> Router {
    let orders = Router::new()
        .route("/orders", get(list_orders))
        .layer(RequireBearer::new(verifier.clone()).scopes(["orders:read"]));
    Router::new()
        .route("/me", get(me))
        .layer(Extension(verifier))
        .merge(orders)
}

async fn list_orders(Authenticated(claims): Authenticated) -> Json<Value> {
    Json(json!({
        "orders": [{"id": 1, "item": "tea"}],
        "for": claims.sub,
    }))
}

async fn me(Authenticated(claims): Authenticated) -> Json<Value> {
    Json(json!({"sub": claims.sub, "client_id": claims.client_id, "scopes": claims.scopes}))
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let issuer = std::env::var("LATCHKEY_ISSUER").unwrap_or("http://127.0.0.1:8080".into());
    let audience = std::env::var("ORDERS_AUDIENCE").unwrap_or("orders-api".into());
    let listen = std::env::var("LISTEN").unwrap_or("127.0.0.1:3000".into());
    let verifier = Verifier::new(VerifierConfig::new(issuer, audience));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("orders API on http://{listen}");
    axum::serve(listener, app(verifier)).await
}
