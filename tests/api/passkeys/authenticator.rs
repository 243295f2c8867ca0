//! A software WebAuthn authenticator for tests over plain HTTP: it makes "none"-attested
//! ES256 credentials and signs assertions exactly as WebAuthn Level 3 sections 6.1, 6.5 and
//! 7 describe, so each test can change one thing (origin, counter, user handle) and see the
//! server refuse it. The browser test uses Chromium's own virtual authenticator instead.
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use latchkey::crypto::{b64url, b64url_decode};
use serde_json::{Value, json};

/// Authenticator data flags (WebAuthn section 6.1).
pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const BE: u8 = 0x08;
const AT: u8 = 0x40;

/// One discoverable credential on the authenticator.
pub struct SoftKey {
    pub id: Vec<u8>,
    pub key: EcdsaKeyPair,
    pub user_handle: Vec<u8>,
    pub rp_id: String,
    pub counter: u32,
    /// Flags set in every assertion and at creation (UP | UV by default).
    pub flags: u8,
}

impl SoftKey {
    /// Answers `navigator.credentials.create()` options (the JSON the server sent: the
    /// `publicKey` member) from `origin`: returns the credential and its `toJSON()` form.
    pub fn create(options: &Value, origin: &str) -> (SoftKey, Value) {
        Self::create_with_flags(options, origin, UP | UV)
    }

    /// `create` with these flags (e.g. `BE` for a synced passkey).
    pub fn create_with_flags(options: &Value, origin: &str, flags: u8) -> (SoftKey, Value) {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().expect("rp.id").to_owned();
        let user_handle = b64url_decode(pk["user"]["id"].as_str().expect("user.id")).unwrap();
        let challenge = pk["challenge"].as_str().expect("challenge");
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let id = latchkey::crypto::random_token().into_bytes()[..32].to_vec();
        let soft = SoftKey {
            id,
            key,
            user_handle,
            rp_id,
            counter: 0,
            flags,
        };
        let client_data = client_data("webauthn.create", challenge, origin);
        let mut auth_data = soft.auth_data_head(soft.flags | AT);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        auth_data.extend_from_slice(&(soft.id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&soft.id);
        auth_data.extend_from_slice(&soft.cose_key());
        let mut attestation = Vec::new();
        cbor_map_header(&mut attestation, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_map_header(&mut attestation, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        let id = b64url(&soft.id);
        let json = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data.as_bytes()),
                "attestationObject": b64url(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        });
        (soft, json)
    }

    /// Answers `navigator.credentials.get()` options from `origin`, with the counter
    /// advanced by one (unless the authenticator does not count).
    pub fn assert(&mut self, options: &Value, origin: &str) -> Value {
        if self.counter != 0 {
            self.counter += 1;
        }
        self.assert_with_counter(options, origin, self.counter)
    }

    /// An assertion with this exact signature counter.
    pub fn assert_with_counter(&self, options: &Value, origin: &str, counter: u32) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge");
        let client_data = client_data("webauthn.get", challenge, origin);
        let mut auth_data = self.auth_data_head(self.flags);
        auth_data[33..37].copy_from_slice(&counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest(&SHA256, client_data.as_bytes()).as_ref());
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        let id = b64url(&self.id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data.as_bytes()),
                "authenticatorData": b64url(&auth_data),
                "signature": b64url(signature.as_ref()),
                "userHandle": b64url(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }

    /// RP id hash, flags, counter.
    fn auth_data_head(&self, flags: u8) -> Vec<u8> {
        let mut v = digest(&SHA256, self.rp_id.as_bytes()).as_ref().to_vec();
        v.push(flags);
        v.extend_from_slice(&self.counter.to_be_bytes());
        v
    }

    /// The public key as a COSE_Key (RFC 9053): EC2, ES256, P-256, x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        assert_eq!(point.len(), 65, "uncompressed P-256 point");
        let mut v = Vec::new();
        cbor_map_header(&mut v, 5);
        cbor_int(&mut v, 1);
        cbor_int(&mut v, 2);
        cbor_int(&mut v, 3);
        cbor_int(&mut v, -7);
        cbor_int(&mut v, -1);
        cbor_int(&mut v, 1);
        cbor_int(&mut v, -2);
        cbor_bytes(&mut v, &point[1..33]);
        cbor_int(&mut v, -3);
        cbor_bytes(&mut v, &point[33..65]);
        v
    }
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> String {
    json!({
        "type": kind,
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string()
}

// The few CBOR (RFC 8949) items an attestation object needs.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn cbor_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        cbor_head(out, 0, n as u64);
    } else {
        cbor_head(out, 1, (-1 - n) as u64);
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    cbor_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn cbor_map_header(out: &mut Vec<u8>, n: u64) {
    cbor_head(out, 5, n);
}
