//! TLS: the server's certificate, the acceptor every listener shares, and the relay client's
//! connector.
//!
//! Encryption is not a flowchart step of its own: it wraps step 2 (STARTTLS on the SMTP and
//! submission ports, RFC 3207; the SMTPS port that starts in TLS, RFC 8314 §3.3), step 5 (our
//! relay client asking the next server for STARTTLS) and later step 7 (POP3 STLS, IMAP
//! STARTTLS). This module holds what they share; `net::Conn::start_tls` does the switch on a
//! live connection.
//!
//! The certificate comes from `tls_cert` / `tls_key` in postlab.conf, or, when those are empty,
//! from `DIR/tls/cert.pem` and `DIR/tls/key.pem`, made on first start: self-signed, for the
//! hostname and `localhost`. A self-signed certificate proves nothing by itself, so the start
//! banner prints its SHA-256 fingerprint; a student compares it with what
//! `openssl s_client` shows and so knows they are talking to their own server.
//!
//! What can go wrong: an unreadable or mismatched certificate/key pair stops `postlab serve`
//! with a message naming the files; a failed handshake ends just that one connection.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use native_tls::{Identity, Protocol, TlsAcceptor, TlsConnector};

use crate::config::{Config, RelayTls};
use crate::datadir::DataDir;

/// What native-tls lets us say about a session. It exposes neither the negotiated protocol
/// version nor the cipher suite, so we state the floor we set: nothing older than TLS 1.2.
pub const NEGOTIATED: &str = "TLS 1.2 or newer";

/// The server side of TLS, built once at start and shared by every connection thread.
pub struct ServerTls {
    pub acceptor: Arc<TlsAcceptor>,
    /// SHA-256 of the certificate, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it.
    pub fingerprint: String,
    pub cert_path: PathBuf,
    /// True when this start made the self-signed certificate (the banner says so).
    pub generated: bool,
}

impl ServerTls {
    /// Reads the configured certificate and key, or makes (once) a self-signed pair in `DIR/tls/`.
    pub fn load(config: &Config, data: &DataDir) -> Result<ServerTls, String> {
        let (cert_path, key_path, generated) = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone(), false),
            (None, None) => {
                let dir = data.root().join("tls");
                let cert = dir.join("cert.pem");
                let key = dir.join("key.pem");
                let generated = !cert.exists() || !key.exists();
                if generated {
                    create_self_signed(&config.hostname, &dir, &cert, &key)?;
                }
                (cert, key, generated)
            }
            _ => return Err("tls_cert and tls_key: give both files, or neither".into()),
        };
        let read = |path: &Path| {
            fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let cert_pem = read(&cert_path)?;
        let key_pem = read(&key_path)?;
        let der = first_certificate(&cert_pem)
            .ok_or_else(|| format!("{}: no PEM CERTIFICATE in it", cert_path.display()))?;
        // native-tls wants the chain as PEM and the key as PKCS#8 PEM ("BEGIN PRIVATE KEY").
        let identity = Identity::from_pkcs8(&cert_pem, &key_pem).map_err(|e| {
            format!(
                "{} with {}: not a usable certificate and PKCS#8 key: {e}",
                cert_path.display(),
                key_path.display()
            )
        })?;
        let acceptor = TlsAcceptor::builder(identity)
            .min_protocol_version(Some(Protocol::Tlsv12))
            .build()
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
        Ok(ServerTls {
            acceptor: Arc::new(acceptor),
            fingerprint: fingerprint(&der),
            cert_path,
            generated,
        })
    }
}

/// Makes a self-signed certificate for `hostname` and `localhost`; the key file is mode 0600
/// (only the server's user may read it) from the moment it exists.
fn create_self_signed(
    hostname: &str,
    dir: &Path,
    cert_path: &Path,
    key: &Path,
) -> Result<(), String> {
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".to_string());
    }
    let failed = |e: rcgen::Error| format!("cannot make a self-signed certificate: {e}");
    let mut params = rcgen::CertificateParams::new(names).map_err(failed)?;
    // The subject says whose certificate it is, for `openssl s_client` to show.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "postlab (self-signed)");
    let key_pair = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key_pair).map_err(failed)?;
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |path: &Path, text: &str, mode: u32| -> Result<(), String> {
        use std::os::unix::fs::OpenOptionsExt;
        // A file left from before would keep its old mode: start afresh.
        let _ = fs::remove_file(path);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .and_then(|mut file| {
                file.write_all(text.as_bytes())?;
                file.sync_all()
            })
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(key, &key_pair.serialize_pem(), 0o600)?;
    write(cert_path, &cert.pem(), 0o644)
}

