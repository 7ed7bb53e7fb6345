//! DKIM keys: one RSA and one Ed25519 key per local domain, in `DIR/dkim/` (mode 0600).
//!
//! RFC 6376 section 3.6 puts the public half in the DNS as a TXT record at
//! `SELECTOR._domainkey.DOMAIN`; RFC 8463 adds Ed25519 keys beside RSA ones. We sign with both
//! (section 3.5 allows several signatures), so a verifier that knows only RSA still passes:
//!
//! ```text
//! DIR/dkim/lab1.test.rsa.der        PKCS#1 RSA private key, 2048 bits     selector postlab-rsa
//! DIR/dkim/lab1.test.ed25519.der    PKCS#8 Ed25519 private key            selector postlab-ed25519
//! ```
//!
//! The key generation itself is mail-auth's (`DkimKeyPair`); this file only decides where keys
//! live and writes the TXT records an administrator publishes (`postlab dkim show DOMAIN`).

use std::fs;
use std::path::{Path, PathBuf};

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::dkim::generate::DkimKeyPair;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::EncodePublicKey as _;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

use crate::mailbox::durable;

/// The selectors we publish under; `s=` in each signature names one.
pub const RSA_SELECTOR: &str = "postlab-rsa";
pub const ED25519_SELECTOR: &str = "postlab-ed25519";

/// RFC 8301 section 3.2: signers "MUST use RSA keys of at least 1024 bits" and "SHOULD use
/// RSA keys of at least 2048 bits".
const RSA_BITS: usize = 2048;

/// The two signing keys of one domain.
pub struct DomainKeys {
    pub rsa: RsaKey<Sha256>,
    pub ed25519: Ed25519Key,
}

fn path(dir: &Path, domain: &str, kind: &str) -> PathBuf {
    dir.join(format!("{}.{kind}.der", domain.to_ascii_lowercase()))
}

/// Makes the keys of `domain` if they do not exist yet; says which it made.
pub fn ensure(dir: &Path, domain: &str) -> Result<Vec<String>, String> {
    use std::os::unix::fs::PermissionsExt as _;
    durable::create_dir_all_durably(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o700)))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut made = Vec::new();
    let rsa = path(dir, domain, "rsa");
    if !rsa.exists() {
        let pair = DkimKeyPair::generate_rsa(RSA_BITS).map_err(|e| e.to_string())?;
        write_secret(&rsa, pair.private_key())?;
        made.push(format!("{}: rsa-sha256, {RSA_BITS} bits", rsa.display()));
    }
    let ed = path(dir, domain, "ed25519");
    if !ed.exists() {
        let pair = DkimKeyPair::generate_ed25519().map_err(|e| e.to_string())?;
        write_secret(&ed, pair.private_key())?;
        made.push(format!("{}: ed25519-sha256 (RFC 8463)", ed.display()));
    }
    Ok(made)
}

/// Private keys are written 0600 (DESIGN.md: everything under DIR), then renamed into place so
/// a crash never leaves half a key.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The keys of `domain`, or `None` when it has none (signing is then skipped, and said so).
pub fn load(dir: &Path, domain: &str) -> Option<DomainKeys> {
    let rsa = fs::read(path(dir, domain, "rsa")).ok()?;
    let ed = fs::read(path(dir, domain, "ed25519")).ok()?;
    Some(DomainKeys {
        rsa: RsaKey::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(rsa))).ok()?,
        ed25519: Ed25519Key::from_pkcs8_der(&ed).ok()?,
    })
}

/// The DNS records to publish for `domain`, as `(owner name, TXT text)`:
///
/// ```text
/// postlab-rsa._domainkey.lab1.test.      TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkqh…"
/// postlab-ed25519._domainkey.lab1.test.  TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg…"
/// ```
///
/// RFC 6376 section 3.6.1 names the RSA key an RSAPublicKey; we publish it wrapped in a
/// SubjectPublicKeyInfo, the form OpenDKIM, dkimpy and the large mail services all read.
pub fn txt_records(dir: &Path, domain: &str) -> Option<Vec<(String, String)>> {
    let keys = load(dir, domain)?;
    let pkcs1 = keys.rsa.public_key();
    let spki = rsa::RsaPublicKey::from_pkcs1_der(&pkcs1)
        .ok()?
        .to_public_key_der()
        .ok()?;
    let b64 = |bytes: &[u8]| base64ct::Base64::encode_string(bytes);
    use base64ct::Encoding as _;
    let domain = domain.to_ascii_lowercase();
    Some(vec![
        (
            format!("{RSA_SELECTOR}._domainkey.{domain}."),
            format!("v=DKIM1; k=rsa; p={}", b64(spki.as_bytes())),
        ),
        (
            format!("{ED25519_SELECTOR}._domainkey.{domain}."),
            format!("v=DKIM1; k=ed25519; p={}", b64(&keys.ed25519.public_key())),
        ),
    ])
}

/// A TXT record's text in a zone file: RFC 1035 section 3.3.14 strings hold 255 octets at
/// most, so a long key is split into several quoted strings, which a resolver joins again
/// (RFC 6376 section 3.6.2.2).
pub fn zone_strings(text: &str) -> String {
    text.as_bytes()
        .chunks(255)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect::<Vec<_>>()
        .join(" ")
}
