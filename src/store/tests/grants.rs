//! Grants, codes and the tokens issued under them, against a real database
//! (`super::on_each_backend`).
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::super::{Store, unix_now};
use super::{on_each_backend, seed};
use crate::domain::ClientId;
use crate::oauth::model::{AuthorizationCode, Grant, RefreshToken, Session, User};
use crate::oauth::ports::{
    AccessTokenRevocations, CodeRedemption, GrantRepository, SessionRepository,
};

fn grant_row(user: &User, client: &ClientId, id: &str, now: i64) -> Grant {
    Grant {
        id: id.into(),
        client_id: client.to_string(),
        user_id: user.id.clone(),
        scope: "openid".into(),
        auth_time: now,
        created_at: now,
        revoked_at: None,
        sid: Some("sid-1".into()),
        amr: vec![crate::oauth::authn::AuthMethod::Pwd],
    }
}

fn code_row(
    user: &User,
    client: &ClientId,
    grant_id: &str,
    code_hash: &str,
    now: i64,
) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: code_hash.into(),
        grant_id: grant_id.into(),
        client_id: client.to_string(),
        user_id: user.id.clone(),
        redirect_uri: "https://app.example.com/cb".into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: Some("x".into()),
        code_challenge_method: Some("S256".into()),
        auth_time: now,
        created_at: now,
        expires_at: now + 60,
        consumed_at: None,
        sid: Some("sid-1".into()),
        amr: vec![crate::oauth::authn::AuthMethod::Pwd],
    }
}

fn refresh_row(
    user: &User,
    client: &ClientId,
    grant_id: &str,
    hash: &str,
    now: i64,
) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        grant_id: grant_id.into(),
        client_id: client.to_string(),
        user_id: user.id.clone(),
        scope: "openid".into(),
        auth_time: now,
        created_at: now,
        expires_at: now + 3600,
        rotated_at: None,
    }
}

