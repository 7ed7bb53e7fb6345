//! Mail addresses as SMTP carries them in `MAIL FROM` and `RCPT TO` (RFC 5321 §4.1.2).
//!
//! They belong to mail, not to one protocol: the SMTP session parses them (step 2), the router
//! decides on them (step 3), the queue writes them to disk, the relay client and bounces send
//! them on (step 5), and our own client (`postlab send`) checks them before it connects.
//!
//! ```text
//! Reverse-path = Path / "<>"
//! Forward-path = Path
//! Path         = "<" [ A-d-l ":" ] Mailbox ">"
//! Mailbox      = Local-part "@" ( Domain / address-literal )
//! Local-part   = Dot-string / Quoted-string
//! Domain       = sub-domain *("." sub-domain)
//! ```
//!
//! Limits (RFC 5321 §4.5.3.1): local part 64 octets, domain 255 octets, path 256 octets.
//! Non-ASCII addresses are allowed only in a transaction that asked for SMTPUTF8 (RFC 6531 §3.3).
//!
//! What can go wrong is typed ([`AddressError`]) so the session can answer with the right reply.

use std::fmt;

/// A mailbox: `local-part@domain`. The local part is kept exactly as written (a quoted local part
/// keeps its quotes), the domain as written but compared without regard to case.
///
/// `RCPT TO:<Postmaster>` with no domain is legal (RFC 5321 §4.1.1.3); it is held as local part
/// `Postmaster` with an empty domain, which the router treats as local.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub local_part: String,
    pub domain: String,
}

impl Address {
    /// Is this the bare `<postmaster>` form with no domain?
    pub fn is_bare_postmaster(&self) -> bool {
        self.domain.is_empty()
    }

    /// Does the domain sit in brackets, as an IP address (`[192.0.2.1]`)?
    pub fn is_address_literal(&self) -> bool {
        self.domain.starts_with('[')
    }

    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain.is_empty() {
            write!(f, "{}", self.local_part)
        } else {
            write!(f, "{}@{}", self.local_part, self.domain)
        }
    }
}

/// The envelope sender: a mailbox, or the null path `<>` used by bounces (RFC 5321 §4.5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    Null,
    Mailbox(Address),
}

impl fmt::Display for ReversePath {
    /// Written with its angle brackets, as in `Return-Path: <alice@example.org>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(a) => write!(f, "<{a}>"),
        }
    }
}

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Not of the form `<local@domain>` at all.
    Syntax,
    /// RFC 5321 §4.5.3.1.1: local part over 64 octets.
    LocalPartTooLong,
    /// RFC 5321 §4.5.3.1.2: domain over 255 octets.
    DomainTooLong,
    /// RFC 5321 §4.5.3.1.3: path over 256 octets.
    PathTooLong,
    /// Non-ASCII without SMTPUTF8 (RFC 6531 §3.3).
    NonAscii,
}

pub const MAX_LOCAL_PART: usize = 64;
pub const MAX_DOMAIN: usize = 255;
pub const MAX_PATH: usize = 256;

/// Parses a Path: `<` [source route `:`] Mailbox `>`. A source route is accepted and ignored,
/// as RFC 5321 §4.1.1.3 and Appendix C ask of servers. `<>` is refused here; the caller decides
/// whether the null path is allowed (it is for MAIL, not for RCPT).
///
/// `utf8` says whether the transaction asked for SMTPUTF8.
///
/// ```text
/// <alice@example.org>
/// <@relay.example:alice@example.org>
/// <"john smith"@example.org>
/// ```
pub fn parse_path(text: &str, utf8: bool) -> Result<Address, AddressError> {
    if text.len() > MAX_PATH {
        return Err(AddressError::PathTooLong);
    }
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .ok_or(AddressError::Syntax)?;
    let mailbox = match inner.strip_prefix('@') {
        // A-d-l ":" Mailbox. The route's domains must be well formed, but are otherwise ignored.
        Some(route) => {
            let (adl, mailbox) = route.split_once(':').ok_or(AddressError::Syntax)?;
            for at_domain in adl.split(',') {
                let domain = at_domain.strip_prefix('@').unwrap_or(at_domain);
                if !is_domain(domain, utf8) {
                    return Err(AddressError::Syntax);
                }
            }
            mailbox
        }
        None => inner,
    };
    if !utf8 && !mailbox.is_ascii() {
        return Err(AddressError::NonAscii);
    }
    if mailbox.eq_ignore_ascii_case("postmaster") {
        return Ok(Address {
            local_part: mailbox.to_string(),
            domain: String::new(),
        });
    }
    parse_mailbox(mailbox, utf8)
}

/// Parses `Local-part "@" ( Domain / address-literal )`.
pub fn parse_mailbox(text: &str, utf8: bool) -> Result<Address, AddressError> {
    // The local part may be quoted and contain '@', so split at the last '@'.
    let (local, domain) = text.rsplit_once('@').ok_or(AddressError::Syntax)?;
    if local.len() > MAX_LOCAL_PART {
        return Err(AddressError::LocalPartTooLong);
    }
    if domain.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    if !is_local_part(local, utf8) {
        return Err(AddressError::Syntax);
    }
    if !(is_domain(domain, utf8) || is_address_literal(domain)) {
        return Err(AddressError::Syntax);
    }
    Ok(Address {
        local_part: local.to_string(),
        domain: domain.to_string(),
    })
}

