//! OpenID Connect RP-Initiated Logout 1.0: the end-session request (section 2), checking
//! `id_token_hint` and `post_logout_redirect_uri` (section 3), and deciding whether the
//! session can end at once or the person must confirm (section 6: a request that cannot be
//! tied to the current session must not sign anyone out silently). No HTTP types here.
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;
use url::Url;

use super::Provider;
use super::error::{OAuthError, OAuthResult};
use super::model::{Client, Session, User};
use super::params::Params;
use crate::audit;
use crate::domain::ClientId;

/// Label of the sealed confirmation ticket, so it cannot be swapped with another kind.
const TICKET_LABEL: &str = "end-session-ticket";

/// A checked end-session request.
struct EndSessionRequest {
    client: Option<Arc<Client>>,
    /// `post_logout_redirect_uri` with `state` added, when one was asked for.
    redirect: Option<Url>,
    /// `sub` and `sid` of a verified `id_token_hint`.
    hint_sub: Option<String>,
    hint_sid: Option<String>,
    logout_hint: Option<String>,
}

/// What to do with an end-session request.
#[derive(Debug)]
pub enum EndSessionStep {
    /// The session has ended (or there was none): send the browser to `redirect`, or show
    /// the signed-out page when there is none.
    Done { redirect: Option<String> },
    /// The request is not tied to the current session: ask the person. `ticket` carries
    /// the request to the confirmation form (sealed; re-checked when submitted).
    Confirm {
        ticket: String,
        user: User,
        client_name: Option<String>,
        redirect: Option<String>,
    },
}

