//! Unit tests of the key ring, against an in-memory `KeyRepository`.
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::json;

use super::*;
use crate::crypto::{b64url, b64url_decode};

#[derive(Default)]
struct MemoryRepo {
    keys: Mutex<Vec<StoredKey>>,
    lists: std::sync::atomic::AtomicUsize,
}

impl MemoryRepo {
    fn keys(&self) -> Vec<StoredKey> {
        self.keys.lock().unwrap().clone()
    }
}

#[async_trait]
impl KeyRepository for MemoryRepo {
    async fn list_signing_keys(&self) -> anyhow::Result<Vec<StoredKey>> {
        self.lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(self.keys())
    }
    async fn insert_signing_key(&self, key: &StoredKey) -> anyhow::Result<()> {
        self.keys.lock().unwrap().push(key.clone());
        Ok(())
    }
    async fn retire_signing_keys(
        &self,
        alg: SigningAlg,
        keep_kid: &str,
        at: i64,
    ) -> anyhow::Result<()> {
        for k in self.keys.lock().unwrap().iter_mut() {
            if k.alg == alg && k.retired_at.is_none_or(|r| r > at) && k.kid != keep_kid {
                k.retired_at = Some(at);
            }
        }
        Ok(())
    }
    async fn insert_successor_key(
        &self,
        key: &StoredKey,
        predecessor_kid: Option<&str>,
    ) -> anyhow::Result<bool> {
        let mut keys = self.keys.lock().unwrap();
        if let Some(p) = predecessor_kid {
            match keys
                .iter_mut()
                .find(|k| k.kid == p && k.retired_at.is_none())
            {
                Some(k) => k.retired_at = Some(key.activates_at),
                None => return Ok(false),
            }
        }
        for k in keys.iter_mut() {
            if k.alg == key.alg && k.retired_at.is_none_or(|r| r > key.activates_at) {
                k.retired_at = Some(key.activates_at);
            }
        }
        keys.push(key.clone());
        Ok(true)
    }
    async fn delete_signing_keys_retired_before(&self, before: i64) -> anyhow::Result<u64> {
        let mut keys = self.keys.lock().unwrap();
        let n = keys.len();
        keys.retain(|k| k.retired_at.is_none_or(|r| r >= before));
        Ok((n - keys.len()) as u64)
    }
}

const DAY: i64 = 86_400;

/// A master key that can be handed to several rings (`MasterKey` is not `Clone`).
fn master_copy(bytes: [u8; 32]) -> MasterKey {
    MasterKey::from_bytes(bytes)
}

async fn ring() -> (Arc<MemoryRepo>, Arc<KeyRing>) {
    let repo = Arc::new(MemoryRepo::default());
    let ring = KeyRing::load(repo.clone(), master_copy([1; 32]), DAY)
        .await
        .unwrap();
    (repo, ring)
}

