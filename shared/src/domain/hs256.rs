//! HS256, the one JWT algorithm Petraf signs and accepts, as jsonwebtoken's
//! crypto provider. The crate's bundled providers bring RSA, ECDSA and EdDSA
//! (RustCrypto) or aws-lc into every binary that verifies a resume token;
//! HMAC-SHA256 is all a resume token needs.

use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    jwk_utils: JwkUtils::new_unimplemented(),
};

/// Makes HS256 jsonwebtoken's provider for this process. Idempotent: an
/// `Err` means a provider is installed already, which is ours, since no
/// other crate here signs JWTs.
pub fn install() {
    let _ = HS256_ONLY.install_default();
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    only_hs256(algorithm)?;
    Ok(Box::new(Hs256(keyed(key.try_get_hmac_secret()?)?)))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    only_hs256(algorithm)?;
    Ok(Box::new(Hs256(keyed(key.try_get_hmac_secret()?)?)))
}

fn only_hs256(algorithm: &Algorithm) -> Result<()> {
    match algorithm {
        Algorithm::HS256 => Ok(()),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn keyed(secret: &[u8]) -> Result<HmacSha256> {
    HmacSha256::new_from_slice(secret).map_err(|_| ErrorKind::InvalidKeyFormat.into())
}

struct Hs256(HmacSha256);

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    /// Constant-time comparison (`verify_slice`).
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.verify_slice(signature)
            .map_err(signature::Error::from_source)
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2: HMAC-SHA256 of "what do ya want for nothing?"
    /// under the key "Jefe".
    #[test]
    fn signs_as_rfc_4231_says_and_verifies_only_that() {
        let signer = signer(&Algorithm::HS256, &EncodingKey::from_secret(b"Jefe")).unwrap();
        let mac = signer.try_sign(b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex::encode(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let verifier = verifier(&Algorithm::HS256, &DecodingKey::from_secret(b"Jefe")).unwrap();
        assert!(
            verifier
                .verify(b"what do ya want for nothing?", &mac)
                .is_ok()
        );
        assert!(
            verifier
                .verify(b"what do ya want for nothing!", &mac)
                .is_err()
        );
        let mut forged = mac.clone();
        forged[31] ^= 1;
        assert!(
            verifier
                .verify(b"what do ya want for nothing?", &forged)
                .is_err()
        );
    }

    #[test]
    fn any_other_algorithm_is_refused() {
        let key = EncodingKey::from_secret(b"secret");
        for algorithm in [
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::ES256,
        ] {
            let refused = signer(&algorithm, &key).err().expect("refused");
            assert_eq!(refused.kind(), &ErrorKind::InvalidAlgorithm);
        }
        let refused = verifier(&Algorithm::EdDSA, &DecodingKey::from_secret(b"secret"))
            .err()
            .expect("refused");
        assert_eq!(refused.kind(), &ErrorKind::InvalidAlgorithm);
    }
}
