//! Who really sent this? SPF, DKIM and DMARC: our mail signed, other servers' mail checked.
//!
//! Part of step 3 (`[3 MDA]`): after the content is in and before the message is kept
//! (`src/mta/accept.rs` makes one call, [`examine`]), what happens depends on where it came from:
//!
//! ```text
//!   logged in, or relay_networks ──► dkim_sign, and a recipient elsewhere? ──► DKIM-Signature:
//!                                     (rsa + ed25519) on top ──► queue
//!   port 25, anyone else ─────────► auth_check? ──► SPF(HELO) SPF(MAIL FROM) DKIM ──► DMARC
//!                                                    │  each result a transcript line, and one
//!                                                    ▼  Authentication-Results: header (RFC 8601)
//!                    dmarc_policy = enforce, DMARC fails: p=reject ─► 550 5.7.1, nothing kept
//!                                                         p=quarantine ─► the Junk folder
//! ```
//!
//! - [`keys`]: the keys in `DIR/dkim/` and the TXT records to publish; [`sign`]: signing.
//! - [`check`]: the three checks, their DNS lookups through `src/dns/`'s door; [`asked`]: the
//!   cache of TXT answers mail-auth is given, and the names it asked for.
//!
//! The protocols themselves (canonicalisation, record syntax, the SPF evaluation with its
//! ten-lookup limit, DMARC alignment) are the `mail-auth` crate's; this module decides when to
//! run them and shows what they found. What can go wrong: a DNS server that does not answer
//! (a check says `temperror`; the message is kept), keys that cannot be read (the message goes
//! unsigned, and the transcript says why).

use crate::context::Shared;
use crate::mta::message::{Message, Origin};
use crate::transcript::Step;

pub mod asked;
pub mod check;
pub mod keys;
pub mod sign;

/// What [`examine`] decided.
pub struct Examined {
    /// The message to keep (signed, or with its Authentication-Results), or `None`: refused.
    pub message: Option<Message>,
    /// What each check found, for the transcript.
    pub notes: Vec<(Step, String)>,
}

/// Signs or checks `message`, as its origin asks. The settings are the sessions' (SIGHUP
/// changes `dkim_sign`, `auth_check` and `dmarc_policy` for the next message).
pub fn examine(shared: &Shared, message: &Message) -> Examined {
    let config = shared.session_config();
    match &message.origin {
        // A signature is for the receiving server: mail that stays here is not signed (an
        // RSA-2048 signature costs about 2 ms of CPU, more than the rest of a local delivery).
        Origin::Ours if config.dkim_sign && leaves(message) => {
            sign_ours(&shared.data.dkim(), message)
        }
        Origin::Outside { ip, helo } if config.auth_check => {
            check::run(shared, &config, message, *ip, helo)
        }
        _ => Examined {
            message: Some(message.clone()),
            notes: Vec::new(),
        },
    }
}

/// Has the message a recipient on another server?
fn leaves(message: &Message) -> bool {
    message
        .envelope
        .recipients
        .iter()
        .any(|r| matches!(r.route, crate::mta::route::Route::Remote(_)))
}

/// DKIM-signs for the domain of the `From:` address when it is one of ours and has keys
/// (RFC 7489 section 3.1: DMARC wants the signing domain to match the author's).
fn sign_ours(dir: &std::path::Path, message: &Message) -> Examined {
    let domain = author_domain(&message.content);
    let signed = match domain.as_deref().map(|d| (d, keys::load(dir, d))) {
        None => Err("not DKIM-signed: no From: address".to_string()),
        Some((domain, None)) => Err(format!("not DKIM-signed: no key for {domain} in DIR/dkim/")),
        Some((domain, Some(keys))) => sign::signatures(keys, domain, &message.content)
            .map(|fields| {
                let mut content = Vec::with_capacity(fields.len() + message.content.len());
                content.extend_from_slice(fields.as_bytes());
                content.extend_from_slice(&message.content);
                let note = format!(
                    "DKIM-signed for {domain} (s={} and s={}, relaxed/relaxed)",
                    keys::ED25519_SELECTOR,
                    keys::RSA_SELECTOR
                );
                (content, note)
            })
            .map_err(|e| format!("not DKIM-signed: {e}")),
    };
    match signed {
        Ok((content, note)) => with_content(message, content, vec![(Step::Mda, note)], false),
        Err(note) => Examined {
            message: Some(message.clone()),
            notes: vec![(Step::Mda, note)],
        },
    }
}

/// The message with new content; the old content is not copied (a message may be large).
fn with_content(
    message: &Message,
    content: Vec<u8>,
    notes: Vec<(Step, String)>,
    junk: bool,
) -> Examined {
    Examined {
        message: Some(Message {
            envelope: message.envelope.clone(),
            received: message.received.clone(),
            content,
            origin: message.origin.clone(),
            junk,
        }),
        notes,
    }
}

/// The domain of the first `From:` address (RFC 5322 section 3.6.2), lower case.
pub fn author_domain(content: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::new().parse_headers(content)?;
    let from = parsed.from()?.first()?.address()?.to_string();
    let (_, domain) = from.rsplit_once('@')?;
    Some(domain.to_ascii_lowercase())
}

/// Makes the DKIM keys of every local domain that has none yet (on start, with `dkim_sign`).
pub fn ensure_keys(dir: &std::path::Path, domains: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    for domain in domains {
        match keys::ensure(dir, domain) {
            Ok(made) => lines.extend(made.into_iter().map(|m| format!("new DKIM key {m}"))),
            Err(e) => lines.push(format!("cannot make a DKIM key for {domain}: {e}")),
        }
    }
    lines
}

#[cfg(test)]
mod tests;