fn claims() -> Value {
    json!({"iss": "https://issuer.example", "sub": "alice", "exp": 4_000_000_000i64})
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

#[tokio::test]
async fn first_load_creates_one_key_per_alg_and_later_loads_none() {
    let (repo, _ring) = ring().await;
    assert_eq!(repo.keys().len(), 3);
    let again = KeyRing::load(repo.clone(), master_copy([1; 32]), DAY)
        .await
        .unwrap();
    assert_eq!(repo.keys().len(), 3);
    assert_eq!(again.list().len(), 3);
}

#[tokio::test]
async fn signs_and_verifies_with_every_alg() {
    let (_repo, ring) = ring().await;
    for alg in SigningAlg::ALL {
        let token = ring.sign(alg, "at+jwt", &claims()).unwrap();
        let v = ring.verify(&token).expect("own token verifies");
        assert_eq!(v.claims, claims());
        assert_eq!(v.header["alg"], alg.as_str());
        assert_eq!(v.header["typ"], "at+jwt");
        assert!(v.header["kid"].is_string());
        assert!(!token.contains('='), "base64url without padding");
        let sig = b64url_decode(&parts(&token)[2]).unwrap();
        match alg {
            SigningAlg::ES256 => assert_eq!(sig.len(), 64, "RFC 7518 section 3.4: r || s"),
            SigningAlg::RS256 => assert_eq!(sig.len(), 256),
            SigningAlg::EdDSA => assert_eq!(sig.len(), 64),
        }
    }
}

#[tokio::test]
async fn tokens_verify_independently_with_jsonwebtoken() {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
    let (_repo, ring) = ring().await;
    let set: JwkSet = serde_json::from_slice(&ring.jwks_json()).unwrap();
    for (alg, theirs) in [
        (SigningAlg::RS256, Algorithm::RS256),
        (SigningAlg::ES256, Algorithm::ES256),
        (SigningAlg::EdDSA, Algorithm::EdDSA),
    ] {
        let token = ring.sign(alg, "JWT", &claims()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
        let mut validation = Validation::new(theirs);
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(data.claims, claims());
    }
}

#[tokio::test]
async fn jwks_has_public_members_only() {
    let (_repo, ring) = ring().await;
    let jwks: Value = serde_json::from_slice(&ring.jwks_json()).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].is_string() && key["alg"].is_string());
        let expected: &[&str] = match key["kty"].as_str().unwrap() {
            "RSA" => &["alg", "e", "kid", "kty", "n", "use"],
            "EC" => &["alg", "crv", "kid", "kty", "use", "x", "y"],
            "OKP" => &["alg", "crv", "kid", "kty", "use", "x"],
            other => panic!("unexpected kty {other}"),
        };
        let mut members: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        members.sort_unstable();
        assert_eq!(members, expected);
    }
}

#[tokio::test]
async fn tampered_tokens_are_rejected() {
    let (_repo, ring) = ring().await;
    let es = ring.sign(SigningAlg::ES256, "JWT", &claims()).unwrap();
    let rs = ring.sign(SigningAlg::RS256, "JWT", &claims()).unwrap();
    let p = parts(&es);

    let payload = b64url(
        json!({"sub": "mallory", "exp": 4_000_000_000i64})
            .to_string()
            .as_bytes(),
    );
    assert!(
        ring.verify(&format!("{}.{payload}.{}", p[0], p[2]))
            .is_none()
    );

    let mut sig = b64url_decode(&p[2]).unwrap();
    sig[10] ^= 1;
    assert!(
        ring.verify(&format!("{}.{}.{}", p[0], p[1], b64url(&sig)))
            .is_none()
    );
    assert!(ring.verify(&format!("{}.{}.", p[0], p[1])).is_none());

    // The header claims another alg for the same kid.
    let mut header: Value = serde_json::from_slice(&b64url_decode(&p[0]).unwrap()).unwrap();
    header["alg"] = "RS256".into();
    let swapped = b64url(header.to_string().as_bytes());
    assert!(
        ring.verify(&format!("{swapped}.{}.{}", p[1], p[2]))
            .is_none()
    );
    header["alg"] = "none".into();
    let none = b64url(header.to_string().as_bytes());
    assert!(ring.verify(&format!("{none}.{}.", p[1])).is_none());

    // The RS256 signature under the ES256 header (and kid).
    let r = parts(&rs);
    assert!(
        ring.verify(&format!("{}.{}.{}", p[0], r[1], r[2]))
            .is_none()
    );

    let mut unknown: Value = serde_json::from_slice(&b64url_decode(&p[0]).unwrap()).unwrap();
    unknown["kid"] = "nope".into();
    let unknown = b64url(unknown.to_string().as_bytes());
    assert!(
        ring.verify(&format!("{unknown}.{}.{}", p[1], p[2]))
            .is_none()
    );

    let huge = json!({"pad": "x".repeat(20_000)});
    let big = ring.sign(SigningAlg::EdDSA, "JWT", &huge).unwrap();
    assert!(
        ring.verify(&big).is_none(),
        "tokens over 16 KiB are refused"
    );

    for junk in [
        "",
        "...",
        "a.b.c",
        "\u{0}.\u{0}.\u{0}",
        "e30.e30.e30",
        &es[1..],
    ] {
        assert!(ring.verify(junk).is_none());
    }
}

