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

use openssl::ssl::{SslAcceptor, SslConnector, SslFiletype, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::X509;

use crate::config::{Config, RelayTls};
use crate::datadir::DataDir;
use crate::net::Before;

/// How long an implicit-TLS port waits for a client's first octet before deciding the client
/// expects a plain-text greeting (a TLS client sends its ClientHello at once).
pub const FIRST_OCTET_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The server side of TLS, built once at start and shared by every connection thread.
pub struct ServerTls {
    pub acceptor: Arc<SslAcceptor>,
    /// SHA-256 of the certificate, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it.
    pub fingerprint: String,
    /// SHA-256 of the certificate's public key (its DER SubjectPublicKeyInfo) in base64, the
    /// form `curl --pinnedpubkey sha256//…` and HPKP-style pins take; it stays the same when a
    /// certificate is renewed with the same key.
    pub key_pin: String,
    /// Why a self-signed certificate was made again at this start (it lacked a name).
    pub remade: Option<String>,
    pub cert_path: PathBuf,
    /// True when this start made the self-signed certificate (the banner says so).
    pub generated: bool,
}

impl ServerTls {
    /// Reads the configured certificate and key, or makes (once) a self-signed pair in `DIR/tls/`.
    ///
    /// A self-signed certificate names every name and address the server answers on
    /// ([`certificate_names`]); one made by an earlier start that lacks any of them (a new
    /// `--listen` address, a new hostname) is made again, and the banner says so.
    pub fn load(config: &Config, data: &DataDir) -> Result<ServerTls, String> {
        let names = certificate_names(config);
        let mut remade = None;
        let (cert_path, key_path, generated) = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone(), false),
            (None, None) => {
                let dir = data.root().join("tls");
                let cert = dir.join("cert.pem");
                let key = dir.join("key.pem");
                let mut generated = !cert.exists() || !key.exists();
                if !generated {
                    if let Some(missing) = missing_name(&cert, &names) {
                        remade = Some(format!("the old one did not name {missing}"));
                        generated = true;
                    }
                }
                if generated {
                    create_self_signed(&config.hostname, &names, &dir, &cert, &key)?;
                }
                (cert, key, generated)
            }
            _ => return Err("tls_cert and tls_key: give both files, or neither".into()),
        };
        let cert_pem = fs::read(&cert_path)
            .map_err(|e| format!("cannot read {}: {e}", cert_path.display()))?;
        let der = first_certificate(&cert_pem)
            .ok_or_else(|| format!("{}: no PEM CERTIFICATE in it", cert_path.display()))?;
        let unusable = |e: openssl::error::ErrorStack| {
            format!(
                "{} with {}: not a usable certificate and key: {e}",
                cert_path.display(),
                key_path.display()
            )
        };
        // Mozilla's "intermediate" settings, version 5: TLS 1.2 and 1.3, modern ciphers only.
        // The highest version both sides know wins, so TLS 1.3 is preferred (RFC 8446 §4.1.1).
        let mut builder =
            SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(unusable)?;
        builder
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(unusable)?;
        builder
            .set_certificate_chain_file(&cert_path)
            .map_err(unusable)?;
        builder
            .set_private_key_file(&key_path, SslFiletype::PEM)
            .map_err(unusable)?;
        builder.check_private_key().map_err(unusable)?;
        let key_pin = X509::from_der(&der)
            .and_then(|x509| x509.public_key())
            .and_then(|key| key.public_key_to_der())
            .map(|spki| {
                use base64ct::Encoding;
                let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
                base64ct::Base64::encode_string(digest.as_ref())
            })
            .map_err(unusable)?;
        Ok(ServerTls {
            acceptor: Arc::new(builder.build()),
            fingerprint: fingerprint(&der),
            key_pin,
            remade,
            cert_path,
            generated,
        })
    }
}

/// Every name and address a client may use to reach this server, for the self-signed
/// certificate: the hostname, `localhost`, the loopback addresses, and the `listen` address
/// when it is a specific one. A client checks the name it connected to against these
/// (RFC 6125 §6); `127.0.0.1`, which the banner tells students to use, must be among them.
pub fn certificate_names(config: &Config) -> Vec<String> {
    let mut names = vec![config.hostname.clone(), "localhost".to_string()];
    names.push("127.0.0.1".into());
    names.push("::1".into());
    if !config.listen.is_unspecified() {
        names.push(config.listen.to_string());
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.to_ascii_lowercase()));
    names
}

/// The first of `names` that the certificate in `cert_path` does not carry as a subject
/// alternative name; `None` when it names them all, or when it is not one of ours to remake
/// (an administrator's own certificate is never touched).
fn missing_name(cert_path: &Path, names: &[String]) -> Option<String> {
    let pem = fs::read(cert_path).ok()?;
    let x509 = X509::from_pem(&pem).ok()?;
    let ours = x509
        .subject_name()
        .entries()
        .any(|e| e.data().as_slice() == SELF_SIGNED_ORGANISATION.as_bytes());
    if !ours {
        return None;
    }
    let sans = x509.subject_alt_names();
    let carried: Vec<String> = sans
        .iter()
        .flatten()
        .filter_map(|san| {
            if let Some(dns) = san.dnsname() {
                return Some(dns.to_ascii_lowercase());
            }
            let ip = san.ipaddress()?;
            let ip: std::net::IpAddr = match ip.len() {
                4 => <[u8; 4]>::try_from(ip).ok()?.into(),
                16 => <[u8; 16]>::try_from(ip).ok()?.into(),
                _ => return None,
            };
            Some(ip.to_string())
        })
        .collect();
    names
        .iter()
        .find(|n| !carried.contains(&n.to_ascii_lowercase()))
        .cloned()
}

