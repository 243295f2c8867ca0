//! `clients` table row. Only `store` sees this type; the rest of the app sees domain records.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// Keyed hash (`crypto::SecretHasher`) of the client secret, never the secret.
    pub secret_hash: Option<String>,
    pub auth_method: String,
    /// JSON array of strings.
    pub redirect_uris: String,
    /// JSON array of strings.
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    /// JSON array of strings.
    pub grant_types: String,
    /// Space-delimited scope tokens (RFC 6749 section 3.3).
    pub scopes: String,
    /// JSON array of resource indicators (RFC 8707).
    pub audiences: String,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub access_token_alg: Option<String>,
    pub id_token_alg: Option<String>,
    pub first_party: bool,
    pub require_pkce: bool,
    pub always_issue_refresh_token: bool,
    pub require_two_factor: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
