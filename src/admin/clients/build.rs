//! The rules of a new client: every field parsed through `domain`, the combinations of
//! grants, authentication method, keys, secret and PKCE checked. Pure: nothing is read or
//! written.
use std::collections::BTreeSet;

use url::Url;

use super::secret::validate_secret;
use super::{CreatedClient, NewClient};
use crate::admin::exchange;
use crate::admin::jwks::{parse_jwks_uri, validate_jwks};
use crate::admin::{AdminError, validate_display_name};
use crate::crypto::{SecretHasher, random_token};
use crate::domain::{AuthMethod, ClientId, GrantType, RedirectUri, ResourceUri, Scope, SigningAlg};
use crate::keys::OutboundPolicy;
use crate::oauth::model::Client;

/// Scopes given to a client with the authorization_code grant when none are named.
const DEFAULT_USER_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// Parses redirect URIs, dropping repeats.
fn unique_redirect_uris(list: &[String]) -> Result<Vec<RedirectUri>, AdminError> {
    let mut out: Vec<RedirectUri> = Vec::new();
    for s in list {
        let uri = RedirectUri::parse(s).map_err(AdminError::invalid)?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Back-Channel Logout 1.0 section 2.2: an absolute URI without a fragment, which this server
/// may connect to under the same outbound policy as a client's `jwks_uri`.
fn backchannel_logout_uri(s: &str) -> Result<Url, AdminError> {
    let url = Url::parse(s)
        .map_err(|e| AdminError::invalid(format!("backchannel_logout_uri is not a URL: {e}")))?;
    if url.fragment().is_some() {
        return Err(AdminError::invalid(
            "backchannel_logout_uri must not have a fragment",
        ));
    }
    OutboundPolicy::default()
        .check_url(&url)
        .map_err(|_| {
            AdminError::invalid(
                "backchannel_logout_uri must be https (http only to a loopback host) and not a link-local or metadata address",
            )
        })?;
    Ok(url)
}

/// Validates `new` and builds the client to store, hashing its secret with `hasher`.
/// Pure: nothing is read or written.
pub fn build(new: NewClient, hasher: &SecretHasher, now: i64) -> Result<CreatedClient, AdminError> {
    let id = ClientId::parse(&new.id).map_err(AdminError::invalid)?;
    let name = match &new.name {
        Some(n) => validate_display_name("client name", n)?,
        None => id.to_string(),
    };

    let redirect_uris = unique_redirect_uris(&new.redirect_uris)?;
    let post_logout_redirect_uris = unique_redirect_uris(&new.post_logout_redirect_uris)?;
    let backchannel_logout_uri = new
        .backchannel_logout_uri
        .as_deref()
        .map(backchannel_logout_uri)
        .transpose()?;
    let mut audiences: Vec<ResourceUri> = Vec::new();
    for s in &new.audiences {
        let aud = ResourceUri::parse(s).map_err(AdminError::invalid)?;
        if !audiences.contains(&aud) {
            audiences.push(aud);
        }
    }
    let alg = |s: &Option<String>| {
        s.as_deref()
            .map(SigningAlg::parse)
            .transpose()
            .map_err(AdminError::invalid)
    };
    let access_token_alg = alg(&new.access_token_alg)?;
    let id_token_alg = alg(&new.id_token_alg)?;
    // Each value may hold several tokens ("--scope 'openid email'").
    let requested_scope = Scope::parse(&new.scopes.join(" ")).map_err(AdminError::invalid)?;

    let method_arg = new
        .auth_method
        .as_deref()
        .map(AuthMethod::parse)
        .transpose()
        .map_err(AdminError::invalid)?;
    let is_public = new.public || method_arg == Some(AuthMethod::None);

    let mut grants = BTreeSet::new();
    for s in &new.grant_types {
        grants.insert(GrantType::parse(s).map_err(AdminError::invalid)?);
    }
    if grants.contains(&GrantType::TokenExchange) {
        return Err(AdminError::invalid(
            "token exchange is allowed by a policy, not a grant type: use --exchange-audience (and --exchange-scope)",
        ));
    }
    if grants.is_empty() {
        if redirect_uris.is_empty() {
            if is_public {
                return Err(AdminError::invalid(
                    "a public client can use only the authorization_code grant, which needs at least one --redirect-uri",
                ));
            }
            grants.insert(GrantType::ClientCredentials);
        } else {
            grants.insert(GrantType::AuthorizationCode);
            grants.insert(GrantType::RefreshToken);
        }
    }
    let has_code = grants.contains(&GrantType::AuthorizationCode);
    if has_code && redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "the authorization_code grant needs at least one --redirect-uri (RFC 6749 section 3.1.2)",
        ));
    }
    if !has_code && !redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "redirect URIs are used only by the authorization_code grant; add --grant-type authorization_code or drop --redirect-uri",
        ));
    }
    if !has_code && (!post_logout_redirect_uris.is_empty() || backchannel_logout_uri.is_some()) {
        return Err(AdminError::invalid(
            "post-logout redirect URIs and back-channel logout need a client that signs people in (the authorization_code grant)",
        ));
    }
    if grants.contains(&GrantType::RefreshToken) && !has_code {
        return Err(AdminError::invalid(
            "refresh_token is issued only with authorization_code (RFC 6749 section 4.4.3: not for client_credentials)",
        ));
    }

    if new.jwks_uri.is_some() && new.jwks_file_contents.is_some() {
        return Err(AdminError::invalid(
            "give either --jwks-uri or --jwks-file, not both (RFC 7591 section 2)",
        ));
    }
    let has_keys = new.jwks_uri.is_some() || new.jwks_file_contents.is_some();
    let auth_method = match method_arg {
        Some(m) if new.public && m != AuthMethod::None => {
            return Err(AdminError::Invalid(format!(
                "--public conflicts with --auth-method {m}: a public client uses none"
            )));
        }
        Some(m) => m,
        None if new.public => AuthMethod::None,
        // Keys and no secret: the operator means private_key_jwt.
        None if has_keys && new.secret.is_none() => AuthMethod::PrivateKeyJwt,
        None => AuthMethod::ClientSecretBasic,
    };

    let exchange_policy = exchange::build(&new.exchange)?;
    if exchange_policy.is_some() && auth_method == AuthMethod::None {
        return Err(AdminError::invalid(exchange::PUBLIC_CLIENT));
    }

    let mut generated_secret = None;
    let mut secret_hash = None;
    let mut jwks = None;
    let mut jwks_uri = None;
    match auth_method {
        AuthMethod::None => {
            if new.secret.is_some() {
                return Err(AdminError::invalid(
                    "a public client has no secret; drop --secret or --public",
                ));
            }
            if has_keys {
                return Err(AdminError::invalid(
                    "a public client does not authenticate; --jwks-uri and --jwks-file need --auth-method private_key_jwt",
                ));
            }
            if grants.contains(&GrantType::ClientCredentials) {
                return Err(AdminError::invalid(
                    "a public client cannot use client_credentials: it has no credentials (RFC 6749 section 4.4)",
                ));
            }
            if new.no_pkce {
                return Err(AdminError::invalid(
                    "PKCE cannot be turned off for a public client (RFC 9700 section 2.1.1)",
                ));
            }
        }
        AuthMethod::PrivateKeyJwt => {
            if new.secret.is_some() {
                return Err(AdminError::invalid(
                    "a private_key_jwt client authenticates with its keys; drop --secret",
                ));
            }
            if let Some(text) = &new.jwks_file_contents {
                jwks = Some(validate_jwks(text)?);
            } else if let Some(uri) = &new.jwks_uri {
                jwks_uri = Some(parse_jwks_uri(uri)?);
            } else {
                return Err(AdminError::invalid(
                    "private_key_jwt needs the client's public keys: give --jwks-uri or --jwks-file",
                ));
            }
        }
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
            if has_keys {
                return Err(AdminError::Invalid(format!(
                    "--jwks-uri and --jwks-file apply only to private_key_jwt, not {auth_method}"
                )));
            }
            let secret = match &new.secret {
                Some(s) => {
                    validate_secret(s)?;
                    s.clone()
                }
                None => {
                    let s = random_token();
                    generated_secret = Some(s.clone());
                    s
                }
            };
            secret_hash = Some(hasher.hash(&secret));
        }
    }
    if new.no_pkce && !has_code {
        return Err(AdminError::invalid(
            "--no-pkce applies only to the authorization_code grant",
        ));
    }
    if new.always_issue_refresh_token && !grants.contains(&GrantType::RefreshToken) {
        return Err(AdminError::invalid(
            "--always-issue-refresh-token needs the refresh_token grant",
        ));
    }

    let scope = if !requested_scope.is_empty() {
        requested_scope
    } else if has_code {
        let mut tokens = DEFAULT_USER_SCOPES.join(" ");
        if grants.contains(&GrantType::RefreshToken) {
            tokens.push_str(" offline_access");
        }
        Scope::parse(&tokens).expect("default scopes are valid")
    } else {
        Scope::default()
    };

    let client = Client {
        id,
        name,
        secret_hash,
        auth_method,
        redirect_uris,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        backchannel_logout_session_required: new.backchannel_logout_session_required,
        grant_types: grants.into_iter().collect(),
        scope,
        audiences,
        jwks,
        jwks_uri,
        access_token_alg,
        id_token_alg,
        first_party: new.first_party,
        require_pkce: !new.no_pkce,
        always_issue_refresh_token: new.always_issue_refresh_token,
        require_two_factor: new.require_two_factor,
        exchange: exchange_policy,
        created_at: now,
    };
    Ok(CreatedClient {
        client,
        generated_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::web;
    use super::*;
    use crate::crypto::MasterKey;

    fn hasher() -> SecretHasher {
        SecretHasher::new(&MasterKey::from_bytes([9; 32]))
    }

    fn invalid(new: NewClient) -> String {
        match build(new, &hasher(), 0) {
            Err(AdminError::Invalid(msg)) => msg,
            Err(other) => panic!("expected Invalid, got {other:?}"),
            Ok(c) => panic!("expected Invalid, got client {:?}", c.client.id),
        }
    }

    #[test]
    fn confidential_web_client_gets_defaults_and_a_generated_secret() {
        let created = build(web(), &hasher(), 42).unwrap();
        let c = &created.client;
        assert_eq!(c.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(
            c.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(c.scope.to_string(), "email offline_access openid profile");
        assert!(c.require_pkce);
        assert_eq!(c.name, "web");
        let secret = created.generated_secret.as_deref().expect("generated");
        assert!(secret.len() >= 43);
        assert!(hasher().verify(secret, c.secret_hash.as_deref().unwrap()));
    }

    #[test]
    fn service_client_defaults_to_client_credentials_with_no_scope() {
        let c = build(
            NewClient {
                id: "svc".into(),
                secret: Some("a-long-enough-secret".into()),
                ..NewClient::default()
            },
            &hasher(),
            0,
        )
        .unwrap();
        assert_eq!(c.client.grant_types, vec![GrantType::ClientCredentials]);
        assert!(c.client.scope.is_empty());
        assert!(c.generated_secret.is_none());
        assert!(hasher().verify(
            "a-long-enough-secret",
            c.client.secret_hash.as_deref().unwrap()
        ));
    }

    #[test]
    fn logout_uris_are_checked() {
        let mut n = web();
        n.post_logout_redirect_uris = vec!["https://app.example.com/bye".into(); 2];
        n.backchannel_logout_uri = Some("https://app.example.com/bc".into());
        let c = build(n, &hasher(), 0).unwrap().client;
        assert_eq!(c.post_logout_redirect_uris.len(), 1, "repeats dropped");
        assert_eq!(
            c.backchannel_logout_uri.as_ref().map(Url::as_str),
            Some("https://app.example.com/bc")
        );
        for bad in [
            "http://app.example.com/bc",
            "https://169.254.169.254/latest",
            "https://app.example.com/bc#x",
            "not a url",
        ] {
            let mut n = web();
            n.backchannel_logout_uri = Some(bad.into());
            assert!(invalid(n).contains("backchannel_logout_uri"), "{bad}");
        }
        let mut n = web();
        n.post_logout_redirect_uris = vec!["https://app.example.com/bye#f".into()];
        invalid(n);
        let service = NewClient {
            id: "svc".into(),
            backchannel_logout_uri: Some("https://app.example.com/bc".into()),
            ..NewClient::default()
        };
        assert!(invalid(service).contains("back-channel"));
    }

    #[test]
    fn scopes_may_be_repeated_and_space_separated() {
        let mut n = web();
        n.scopes = vec!["openid email".into(), "orders:read".into()];
        let c = build(n, &hasher(), 0).unwrap().client;
        assert_eq!(c.scope.to_string(), "email openid orders:read");
    }

    #[test]
    fn public_client_has_no_secret_and_requires_pkce() {
        let mut n = web();
        n.public = true;
        let c = build(n, &hasher(), 0).unwrap();
        assert_eq!(c.client.auth_method, AuthMethod::None);
        assert!(c.client.secret_hash.is_none());
        assert!(c.generated_secret.is_none());

        let mut n = web();
        n.public = true;
        n.secret = Some("a-long-enough-secret".into());
        assert!(invalid(n).contains("no secret"));

        let mut n = web();
        n.public = true;
        n.no_pkce = true;
        assert!(invalid(n).contains("PKCE"));

        let mut n = web();
        n.public = true;
        n.grant_types = vec!["authorization_code".into(), "client_credentials".into()];
        assert!(invalid(n).contains("client_credentials"));

        let n = NewClient {
            id: "spa".into(),
            public: true,
            ..NewClient::default()
        };
        assert!(invalid(n).contains("--redirect-uri"));
    }

    #[test]
    fn rejects_bad_input_with_one_line_messages() {
        let cases: Vec<(NewClient, &str)> = vec![
            (
                NewClient {
                    redirect_uris: vec!["https://app.example.com/cb#frag".into()],
                    ..web()
                },
                "fragment",
            ),
            (
                NewClient {
                    redirect_uris: vec!["http://app.example.com/cb".into()],
                    ..web()
                },
                "http",
            ),
            (
                NewClient {
                    grant_types: vec!["password".into()],
                    ..web()
                },
                "unknown grant type",
            ),
            (
                NewClient {
                    scopes: vec!["bad\"scope".into()],
                    ..web()
                },
                "scope",
            ),
            (
                NewClient {
                    secret: Some("short".into()),
                    ..web()
                },
                "at least 16",
            ),
            (
                NewClient {
                    id: "a:b".into(),
                    ..web()
                },
                "client id",
            ),
            (
                NewClient {
                    grant_types: vec!["authorization_code".into()],
                    redirect_uris: vec![],
                    ..web()
                },
                "redirect-uri",
            ),
            (
                NewClient {
                    grant_types: vec!["client_credentials".into()],
                    ..web()
                },
                "redirect URIs",
            ),
            (
                NewClient {
                    grant_types: vec!["refresh_token".into(), "client_credentials".into()],
                    redirect_uris: vec![],
                    ..web()
                },
                "refresh_token",
            ),
            (
                NewClient {
                    auth_method: Some("private_key_jwt".into()),
                    ..web()
                },
                "--jwks-uri",
            ),
            (
                NewClient {
                    auth_method: Some("private_key_jwt".into()),
                    jwks_uri: Some("http://keys.example.com/jwks".into()),
                    ..web()
                },
                "https",
            ),
            (
                NewClient {
                    auth_method: Some("client_secret_post".into()),
                    jwks_uri: Some("https://keys.example.com/jwks".into()),
                    ..web()
                },
                "only to private_key_jwt",
            ),
            (
                NewClient {
                    audiences: vec!["not a uri".into()],
                    ..web()
                },
                "resource",
            ),
            (
                NewClient {
                    access_token_alg: Some("HS256".into()),
                    ..web()
                },
                "algorithm",
            ),
            (
                NewClient {
                    auth_method: Some("client_secret_jwt".into()),
                    ..web()
                },
                "authentication method",
            ),
        ];
        for (n, needle) in cases {
            let msg = invalid(n);
            assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }

    #[test]
    fn private_key_jwt_is_inferred_from_keys_without_a_secret() {
        let n = NewClient {
            id: "svc".into(),
            jwks_uri: Some("https://svc.example.com/jwks.json".into()),
            ..NewClient::default()
        };
        let c = build(n, &hasher(), 0).unwrap();
        assert_eq!(c.client.auth_method, AuthMethod::PrivateKeyJwt);
        assert!(c.client.secret_hash.is_none());
        assert!(c.generated_secret.is_none());
        assert_eq!(
            c.client.jwks_uri.unwrap().as_str(),
            "https://svc.example.com/jwks.json"
        );
    }
}