/// The organisation our self-signed certificates name, so a later start knows one is ours.
const SELF_SIGNED_ORGANISATION: &str = "postlab (self-signed)";

/// Makes a self-signed certificate for `names` (host names and IP addresses); the key file is
/// mode 0600 (only the server's user may read it) from the moment it exists.
fn create_self_signed(
    hostname: &str,
    names: &[String],
    dir: &Path,
    cert_path: &Path,
    key: &Path,
) -> Result<(), String> {
    let failed = |e: rcgen::Error| format!("cannot make a self-signed certificate: {e}");
    let mut params = rcgen::CertificateParams::default();
    for name in names {
        // RFC 5280 §4.2.1.6: an address is an iPAddress entry, and careful clients (Python,
        // msmtp, curl) look for it there. Some older ones (fetchmail 6.4) compare the address
        // they connected to with the dNSName entries only, so an address goes in both forms.
        if let Ok(ip) = name.parse() {
            params.subject_alt_names.push(rcgen::SanType::IpAddress(ip));
        }
        let dns = name.clone().try_into().map_err(failed)?;
        params.subject_alt_names.push(rcgen::SanType::DnsName(dns));
    }
    // The subject says whose certificate it is, for `openssl s_client` to show.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, SELF_SIGNED_ORGANISATION);
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
    /// certificates for `verify` (a lab's self-signed servers). Our relay client uses OpenSSL
    /// directly, like the server side, so its transcript can name the version and cipher.
    pub fn connector(self, ca_file: Option<&Path>) -> Result<Option<SslConnector>, String> {
        let failed = |e: openssl::error::ErrorStack| format!("cannot set up TLS: {e}");
        let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(failed)?;
        builder
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(failed)?;
        match self {
            RelayTls::None => return Ok(None),
            // RFC 7435 opportunistic security: encryption against eavesdroppers; any
            // certificate is accepted, since a mail server's is rarely checkable.
            RelayTls::May | RelayTls::Encrypt => builder.set_verify(SslVerifyMode::NONE),
            RelayTls::Verify => {
                builder.set_verify(SslVerifyMode::PEER);
                if let Some(path) = ca_file {
                    builder
                        .set_ca_file(path)
                        .map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?;
                }
            }
        }
        Ok(Some(builder.build()))
    }
}

/// The seconds a client gets to finish a TLS handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the server side of a TLS handshake on `conn` after STARTTLS or STLS and writes the
/// outcome to the transcript under `step`. Shared by every protocol, so the injection defence
/// (unread plaintext bytes are dropped, never run) is in one place. Without a certificate
/// (`tls` is `None`) it notes so and fails. On false the connection is unusable and must be
/// closed.
pub fn handshake(
    conn: &mut crate::net::Conn,
    transcript: &mut crate::transcript::Transcript,
    step: crate::transcript::Step,
    tls: Option<&ServerTls>,
) -> bool {
    run_handshake(conn, transcript, step, tls, Before::Discard)
}

/// The handshake of an implicit-TLS port (SMTPS, POP3S, IMAPS; RFC 8314 §3.3), which must
/// come before anything else. A client that speaks plain text instead (`EHLO`, `a LOGIN`,
/// `USER`), or says nothing while it waits for a greeting, hears `plain_text_hint` at once,
/// in plain text, and the connection closes: a student who typed the wrong port learns which
/// one to use instead of staring at a silent screen until the handshake deadline.
pub fn handshake_implicit(
    conn: &mut crate::net::Conn,
    transcript: &mut crate::transcript::Transcript,
    step: crate::transcript::Step,
    tls: Option<&ServerTls>,
    plain_text_hint: &str,
) -> bool {
    // RFC 8446 §5.1: every TLS record starts with its content type; a ClientHello travels in
    // a handshake record, type 22.
    const HANDSHAKE_RECORD: u8 = 22;
    match conn.first_octet(FIRST_OCTET_WAIT) {
        Ok(Some(HANDSHAKE_RECORD)) => run_handshake(conn, transcript, step, tls, Before::Handshake),
        Ok(Some(_)) | Ok(None) => {
            let what = if conn.reader().buffer().is_empty() {
                format!(
                    "the client said nothing for {} s",
                    FIRST_OCTET_WAIT.as_secs()
                )
            } else {
                "the client spoke plain text".to_string()
            };
            transcript.note(step, &format!("{what} on a TLS port: told it so, closing"));
            transcript.server(step, plain_text_hint.trim_end());
            conn.send(plain_text_hint.as_bytes());
            let _ = conn.flush();
            false
        }
        Err(e) => {
            transcript.note(step, &format!("connection lost before TLS: {e}"));
            false
        }
    }
}

fn run_handshake(
    conn: &mut crate::net::Conn,
    transcript: &mut crate::transcript::Transcript,
    step: crate::transcript::Step,
    tls: Option<&ServerTls>,
    before: Before,
) -> bool {
    let Some(tls) = tls else {
        transcript.note(step, "no TLS certificate is set up: closing");
        return false;
    };
    match conn.start_tls(&tls.acceptor, HANDSHAKE_TIMEOUT, before) {
        Ok(discarded) => {
            if discarded > 0 {
                // CVE-2011-0411: these came in plaintext, where anyone could have added them.
                transcript.note(step, &format!("discarded {discarded} octets the client sent before the TLS handshake (never run)"));
            }
            let negotiated = conn.negotiated().map(|n| n.to_string()).unwrap_or_default();
            transcript.note(step, &format!("TLS established ({negotiated})"));
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
