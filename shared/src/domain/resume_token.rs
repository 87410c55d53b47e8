//! Resume tokens: HS256 JWTs of which only a SHA-256 hash is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, TimeZone, Utc};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const TOKEN_TYPE: &str = "resume_token";
pub const TOKEN_VERSION: &str = "1.0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeClaims {
    pub session_id: String,
    pub tenant_id: String,
    pub nonce: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(rename = "type")]
    pub token_type: String,
    pub version: String,
}

/// A freshly issued token; hand `token` to the client, store `hash`.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub hash: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not signed with HS256")]
    WrongAlgorithm,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token is not a resume token")]
    WrongType,
    #[error("the token has expired")]
    Expired,
}

/// Signs and checks resume tokens with the deployment's secret.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

/// Hex SHA-256 of a token: what the store keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Three dot-separated parts, each canonical unpadded base64url: one
/// token, one spelling. Padded or standard-alphabet re-encodings, stray
/// bits in the last character and whitespace are malformed, whatever a
/// JWT library would tolerate.
fn is_compact_base64url(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && URL_SAFE_NO_PAD
                    .decode(part)
                    .is_ok_and(|bytes| URL_SAFE_NO_PAD.encode(bytes) == *part)
        })
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> Self {
        super::hs256::install();
        TokenSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(
        &self,
        session_id: &str,
        tenant_id: &str,
        now: DateTime<Utc>,
        valid_for: Duration,
    ) -> IssuedToken {
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        let expires_at = now + valid_for;
        let claims = ResumeClaims {
            session_id: session_id.to_string(),
            tenant_id: tenant_id.to_string(),
            nonce: hex::encode(nonce),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            token_type: TOKEN_TYPE.to_string(),
            version: TOKEN_VERSION.to_string(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail");
        IssuedToken {
            hash: hash_token(&token),
            token,
            expires_at: Utc.timestamp_opt(claims.exp, 0).unwrap(),
        }
    }

    /// Checks algorithm, signature, type and expiry (against `now`, not the
    /// wall clock, so callers decide what time it is).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<ResumeClaims, TokenError> {
        let claims = self.verify_ignoring_expiry(token)?;
        if now.timestamp() >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Every check but expiry: what the server needs to recognise an
    /// expired session it issued.
    pub fn verify_ignoring_expiry(&self, token: &str) -> Result<ResumeClaims, TokenError> {
        if !is_compact_base64url(token) {
            return Err(TokenError::Malformed);
        }
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::WrongAlgorithm);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = decode::<ResumeClaims>(token, &self.decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                _ => TokenError::Malformed,
            }
        })?;
        if data.claims.token_type != TOKEN_TYPE {
            return Err(TokenError::WrongType);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    fn now() -> DateTime<Utc> {
        "2025-01-10T09:00:00Z".parse().unwrap()
    }

    fn signer() -> TokenSigner {
        TokenSigner::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn issued_tokens_verify_and_carry_every_claim() {
        let issued = signer().issue("S1", "T1", now(), Duration::days(14));
        assert_eq!(
            issued.expires_at,
            "2025-01-24T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(issued.hash, hash_token(&issued.token));
        assert_eq!(issued.hash.len(), 64);
        let claims = signer().verify(&issued.token, now()).unwrap();
        assert_eq!(
            (claims.session_id.as_str(), claims.tenant_id.as_str()),
            ("S1", "T1")
        );
        assert_eq!(
            (claims.token_type.as_str(), claims.version.as_str()),
            ("resume_token", "1.0")
        );
        assert_eq!(claims.exp - claims.iat, 14 * 86400);
        assert_eq!(claims.nonce.len(), 32);
    }

    #[test]
    fn two_tokens_for_one_session_differ() {
        let a = signer().issue("S1", "T1", now(), Duration::days(1));
        let b = signer().issue("S1", "T1", now(), Duration::days(1));
        assert_ne!(a.token, b.token);
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let issued = signer().issue("S1", "T1", now(), Duration::days(14));
        assert_eq!(
            signer().verify(&issued.token, now() + Duration::days(14)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn another_secret_fails_the_signature() {
        let issued = TokenSigner::new(b"another secret another secret!!!").issue(
            "S1",
            "T1",
            now(),
            Duration::days(1),
        );
        assert_eq!(
            signer().verify(&issued.token, now()),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn alg_none_and_other_algorithms_are_rejected() {
        let issued = signer().issue("S1", "T1", now(), Duration::days(1));
        let payload = issued.token.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let forged = format!("{none_header}.{payload}.");
        assert!(matches!(
            signer().verify(&forged, now()),
            Err(TokenError::Malformed | TokenError::WrongAlgorithm)
        ));
        let hs512 = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
        let forged = format!("{hs512}.{payload}.c2ln");
        assert_eq!(
            signer().verify(&forged, now()),
            Err(TokenError::WrongAlgorithm)
        );
    }

    #[test]
    fn a_tampered_payload_fails_and_a_wrong_type_is_refused() {
        let issued = signer().issue("S1", "T1", now(), Duration::days(1));
        let parts: Vec<&str> = issued.token.split('.').collect();
        let other = signer().issue("S2", "T1", now(), Duration::days(1));
        let other_payload = other.token.split('.').nth(1).unwrap();
        let spliced = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
        assert_eq!(
            signer().verify(&spliced, now()),
            Err(TokenError::BadSignature)
        );

        let claims = ResumeClaims {
            session_id: "S1".into(),
            tenant_id: "T1".into(),
            nonce: "n".into(),
            iat: now().timestamp(),
            exp: now().timestamp() + 60,
            token_type: "access_token".into(),
            version: "1.0".into(),
        };
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(signer().verify(&token, now()), Err(TokenError::WrongType));
        assert_eq!(
            signer().verify("not a token", now()),
            Err(TokenError::Malformed)
        );
    }

    /// A token signed over its own re-encoded parts: the signature is valid
    /// for exactly what was sent, so only the encoding rule can refuse it.
    fn signed_as(header: &str, payload: &str, encode_part: impl Fn(&[u8]) -> String) -> String {
        let message = format!(
            "{}.{}",
            encode_part(header.as_bytes()),
            encode_part(payload.as_bytes())
        );
        let mut mac =
            <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(b"0123456789abcdef0123456789abcdef")
                .unwrap();
        hmac::Mac::update(&mut mac, message.as_bytes());
        let signature = hmac::Mac::finalize(mac).into_bytes();
        format!("{message}.{}", encode_part(&signature))
    }

    #[test]
    fn only_canonical_unpadded_base64url_is_accepted() {
        let issued = signer().issue("S1", "T1", now(), Duration::days(1));
        let parts: Vec<&str> = issued.token.split('.').collect();
        let decoded: Vec<Vec<u8>> = parts
            .iter()
            .map(|p| URL_SAFE_NO_PAD.decode(p).unwrap())
            .collect();
        let (header, payload) = (
            String::from_utf8(decoded[0].clone()).unwrap(),
            String::from_utf8(decoded[1].clone()).unwrap(),
        );
        // The same claims, canonically encoded and signed, pass.
        let canonical = signed_as(&header, &payload, |b| URL_SAFE_NO_PAD.encode(b));
        assert!(signer().verify(&canonical, now()).is_ok());

        for (name, encode_part) in [
            (
                "padded standard",
                Box::new(|b: &[u8]| STANDARD.encode(b)) as Box<dyn Fn(&[u8]) -> String>,
            ),
            ("padded url-safe", Box::new(|b: &[u8]| URL_SAFE.encode(b))),
        ] {
            let forged = signed_as(&header, &payload, encode_part);
            assert_eq!(
                signer().verify(&forged, now()),
                Err(TokenError::Malformed),
                "{name}: {forged}"
            );
        }

        // The issued token with one part re-encoded (padded standard base64).
        for index in 0..3 {
            let mut reencoded: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            reencoded[index] = STANDARD.encode(&decoded[index]);
            if reencoded[index] == parts[index] {
                continue;
            }
            let token = reencoded.join(".");
            assert_eq!(
                signer().verify(&token, now()),
                Err(TokenError::Malformed),
                "part {index}"
            );
        }

        // Non-zero bits after the last full byte: another spelling of the same bytes.
        let signature = parts[2];
        let last = signature.chars().last().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let position = alphabet.find(last).unwrap();
        let sloppy = alphabet.chars().nth(position | 1).unwrap();
        assert_ne!(
            sloppy, last,
            "a 32-byte signature leaves two spare bits in its last character"
        );
        let token = format!(
            "{}.{}.{}{sloppy}",
            parts[0],
            parts[1],
            &signature[..signature.len() - 1]
        );
        assert_eq!(signer().verify(&token, now()), Err(TokenError::Malformed));

        for spaced in [
            format!(" {}", issued.token),
            format!("{}\n", issued.token),
            format!("{}.", issued.token),
        ] {
            assert_eq!(
                signer().verify(&spaced, now()),
                Err(TokenError::Malformed),
                "{spaced:?}"
            );
        }
    }
}
