//! Changes to a registered client's settings.
use super::get;
use crate::admin::AdminError;
use crate::audit;
use crate::oauth::model::Client;
use crate::store::Store;

/// Changes to a registered client's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    pub require_two_factor: Option<bool>,
}

/// Applies `update` to the client and returns it as stored afterwards.
pub async fn update(store: &Store, id: &str, update: &ClientUpdate) -> Result<Client, AdminError> {
    let client = get(store, id).await?;
    let Some(require) = update.require_two_factor else {
        return Err(AdminError::invalid("nothing to change"));
    };
    if !store
        .set_client_require_two_factor(&client.id, require)
        .await?
    {
        return Err(AdminError::NotFound(format!(
            "client {} does not exist",
            client.id
        )));
    }
    audit::Event::new(audit::Kind::ClientUpdated)
        .client(client.id.as_str())
        .actor(audit::ACTOR_CLI)
        .reason(if require {
            "require_two_factor on"
        } else {
            "require_two_factor off"
        })
        .emit();
    get(store, id).await
}