pub(super) async fn grant_with_tokens(store: &Store, user: &User, client: &ClientId, id: &str) {
    let now = unix_now();
    store
        .create_grant_with_code(
            &grant_row(user, client, id, now),
            &code_row(user, client, id, &format!("code-{id}"), now),
            None,
        )
        .await
        .unwrap();
    let refresh = refresh_row(user, client, id, &format!("rt-{id}"), now);
    assert!(
        store
            .record_grant_tokens(id, &format!("at-{id}"), now + 600, Some(&refresh))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_grant_and_its_code_are_stored_together_or_not_at_all() {
    on_each_backend(|store| async move {
        let (user, client) = seed(&store).await;
        grant_with_tokens(&store, &user, &client, "g1").await;
        let now = unix_now();
        // The code's hash is taken: the second grant must not be left without its code.
        let err = store
            .create_grant_with_code(
                &grant_row(&user, &client, "g2", now),
                &code_row(&user, &client, "g2", "code-g1", now),
                None,
            )
            .await;
        assert!(err.is_err());
        assert!(store.find_grant("g2").await.unwrap().is_none());
        let kept = store
            .find_authorization_code("code-g1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.grant_id, "g1");
    })
    .await;
}

#[tokio::test]
async fn a_new_session_is_stored_with_its_grant_and_code_or_not_at_all() {
    on_each_backend(|store| async move {
        let (user, client) = seed(&store).await;
        grant_with_tokens(&store, &user, &client, "g1").await;
        let now = unix_now();
        let session = |id: &str| Session {
            id_hash: id.into(),
            user_id: user.id.clone(),
            auth_time: now,
            expires_at: now + 3600,
            amr: vec![crate::oauth::authn::AuthMethod::Pwd],
            created_at: now,
            last_seen_at: now,
            device: Some("Firefox on Linux".into()),
            source_ip: Some("192.0.2.7".into()),
        };
        store
            .create_grant_with_code(
                &grant_row(&user, &client, "g2", now),
                &code_row(&user, &client, "g2", "code-g2", now),
                Some(&session("s2")),
            )
            .await
            .unwrap();
        let stored = store.find_session("s2", now).await.unwrap().unwrap();
        assert_eq!(
            (stored.user_id.as_str(), stored.device.as_deref()),
            (user.id.as_str(), Some("Firefox on Linux"))
        );
        assert!(store.find_grant("g2").await.unwrap().is_some());
        // A code hash already taken: neither the grant nor the session is left behind.
        let err = store
            .create_grant_with_code(
                &grant_row(&user, &client, "g3", now),
                &code_row(&user, &client, "g3", "code-g1", now),
                Some(&session("s3")),
            )
            .await;
        assert!(err.is_err());
        assert!(store.find_grant("g3").await.unwrap().is_none());
        assert!(store.find_session("s3", now).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn tokens_are_recorded_under_a_live_grant_only() {
    on_each_backend(|store| async move {
        let (user, client) = seed(&store).await;
        grant_with_tokens(&store, &user, &client, "g1").await;
        assert_eq!(
            store.access_token_grant("at-g1").await.unwrap().as_deref(),
            Some("g1")
        );
        assert!(store.find_refresh_token("rt-g1").await.unwrap().is_some());

        let now = unix_now();
        store.revoke_grant("g1", now).await.unwrap();
        let refresh = refresh_row(&user, &client, "g1", "rt-late", now);
        assert!(
            !store
                .record_grant_tokens("g1", "at-late", now + 600, Some(&refresh))
                .await
                .unwrap()
        );
        // Neither the access token nor the refresh token is kept.
        assert!(store.access_token_grant("at-late").await.unwrap().is_none());
        assert!(store.find_refresh_token("rt-late").await.unwrap().is_none());

        // An access token alone (one statement): recorded under a live grant, not under a
        // revoked one, nor under a grant that does not exist.
        grant_with_tokens(&store, &user, &client, "g2").await;
        let alone = |grant: &'static str, jti: &'static str| {
            let store = store.clone();
            async move {
                store
                    .record_grant_tokens(grant, jti, now + 600, None)
                    .await
                    .unwrap()
            }
        };
        assert!(alone("g2", "at-g2-again").await);
        assert!(!alone("g1", "at-late-alone").await);
        assert!(!alone("no-such-grant", "at-nowhere").await);
        assert_eq!(
            store
                .access_token_grant("at-g2-again")
                .await
                .unwrap()
                .as_deref(),
            Some("g2")
        );
        assert!(
            store
                .access_token_grant("at-late-alone")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .access_token_grant("at-nowhere")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn a_code_issued_before_codes_carried_their_sign_in_takes_it_from_its_grant() {
    on_each_backend(|store| async move {
        store.migrate().await.unwrap();
        let (user, client) = seed(&store).await;
        // Back to the schema before `000130_code_sign_in`, with a grant and its code as
        // that schema stored them.
        let txn = store.db.begin().await.unwrap();
        Migrator::down(&txn, Some(1)).await.unwrap();
        txn.commit().await.unwrap();
        store
            .db
            .execute_unprepared(&format!(
                "INSERT INTO grants (id, client_id, user_id, scope, auth_time, created_at, sid, amr) \
                 VALUES ('g-old', '{client}', '{user}', 'openid', 5, 5, 'sid-old', 'pwd otp mfa'); \
                 INSERT INTO grants (id, client_id, user_id, scope, auth_time, created_at, amr) \
                 VALUES ('g-nosid', '{client}', '{user}', 'openid', 5, 5, 'hwk'); \
                 INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, \
                 redirect_uri, scope, auth_time, created_at, expires_at) VALUES \
                 ('c-old', 'g-old', '{client}', '{user}', '', 'openid', 5, 5, 65), \
                 ('c-nosid', 'g-nosid', '{client}', '{user}', '', 'openid', 5, 5, 65)",
                client = client.as_str(),
                user = user.id,
            ))
            .await
            .unwrap();
        store.migrate().await.unwrap();

        use crate::oauth::authn::AuthMethod;
        let old = store.find_authorization_code("c-old").await.unwrap().unwrap();
        assert_eq!(old.sid.as_deref(), Some("sid-old"));
        assert_eq!(
            old.amr,
            vec![AuthMethod::Pwd, AuthMethod::Otp, AuthMethod::Mfa]
        );
        let nosid = store.find_authorization_code("c-nosid").await.unwrap().unwrap();
        assert_eq!(nosid.sid, None);
        assert_eq!(nosid.amr, vec![AuthMethod::Hwk]);
    })
    .await;
}

#[tokio::test]
async fn codes_and_refresh_tokens_are_consumed_once() {
    on_each_backend(|store| async move {
        let (user, client) = seed(&store).await;
        grant_with_tokens(&store, &user, &client, "g1").await;
        let now = unix_now();
        let redeem = |hash: &'static str, client: &'static str| {
            let store = store.clone();
            async move {
                store
                    .redeem_authorization_code(hash, client, now)
                    .await
                    .unwrap()
            }
        };
        // Another client's attempt changes nothing.
        assert!(matches!(
            redeem("code-g1", "someone-else").await,
            CodeRedemption::OtherClient
        ));
        let CodeRedemption::Redeemed(redeemed) = redeem("code-g1", "web").await else {
            panic!("the code was not redeemed");
        };
        assert_eq!(
            (redeemed.code.grant_id.as_str(), redeemed.code.consumed_at),
            ("g1", Some(now))
        );
        // The code's user comes with it, as stored.
        let found = redeemed.user.expect("the code's user");
        let fields = |u: &User| {
            (
                u.id.clone(),
                u.username.clone(),
                u.password_hash.clone(),
                u.email.clone(),
                u.email_verified,
                u.name.clone(),
            )
        };
        assert_eq!(fields(&found), fields(&user));
        assert!(matches!(
            redeem("code-g1", "web").await,
            CodeRedemption::AlreadyUsed { grant_id } if grant_id == "g1"
        ));
        assert!(matches!(
            redeem("missing", "web").await,
            CodeRedemption::Unknown
        ));
        let code = store
            .find_authorization_code("code-g1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(code.consumed_at, Some(now));

        assert!(
            store
                .mark_refresh_token_rotated("rt-g1", now)
                .await
                .unwrap()
        );
        assert!(
            !store
                .mark_refresh_token_rotated("rt-g1", now)
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn revoking_a_grant_revokes_everything_issued_under_it() {
    on_each_backend(|store| async move {
        let (user, client) = seed(&store).await;
        grant_with_tokens(&store, &user, &client, "g1").await;
        grant_with_tokens(&store, &user, &client, "g2").await;
        store.revoke_grant("g1", unix_now()).await.unwrap();
        store.revoke_grant("g1", unix_now()).await.unwrap();

        assert!(
            store
                .find_grant("g1")
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
        assert!(store.find_refresh_token("rt-g1").await.unwrap().is_none());
        assert!(
            store
                .find_authorization_code("code-g1")
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.is_access_token_revoked("at-g1").await.unwrap());
        // The other grant is untouched.
        assert!(
            store
                .find_grant("g2")
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
        assert!(store.find_refresh_token("rt-g2").await.unwrap().is_some());
        assert!(!store.is_access_token_revoked("at-g2").await.unwrap());
    })
    .await;
}
