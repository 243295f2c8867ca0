//! Ending sessions with their back-channel logouts, through one outbox. Whoever ends a
//! session (a sign-out on any node, the account page, the `users set-password` and `users
//! delete` commands, which are no server) deletes it and queues an `EndedSession`, with the
//! clients to notify, in the same transaction; the servers deliver what is queued
//! (`deliver_pending_logouts`, at once on the node that ended it, and every
//! `tokens.logout_outbox_interval` on every node), each entry claimed by exactly one node.
//! Deliveries then follow `backchannel` (timeout, bounded retries).
use super::error::OAuthResult;
use super::ports::SessionSelection;
use super::{Provider, now};

/// Entries delivered per pass; a larger queue is worked off pass by pass.
const BATCH: u64 = 100;

impl Provider {
    /// Ends sessions of `user_id` on every node (the rows are gone) and has their clients
    /// notified. Returns how many ended. The caller records the audit event (it knows why).
    pub async fn end_sessions(
        &self,
        user_id: &str,
        which: SessionSelection<'_>,
    ) -> OAuthResult<u64> {
        let ended = self.sessions.end_sessions(user_id, which, now()).await?;
        self.deliver_pending_logouts().await;
        Ok(ended)
    }

    /// Sends the logout tokens of every queued ended session this node manages to claim.
    /// Failures are logged: an entry that could not be read stays queued for the next pass.
    pub async fn deliver_pending_logouts(&self) -> usize {
        let pending = match self.sessions.pending_logouts(BATCH).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "cannot read the logout outbox");
                return 0;
            }
        };
        let mut delivered = 0;
        for ended in pending {
            match self.sessions.claim_logout(&ended.id_hash).await {
                Ok(true) => {
                    self.notify_session_ended(&ended).await;
                    delivered += 1;
                }
                // Another node took it.
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "cannot claim a logout");
                }
            }
        }
        delivered
    }
}