#[tokio::test]
async fn a_delayed_rotation_publishes_the_new_key_before_signing_with_it() {
    let (_repo, ring) = ring().await;
    let before = ring.sign(SigningAlg::RS256, "JWT", &claims()).unwrap();
    let old_kid = ring.verify(&before).unwrap().header["kid"].clone();

    let new_kids = ring.rotate(600).await.unwrap();

    let jwks = ring.jwks_json();
    let jwks = std::str::from_utf8(&jwks).unwrap();
    assert!(
        new_kids.iter().all(|k| jwks.contains(k.as_str())),
        "published at once"
    );
    let after = ring.sign(SigningAlg::RS256, "JWT", &claims()).unwrap();
    assert_eq!(
        ring.verify(&after).unwrap().header["kid"],
        old_kid,
        "the old key signs until the new one activates"
    );
    let pending = ring
        .list()
        .into_iter()
        .find(|k| new_kids.contains(&k.kid))
        .unwrap();
    assert!(pending.activates_at > pending.created_at);
}

#[tokio::test]
async fn rotate_signs_with_new_key_and_keeps_old_one_published() {
    let (repo, ring) = ring().await;
    let old_token = ring.sign(SigningAlg::ES256, "JWT", &claims()).unwrap();
    let old_kids: Vec<String> = ring.list().into_iter().map(|k| k.kid).collect();

    let new_kids = ring.rotate(0).await.unwrap();
    assert_eq!(new_kids.len(), 3);
    assert_eq!(repo.keys().len(), 6);

    let list = ring.list();
    assert_eq!(list.len(), 6);
    for info in &list {
        assert_eq!(info.retired_at.is_none(), new_kids.contains(&info.kid));
    }
    let jwks = ring.jwks_json();
    let jwks = std::str::from_utf8(&jwks).unwrap();
    for kid in old_kids.iter().chain(&new_kids) {
        assert!(jwks.contains(kid.as_str()));
    }
    // Newest first.
    assert!(new_kids.contains(&list[0].kid));

    assert!(
        ring.verify(&old_token).is_some(),
        "retired keys still verify"
    );
    let new_token = ring.sign(SigningAlg::ES256, "JWT", &claims()).unwrap();
    let kid = ring.verify(&new_token).unwrap().header["kid"].clone();
    assert!(new_kids.iter().any(|k| kid == k.as_str()));
}

#[tokio::test]
async fn keys_past_retention_are_dropped_and_deleted() {
    let (repo, ring) = ring().await;
    let old_token = ring.sign(SigningAlg::EdDSA, "JWT", &claims()).unwrap();
    // Pretend the current keys were retired long ago, with fresh keys beside them.
    let fresh = rotate_keys(&*repo, &master_copy([1; 32]), DAY, 0)
        .await
        .unwrap();
    for k in repo.keys.lock().unwrap().iter_mut() {
        if k.retired_at.is_some() {
            k.retired_at = Some(now() - 2 * DAY);
        }
    }
    ring.reload().await.unwrap();
    assert_eq!(ring.list().len(), 3);
    assert!(ring.verify(&old_token).is_none());

    let kids: Vec<String> = fresh.into_iter().map(|k| k.kid).collect();
    rotate_keys(&*repo, &master_copy([1; 32]), DAY, 0)
        .await
        .unwrap();
    // The long-retired keys are deleted; the just-retired ones stay.
    assert_eq!(repo.keys().len(), 6);
    assert!(repo.keys().iter().any(|k| kids.contains(&k.kid)));
}

