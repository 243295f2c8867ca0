//! `client_exchange_policies` table row: a client's token exchange (RFC 8693) policy.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_exchange_policies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// JSON array of strings.
    pub audiences: String,
    /// Space-delimited scope tokens.
    pub scopes: String,
    pub may_impersonate: bool,
    /// JSON array of issuer identifiers; `[]`: this server's own tokens only.
    pub subject_issuers: String,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
