//! `signing_keys` table row. Only `store` sees this type; the rest of the app sees domain records.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub alg: String,
    pub public_jwk: String,
    /// PKCS#8 private key sealed with the master key (`MasterKey::seal(der, kid)`).
    pub private_sealed: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    /// Used for signing from this time on (published before).
    pub activates_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
