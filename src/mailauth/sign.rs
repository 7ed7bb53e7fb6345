//! Signing (RFC 6376 section 5): our users' mail gets a `DKIM-Signature:` before it is queued.
//!
//! Two signatures per message, one rsa-sha256 and one ed25519-sha256 (RFC 8463 section 4:
//! a signer "SHOULD" add an RSA signature beside the Ed25519 one for verifiers that know only
//! RSA). Both use relaxed/relaxed canonicalisation (section 3.4.2 and 3.4.4), which survives
//! the re-folding and trailing white space that servers on the way are known to add.
//!
//! Which headers are signed follows section 5.4.1's advice: the ones a reader sees and trusts
//! (From, To, Subject, Date …). `From` is signed twice over (listed once more than it occurs,
//! section 5.4.2), so a second `From:` cannot be added on the way without breaking it.

use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{Canonicalization, DkimSigner};

use super::keys::{DomainKeys, ED25519_SELECTOR, RSA_SELECTOR};

/// Section 5.4.1's list, less the ones that change in transit (Received, Return-Path).
const SIGNED_HEADERS: [&str; 12] = [
    "From",
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
];

/// The two `DKIM-Signature:` fields for `message` (header and body, as it will be queued),
/// each ending in CRLF, to put on top of it. The keys are read from disk for each message
/// (a few hundred octets), so a key replaced on disk is used at once.
pub fn signatures(keys: DomainKeys, domain: &str, message: &[u8]) -> Result<String, String> {
    let rsa = DkimSigner::from_key(keys.rsa)
        .domain(domain)
        .selector(RSA_SELECTOR)
        .headers(SIGNED_HEADERS)
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
        .sign(message)
        .map_err(|e| format!("rsa-sha256: {e}"))?;
    let ed = DkimSigner::from_key(keys.ed25519)
        .domain(domain)
        .selector(ED25519_SELECTOR)
        .headers(SIGNED_HEADERS)
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
        .sign(message)
        .map_err(|e| format!("ed25519-sha256: {e}"))?;
    Ok(format!("{}{}", ed.to_header(), rsa.to_header()))
}
