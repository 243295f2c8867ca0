//! `logout_outbox` table row: an ended session whose back-channel logouts are due.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "logout_outbox")]
pub struct Model {
    /// The ended session's id hash (its `sid` is derived from it).
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id_hash: String,
    pub user_id: String,
    pub ended_at: i64,
    /// JSON list of the clients granted something in the session when it ended; NULL for
    /// entries queued before it was recorded.
    pub client_ids: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
