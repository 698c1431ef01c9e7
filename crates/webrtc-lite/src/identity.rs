//! The certificate a node's answers prove themselves with, and the
//! handshake configuration that checks the peer's against its offer.

use std::sync::Arc;

use rtc::crypto::{RTCCrypto, RTCCryptoProvider, SignatureScheme};
use rtc::dtls::config::{ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, HandshakeConfig};
use rtc::dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};

use crate::Error;

/// The primitives STUN and SRTP use (ring).
pub(crate) fn crypto() -> &'static dyn RTCCrypto {
    &rtc::crypto::providers::RingCrypto
}

/// A self-signed ECDSA certificate and its SHA-256 fingerprint. One per
/// node: a browser checks it against the answer's fingerprint, not a name.
pub struct Identity {
    certificate: rtc::dtls::crypto::Certificate,
    fingerprint: String,
    provider: Arc<dyn RTCCryptoProvider>,
}

impl Identity {
    pub fn generate() -> Result<Identity, Error> {
        let err = |e: String| Error::Transport(format!("DTLS certificate: {e}"));
        let provider = rtc::crypto::default_provider().map_err(|e| err(e.to_string()))?;
        let params = CertificateParams::new(vec!["hotline".to_owned()]).map_err(|e| err(e.to_string()))?;
        let certificate =
            RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)
                .map_err(|e| err(e.to_string()))?;
        let der = certificate
            .dtls_certificate
            .certificate
            .first()
            .ok_or_else(|| err("no certificate generated".into()))?;
        Ok(Identity {
            fingerprint: sha256_fingerprint(der.as_ref()),
            certificate: certificate.dtls_certificate,
            provider,
        })
    }

    /// Lower case, colon separated, as SDP's a=fingerprint carries it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A handshake configuration that accepts only the certificate whose
    /// SHA-256 fingerprint is `theirs`.
    pub(crate) fn handshake(&self, theirs: String, is_client: bool) -> Result<Arc<HandshakeConfig>, Error> {
        let verify: rtc::dtls::config::VerifyPeerCertificateFn =
            Arc::new(move |certs, _| match certs.first() {
                Some(cert) if sha256_fingerprint(cert) == theirs => Ok(()),
                _ => Err(rtc::shared::error::Error::Other(
                    "the certificate does not match the offer's fingerprint".into(),
                )),
            });
        ConfigBuilder::default()
            .with_crypto_provider(self.provider.clone())
            .with_certificates(vec![self.certificate.clone()])
            .with_srtp_protection_profiles(vec![
                SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
                SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
            ])
            .with_client_auth(ClientAuthType::RequireAnyClientCert)
            // No chain to check: the fingerprint above is the check.
            .with_insecure_skip_verify(true)
            .with_verify_peer_certificate(Some(verify))
            .with_extended_master_secret(ExtendedMasterSecretType::Require)
            .build(is_client, None)
            .map(Arc::new)
            .map_err(|e| Error::Transport(format!("DTLS: {e}")))
    }
}

fn sha256_fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    hex.join(":")
}
