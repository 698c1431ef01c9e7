//! `hotline dev-cert`: a certificate authority of one's own and a server
//! certificate it signed, for TLS on a laptop or a lab (rcgen). Clients
//! trust the authority (`[tls] ca_file`, `--ca`); a browser is told to
//! accept the server's key by its SPKI hash (Chromium's
//! `--ignore-certificate-errors-spki-list`) or imports the authority.
//! Never for production: the authority's key is thrown away, so nothing
//! else can be signed with it, and the certificate names only the hosts
//! given.

use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use sha2::Digest;

use super::TlsError;

/// What `dev-cert` wrote.
#[derive(Debug)]
pub struct DevCert {
    /// The authority's certificate (trust it).
    pub ca_file: PathBuf,
    /// The server's certificate chain (serve it).
    pub cert_file: PathBuf,
    /// The server's private key (readable by the owner only).
    pub key_file: PathBuf,
    /// SHA-256 of the server key's SubjectPublicKeyInfo, base64.
    pub spki_sha256: String,
}

/// Names every dev certificate carries besides the ones asked for.
const LOCAL: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

fn failed(e: impl ToString) -> TlsError {
    TlsError::Settings(format!("making the certificate: {}", e.to_string()))
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir` for `hosts` (and
/// loopback).
pub fn write(dir: &Path, hosts: &[String]) -> Result<DevCert, TlsError> {
    let mut names: Vec<String> = LOCAL.iter().map(|s| s.to_string()).collect();
    for h in hosts {
        if !names.contains(h) {
            names.push(h.clone());
        }
    }
    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hotline development authority");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).map_err(failed)?;

    let key = KeyPair::generate().map_err(failed)?;
    let mut params = CertificateParams::new(names).map_err(failed)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "hotline development server");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(failed)?;

    std::fs::create_dir_all(dir).map_err(|e| super::file_error(dir, e))?;
    let out = DevCert {
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
        spki_sha256: base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(key.public_key_der())),
    };
    let write = |path: &Path, text: String, private: bool| -> Result<(), TlsError> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| super::file_error(path, e))
    };
    write(&out.ca_file, ca.pem(), false)?;
    write(&out.cert_file, cert.pem(), false)?;
    write(&out.key_file, key.serialize_pem(), true)?;
    Ok(out)
}