impl Provider {
    /// GET or POST on the end-session endpoint. `raw` is the query string or form body.
    pub async fn end_session(
        &self,
        raw: &str,
        session_cookie: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<EndSessionStep> {
        let req = self.parse_end_session(raw).await?;
        let Some((session, user)) = self.current_session(session_cookie).await? else {
            // Nothing to end here; the relying party may still be sent back (section 3).
            return Ok(EndSessionStep::Done {
                redirect: req.redirect.map(String::from),
            });
        };
        if self.tied_to_session(&req, &session, &user) {
            self.end_browser_session(session_cookie, &user, req.client.as_deref(), source_ip)
                .await?;
            return Ok(EndSessionStep::Done {
                redirect: req.redirect.map(String::from),
            });
        }
        Ok(EndSessionStep::Confirm {
            ticket: self.seal(TICKET_LABEL, raw),
            user,
            client_name: req.client.map(|c| c.name.clone()),
            redirect: req.redirect.map(String::from),
        })
    }

    /// The confirmation form was submitted (its CSRF token already checked): the request
    /// in `ticket` is checked again, the session ends, and the redirect (if any) follows.
    pub async fn confirm_end_session(
        &self,
        ticket: &str,
        session_cookie: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<Option<String>> {
        let raw = self
            .open_sealed(TICKET_LABEL, ticket)
            .ok_or_else(|| OAuthError::invalid_request("this sign-out page has expired"))?;
        let req = self.parse_end_session(&raw).await?;
        if let Some((_, user)) = self.current_session(session_cookie).await? {
            self.end_browser_session(session_cookie, &user, req.client.as_deref(), source_ip)
                .await?;
        }
        Ok(req.redirect.map(String::from))
    }

    async fn end_browser_session(
        &self,
        session_cookie: Option<&str>,
        user: &User,
        client: Option<&Client>,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<()> {
        self.sign_out(session_cookie).await?;
        let mut event = audit::Event::new(audit::Kind::SessionEnded)
            .user(&user.id)
            .from(source_ip);
        if let Some(c) = client {
            event = event.client(c.id.as_str());
        }
        event.emit();
        Ok(())
    }

    /// Section 2 and 3: every parameter is checked before anything happens; a bad request
    /// gets an error page, never a redirect.
    async fn parse_end_session(&self, raw: &str) -> OAuthResult<EndSessionRequest> {
        let params = Params::parse(raw.as_bytes())?;
        let hint = params
            .get("id_token_hint")
            .map(|t| self.verify_id_token_hint(t))
            .transpose()?;
        let hint_aud = hint.as_ref().and_then(|c| single_audience(c));
        let client_id = match (params.get("client_id"), hint_aud) {
            (Some(given), Some(aud)) if given != aud => {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the audience of id_token_hint",
                ));
            }
            (Some(given), _) => Some(given.to_owned()),
            (None, aud) => aud.map(str::to_owned),
        };
        let client = match client_id {
            Some(id) => {
                let id = ClientId::parse(&id)
                    .map_err(|_| OAuthError::invalid_request("client_id is not valid"))?;
                Some(
                    self.clients
                        .find_client(&id)
                        .await?
                        .ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?,
                )
            }
            None => None,
        };
        let redirect = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => Some(post_logout_redirect(
                client.as_deref(),
                uri,
                params.get("state"),
            )?),
        };
        let claim = |name: &str| {
            hint.as_ref()
                .and_then(|c| c.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(EndSessionRequest {
            hint_sub: claim("sub"),
            hint_sid: claim("sid"),
            client,
            redirect,
            logout_hint: params.get("logout_hint").map(str::to_owned),
        })
    }

    /// Section 2: an ID token this server issued, signature checked; expiry is NOT checked
    /// (the hint is usually an old token).
    fn verify_id_token_hint(&self, token: &str) -> OAuthResult<Value> {
        let invalid = || OAuthError::invalid_request("id_token_hint is not an ID token we issued");
        let verified = self.keys.verify(token).ok_or_else(invalid)?;
        // Access tokens are signed by the same keys; only ID tokens (typ JWT) are hints.
        if verified.header.get("typ").and_then(Value::as_str) != Some("JWT")
            || verified.claims.get("iss").and_then(Value::as_str) != Some(self.issuer())
            || verified.claims.get("sub").and_then(Value::as_str).is_none()
        {
            return Err(invalid());
        }
        Ok(verified.claims)
    }

    /// Whether the request proves it comes from a relying party of this very session: a
    /// hint for the signed-in person, of this session when it names one (`sid`), and a
    /// `logout_hint`, if given, naming the same person.
    fn tied_to_session(&self, req: &EndSessionRequest, session: &Session, user: &User) -> bool {
        let Some(sub) = &req.hint_sub else {
            return false;
        };
        let sid_ok = req
            .hint_sid
            .as_ref()
            .is_none_or(|sid| *sid == self.session_sid(session));
        let logout_hint_ok = req
            .logout_hint
            .as_ref()
            .is_none_or(|h| *h == user.id || *h == user.username);
        *sub == user.id && sid_ok && logout_hint_ok
    }
}

/// The `aud` of an ID token: Latchkey issues a single audience (a string).
fn single_audience(claims: &Value) -> Option<&str> {
    match claims.get("aud")? {
        Value::String(s) => Some(s),
        Value::Array(a) if a.len() == 1 => a[0].as_str(),
        _ => None,
    }
}

/// Section 3: the URI must be registered for the client the request names, matched
/// exactly; `state` goes back on it.
fn post_logout_redirect(
    client: Option<&Client>,
    uri: &str,
    state: Option<&str>,
) -> OAuthResult<Url> {
    let client = client.ok_or_else(|| {
        OAuthError::invalid_request(
            "post_logout_redirect_uri needs id_token_hint or client_id to say which client it belongs to",
        )
    })?;
    if !client
        .post_logout_redirect_uris
        .iter()
        .any(|r| r.as_str() == uri)
    {
        return Err(OAuthError::invalid_request(
            "post_logout_redirect_uri is not registered for this client",
        ));
    }
    let mut url = Url::parse(uri).map_err(|_| OAuthError::invalid_request("bad redirect"))?;
    if let Some(s) = state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Ok(url)
}