#[tokio::test]
async fn reload_picks_up_keys_of_other_nodes_and_reuses_parsed_keys() {
    let (repo, ring) = ring().await;
    let other = KeyRing::load(repo.clone(), master_copy([1; 32]), DAY)
        .await
        .unwrap();
    let before = ring.current();
    let new_kids = other.rotate(0).await.unwrap();

    let token = other.sign(SigningAlg::RS256, "JWT", &claims()).unwrap();
    assert!(ring.verify(&token).is_none(), "not reloaded yet");
    ring.reload().await.unwrap();
    assert!(ring.verify(&token).is_some());

    let after = ring.current();
    for e in &before.entries {
        let i = after.by_kid[&e.key.kid];
        assert!(Arc::ptr_eq(&e.key, &after.entries[i].key), "parsed once");
        assert!(after.entries[i].retired_at.is_some());
    }
    let signer = after.signer(SigningAlg::RS256, now()).unwrap();
    assert!(new_kids.contains(&signer.kid));
}

#[tokio::test]
async fn wrong_master_key_fails_load_and_rotation() {
    let (repo, _ring) = ring().await;
    let err = KeyRing::load(repo.clone(), master_copy([2; 32]), DAY)
        .await
        .unwrap_err();
    let kids: Vec<String> = repo.keys().into_iter().map(|k| k.kid).collect();
    assert!(
        kids.iter().any(|k| format!("{err:#}").contains(k.as_str())),
        "{err:#}"
    );
    assert!(
        rotate_keys(&*repo, &master_copy([2; 32]), DAY, 0)
            .await
            .is_err()
    );
    assert_eq!(repo.keys().len(), 3, "nothing stored with the wrong key");
}

#[tokio::test]
async fn sign_without_an_active_key_is_an_error() {
    let (repo, ring) = ring().await;
    for k in repo.keys.lock().unwrap().iter_mut() {
        k.retired_at = Some(now());
    }
    ring.reload().await.unwrap();
    assert!(ring.sign(SigningAlg::EdDSA, "JWT", &claims()).is_err());
}

#[tokio::test]
async fn reloader_reloads_periodically_and_stops_with_the_ring() {
    let (repo, ring) = ring().await;
    let lists = || repo.lists.load(std::sync::atomic::Ordering::SeqCst);
    let start = lists();
    let handle = ring.spawn_reloader(Duration::from_millis(40));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(lists() - start >= 2);
    drop(ring);
    tokio::time::timeout(Duration::from_secs(2), handle)
        .await
        .expect("the reloader ends once the ring is dropped")
        .unwrap();
}

#[tokio::test]
async fn automatic_rotation_publishes_ahead_and_happens_once_per_period() {
    let (repo, ring) = ring().await;
    let policy = super::RotationPolicy {
        period: 100,
        prepublish: 10,
        retention: DAY,
    };
    let t = now();
    let master = master_copy([1; 32]);
    assert!(
        super::rotate_due_keys(&*repo, &master, policy, t + 80)
            .await
            .unwrap()
            .is_empty(),
        "not due before period - prepublish"
    );
    let new = super::rotate_due_keys(&*repo, &master, policy, t + 95)
        .await
        .unwrap();
    assert_eq!(new.len(), 3);
    assert!(new.iter().all(|k| k.activates_at == t + 105));
    // Another node a moment later: nothing more to do.
    assert!(
        super::rotate_due_keys(&*repo, &master, policy, t + 96)
            .await
            .unwrap()
            .is_empty()
    );
    ring.reload().await.unwrap();
    // Published now, signing only from activation.
    assert_eq!(ring.list().len(), 6);
    let token = ring.sign(SigningAlg::ES256, "JWT", &claims()).unwrap();
    let kid = ring.verify(&token).unwrap().header["kid"].clone();
    assert!(new.iter().all(|k| kid != k.kid.as_str()));
}