/// The DER bytes of the first `-----BEGIN CERTIFICATE-----` block of a PEM file.
fn first_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let body = &text[start + "-----BEGIN CERTIFICATE-----".len()..];
    let end = body.find("-----END CERTIFICATE-----")?;
    let base64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    use base64ct::Encoding;
    base64ct::Base64::decode_vec(&base64).ok()
}

/// SHA-256 of a DER certificate in the form `openssl x509 -noout -fingerprint -sha256` prints:
/// upper-case hex pairs separated by colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl RelayTls {
    /// The connector for this level (`None` for [`RelayTls::None`]). `ca_file` adds trusted
    /// certificates for `verify` (a lab's self-signed servers).
    pub fn connector(self, ca_file: Option<&Path>) -> Result<Option<TlsConnector>, String> {
        // Building a connector loads the system's trusted certificates (tens of milliseconds);
        // the one for `may` and `encrypt` never changes, so it is built once and shared.
        static UNVERIFIED: std::sync::OnceLock<Result<TlsConnector, String>> =
            std::sync::OnceLock::new();
        if matches!(self, RelayTls::May | RelayTls::Encrypt) {
            return UNVERIFIED
                .get_or_init(|| {
                    TlsConnector::builder()
                        .min_protocol_version(Some(Protocol::Tlsv12))
                        .danger_accept_invalid_certs(true)
                        .danger_accept_invalid_hostnames(true)
                        .build()
                        .map_err(|e| format!("cannot set up TLS: {e}"))
                })
                .clone()
                .map(Some);
        }
        let mut builder = TlsConnector::builder();
        builder.min_protocol_version(Some(Protocol::Tlsv12));
        match self {
            RelayTls::None => return Ok(None),
            RelayTls::May | RelayTls::Encrypt => {
                builder
                    .danger_accept_invalid_certs(true)
                    .danger_accept_invalid_hostnames(true);
            }
            RelayTls::Verify => {
                if let Some(path) = ca_file {
                    let pem = fs::read(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let certificate = native_tls::Certificate::from_pem(&pem)
                        .map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?;
                    builder.add_root_certificate(certificate);
                }
            }
        }
        builder
            .build()
            .map(Some)
            .map_err(|e| format!("cannot set up TLS: {e}"))
    }
}

/// The seconds a client gets to finish a TLS handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the server side of a TLS handshake on `conn` (STARTTLS, STLS, or an implicit-TLS port)
/// and writes the outcome to the transcript under `step`. Shared by every protocol, so the
/// injection defence (unread plaintext bytes are dropped, never run) is in one place.
/// Without a certificate (`tls` is `None`) it notes so and fails. On false the connection is
/// unusable and must be closed.
pub fn handshake(
    conn: &mut crate::net::Conn,
    transcript: &mut crate::transcript::Transcript,
    step: crate::transcript::Step,
    tls: Option<&ServerTls>,
) -> bool {
    let Some(tls) = tls else {
        transcript.note(step, "no TLS certificate is set up: closing");
        return false;
    };
    let acceptor = &tls.acceptor;
    match conn.start_tls(acceptor, HANDSHAKE_TIMEOUT) {
        Ok(discarded) => {
            if discarded > 0 {
                // CVE-2011-0411: these came in plaintext, where anyone could have added them.
                transcript.note(step, &format!("discarded {discarded} octets the client sent before the TLS handshake (never run)"));
            }
            transcript.note(step, &format!("TLS established ({NEGOTIATED})"));
            true
        }
        Err(e) => {
            transcript.note(step, &format!("TLS handshake failed: {e}"));
            log::warn!("TLS handshake with {} failed: {e}", conn.peer);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_colon_separated_upper_hex() {
        // SHA-256 of the empty string, a value anyone can check.
        assert_eq!(
            fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }

    #[test]
    fn finds_the_first_certificate() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n";
        assert_eq!(first_certificate(pem), Some(vec![1, 2, 3, 4]));
        assert_eq!(first_certificate(b"-----BEGIN PRIVATE KEY-----"), None);
    }

    #[test]
    fn relay_levels_parse() {
        assert_eq!(RelayTls::parse("MAY"), Some(RelayTls::May));
        assert_eq!(RelayTls::parse("verify"), Some(RelayTls::Verify));
        assert_eq!(RelayTls::parse("dane"), None);
    }
}