/// `Dot-string / Quoted-string`.
fn is_local_part(text: &str, utf8: bool) -> bool {
    if let Some(quoted) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return is_quoted_content(quoted, utf8);
    }
    // Dot-string = Atom *("." Atom): no empty atoms, so no leading, trailing or double dots.
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(|c| is_atext(c, utf8)))
}

/// `*QcontentSMTP`: printable ASCII except `"` and `\`, or a backslash pair.
fn is_quoted_content(text: &str, utf8: bool) -> bool {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(' '..='~') => {}
                _ => return false,
            },
            '"' => return false,
            ' '..='~' => {}
            c if utf8 && !c.is_ascii() && !c.is_control() => {}
            _ => return false,
        }
    }
    true
}

/// RFC 5322 §3.2.3 `atext`, widened to UTF-8 by RFC 6531 §3.3.
fn is_atext(c: char, utf8: bool) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (utf8 && !c.is_ascii() && !c.is_control() && !c.is_whitespace())
}

/// `Domain = sub-domain *("." sub-domain)`, each `Let-dig [Ldh-str]` (letters, digits and inner
/// hyphens). With `utf8`, labels may also hold non-ASCII letters (U-labels, RFC 6531 §3.3).
/// A trailing dot (`example.org.`) is not allowed in SMTP.
pub fn is_domain(text: &str, utf8: bool) -> bool {
    !text.is_empty()
        && text.len() <= MAX_DOMAIN
        && text.split('.').all(|label| {
            let ok_char = |c: char| {
                c.is_ascii_alphanumeric()
                    || c == '-'
                    || (utf8 && !c.is_ascii() && c.is_alphanumeric())
            };
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(ok_char)
        })
}

/// `address-literal`: `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
fn is_address_literal(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
        return false;
    };
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: &str) -> Address {
        parse_path(path, false).unwrap_or_else(|e| panic!("{path}: {e:?}"))
    }

    #[test]
    fn accepts_the_rfc_forms() {
        let cases = [
            ("<alice@example.org>", "alice", "example.org"),
            ("<Alice.Smith@Example.ORG>", "Alice.Smith", "Example.ORG"),
            (
                "<@relay.example,@b.example:bob@example.org>",
                "bob",
                "example.org",
            ),
            (
                "<\"john smith\"@example.org>",
                "\"john smith\"",
                "example.org",
            ),
            ("<\"a@b\"@example.org>", "\"a@b\"", "example.org"),
            ("<v%t.example@example.org>", "v%t.example", "example.org"),
            ("<t.example!v@example.org>", "t.example!v", "example.org"),
            ("<v@[192.0.2.9]>", "v", "[192.0.2.9]"),
            ("<v@[IPv6:2001:db8::1]>", "v", "[IPv6:2001:db8::1]"),
            ("<bob+tag@localhost>", "bob+tag", "localhost"),
        ];
        for (path, local, domain) in cases {
            let a = ok(path);
            assert_eq!(
                (a.local_part.as_str(), a.domain.as_str()),
                (local, domain),
                "{path}"
            );
        }
        assert!(ok("<Postmaster>").is_bare_postmaster());
    }

    #[test]
    fn refuses_what_the_grammar_does_not_allow() {
        let cases = [
            ("alice@example.org", AddressError::Syntax),
            ("<alice>", AddressError::Syntax),
            ("<alice@>", AddressError::Syntax),
            ("<@example.org>", AddressError::Syntax),
            ("<a..b@example.org>", AddressError::Syntax),
            ("<.a@example.org>", AddressError::Syntax),
            ("<a b@example.org>", AddressError::Syntax),
            ("<v@t.example.>", AddressError::Syntax),
            ("<v@-bad.example>", AddressError::Syntax),
            ("<v@[999.1.1.1]>", AddressError::Syntax),
            ("<a\"b@example.org>", AddressError::Syntax),
            ("<a\u{0}b@example.org>", AddressError::Syntax),
            ("<josé@example.org>", AddressError::NonAscii),
        ];
        for (path, want) in cases {
            assert_eq!(parse_path(path, false), Err(want), "{path}");
        }
    }

    #[test]
    fn enforces_the_length_limits() {
        let local = "a".repeat(65);
        assert_eq!(
            parse_path(&format!("<{local}@example.org>"), false),
            Err(AddressError::LocalPartTooLong)
        );
        let label = "d".repeat(60);
        let domain = [label.as_str(); 5].join(".");
        assert_eq!(
            parse_mailbox(&format!("a@{domain}"), false),
            Err(AddressError::DomainTooLong)
        );
        let long = format!("<{}@{}>", "a".repeat(64), [label.as_str(); 4].join("."));
        assert_eq!(parse_path(&long, false), Err(AddressError::PathTooLong));
        assert!(parse_path(&format!("<{}@example.org>", "a".repeat(64)), false).is_ok());
    }

    #[test]
    fn utf8_addresses_need_smtputf8() {
        let a = parse_path("<josé@exämple.org>", true).unwrap();
        assert_eq!(a.local_part, "josé");
        assert!(!a.is_ascii());
    }
}
