//! Step 4 of the flowchart, `[4 DNS]`: which server receives mail for a remote domain?
//!
//! When a recipient's domain is not ours (step 3 decided that), the outbound queue asks
//! [`Resolve::mail_hosts`] for the domain's mail exchangers, then (step 5) connects to their
//! addresses in the order given. The rules come from RFC 5321 section 5.1, RFC 974 and RFC 7505:
//!
//! ```text
//!   MX? b.test ──▶ records  ──▶ sort by preference (lower first), shuffle equal ones,
//!       │                       then A/AAAA? each host; a host with no address is skipped
//!       ├──────▶ empty (NODATA) ─▶ "implicit MX": the domain's own A/AAAA, preference 0
//!       ├──────▶ one MX "0 ."  ─▶ null MX: the domain takes no mail; bounce at once
//!       ├──────▶ NXDOMAIN       ─▶ no such domain; bounce at once
//!       └──────▶ timeout, SERVFAIL ─▶ temporary; keep the message and try again later
//! ```
//!
//! The answer is the typed [`Lookup`]; the queue turns it into delivered / deferred / bounced.
//! The queries and answers themselves come back as text lines for the transcript
//! ([`Resolve::mail_hosts_explained`]), so a class sees `MX? b.test → 10 mx.b.test` happen.
//!
//! - [`resolver`]: the real lookups, with hickory-resolver (async inside, blocking outside).
//! - [`cache`]: SPF, DKIM and DMARC's TXT answers, parsed, kept for their TTL.
//! - [`zone`]: the standard zone files that `postlab dns` serves; [`lab`]: that server.
//!
//! What can go wrong: the DNS server does not answer (→ `Temporary` after a short timeout), the
//! domain does not exist (→ `NoSuchDomain`), or it exists but names no reachable host (→
//! `Temporary`, since a zone being edited may be fixed by the next attempt).
//!
//! The trait [`Resolve`] is what the queue holds (STYLE.md 11), so tests can hand it a resolver
//! with fixed answers instead of the network.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

pub mod cache;
pub mod lab;
pub mod resolver;
pub mod zone;

pub use resolver::{DnsResolver, Options};

/// What the DNS says about where to deliver mail for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Hosts to try, in order: best preference first, each with its addresses.
    Hosts(Vec<MailHost>),
    /// The domain publishes a null MX (RFC 7505): it accepts no mail. Permanent.
    NullMx,
    /// NXDOMAIN: the domain does not exist. Permanent (RFC 5321 section 5.1: "MUST be reported
    /// as an error").
    NoSuchDomain,
    /// The answer could not be had now (timeout, SERVFAIL, no usable host); try again later.
    Temporary(String),
}

/// One mail exchanger for a domain, with the addresses to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailHost {
    /// The exchange's name, without the trailing dot: `mx.b.test`.
    pub name: String,
    /// The MX preference: lower is tried first.
    pub preference: u16,
    /// Its A and AAAA addresses; never empty (hosts without one are skipped).
    pub addrs: Vec<IpAddr>,
    /// True when the domain has no MX records and its own address is used (RFC 5321 section
    /// 5.1, the "implicit MX" with preference 0).
    pub implicit: bool,
}

/// Finds the mail hosts of a domain. The queue holds one of these; tests substitute their own.
pub trait Resolve: Send + Sync {
    /// The mail hosts for `domain` (e.g. `b.test`), or why there are none. An address
    /// literal (`[192.0.2.1]`) needs no DNS and is not a domain here: it gives `NoSuchDomain`.
    fn mail_hosts(&self, domain: &str) -> Lookup;

    /// The same, plus each query and its answer as a line for the transcript, which the caller
    /// labels `[4 DNS]`. A resolver that makes no queries (a test double) just describes its
    /// answer.
    fn mail_hosts_explained(&self, domain: &str) -> (Lookup, Vec<String>) {
        let lookup = self.mail_hosts(domain);
        let lines = explain(domain, &lookup);
        (lookup, lines)
    }

    /// The hickory resolver behind this door, for the TXT lookups of SPF, DKIM and DMARC
    /// (`src/mailauth/`), run with [`resolver::block_on`]. `None` for a resolver that asks no
    /// DNS (a test double): the checks are then skipped, and the transcript says so.
    fn hickory(&self) -> Option<&hickory_resolver::TokioResolver> {
        None
    }

    /// The TXT answers of those lookups, parsed, kept for their TTL ([`cache`]); shared by
    /// every message this resolver checks. `None`: nothing is kept.
    fn txt_cache(&self) -> Option<&cache::TtlCache<mail_auth::Txt>> {
        None
    }
}

/// A resolver whose answers are written in advance: for tests of the queue, which should not
/// depend on a DNS server. A domain it was not given is `NoSuchDomain`.
///
/// ```
/// use postlab::dns::{FixedAnswers, Lookup, Resolve};
/// let dns = FixedAnswers::default().with("null.test", Lookup::NullMx);
/// assert_eq!(dns.mail_hosts("NULL.test."), Lookup::NullMx);
/// assert_eq!(dns.mail_hosts("other.test"), Lookup::NoSuchDomain);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FixedAnswers {
    answers: HashMap<String, Lookup>,
}

impl FixedAnswers {
    /// Adds the answer for `domain`.
    pub fn with(mut self, domain: &str, lookup: Lookup) -> FixedAnswers {
        self.answers.insert(key(domain), lookup);
        self
    }
}

impl Resolve for FixedAnswers {
    fn mail_hosts(&self, domain: &str) -> Lookup {
        self.answers
            .get(&key(domain))
            .cloned()
            .unwrap_or(Lookup::NoSuchDomain)
    }
}

/// Domain names compare without case and without a final dot (RFC 1035 section 2.3.3).
fn key(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

/// Describes an answer in one line per host, e.g. `b.test → 10 mx.b.test [127.0.0.2]`, for a
/// transcript.
pub fn explain(domain: &str, lookup: &Lookup) -> Vec<String> {
    match lookup {
        Lookup::Hosts(hosts) => hosts
            .iter()
            .map(|host| {
                let kind = if host.implicit { " (implicit MX)" } else { "" };
                format!(
                    "{domain} → {} {} [{}]{kind}",
                    host.preference,
                    host.name,
                    join_addrs(&host.addrs)
                )
            })
            .collect(),
        Lookup::NullMx => vec![format!("{domain} → null MX: the domain accepts no mail")],
        Lookup::NoSuchDomain => vec![format!("{domain} → NXDOMAIN: no such domain")],
        Lookup::Temporary(why) => vec![format!("{domain} → temporary failure: {why}")],
    }
}

/// `127.0.0.2, ::1`: addresses as a transcript shows them.
pub(crate) fn join_addrs(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the `dns_server` setting: empty for the system resolver, else `ADDR` (port 53) or
/// `ADDR:PORT` (`[ADDR]:PORT` for IPv6).
///
/// ```text
/// dns_server =                    the system's /etc/resolv.conf
/// dns_server = 127.0.0.1:10053    a classroom `postlab dns`
/// dns_server = 192.0.2.53         port 53
/// ```
pub fn parse_server(value: &str) -> Result<Option<SocketAddr>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(Some(addr));
    }
    match value.parse::<IpAddr>() {
        Ok(ip) => Ok(Some(SocketAddr::new(ip, 53))),
        Err(_) => Err(format!(
            "dns_server: '{value}' is not ADDR or ADDR:PORT (e.g. 127.0.0.1:10053), nor empty"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_server_setting() {
        let table: &[(&str, Result<Option<&str>, ()>)] = &[
            ("", Ok(None)),
            ("  ", Ok(None)),
            ("127.0.0.1:10053", Ok(Some("127.0.0.1:10053"))),
            ("192.0.2.53", Ok(Some("192.0.2.53:53"))),
            ("[::1]:5353", Ok(Some("[::1]:5353"))),
            ("::1", Ok(Some("[::1]:53"))),
            ("dns.example", Err(())),
            ("127.0.0.1:99999", Err(())),
        ];
        for (input, want) in table {
            let got = parse_server(input)
                .map(|a| a.map(|a| a.to_string()))
                .map_err(|_| ());
            let want = want.map(|a| a.map(str::to_string));
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn explain_names_each_host_in_order() {
        let lookup = Lookup::Hosts(vec![
            MailHost {
                name: "mx.b.test".into(),
                preference: 10,
                addrs: vec![IpAddr::from([127, 0, 0, 2])],
                implicit: false,
            },
            MailHost {
                name: "b.test".into(),
                preference: 0,
                addrs: vec![IpAddr::from([127, 0, 0, 3]), "::1".parse().unwrap()],
                implicit: true,
            },
        ]);
        assert_eq!(
            explain("b.test", &lookup),
            [
                "b.test → 10 mx.b.test [127.0.0.2]",
                "b.test → 0 b.test [127.0.0.3, ::1] (implicit MX)"
            ]
        );
        assert_eq!(
            explain("null.test", &Lookup::NullMx),
            ["null.test → null MX: the domain accepts no mail"]
        );
        // A resolver that asks no DNS still explains its answer for the transcript.
        let fixed = FixedAnswers::default().with("b.test", lookup.clone());
        assert_eq!(
            fixed.mail_hosts_explained("b.test"),
            (lookup.clone(), explain("b.test", &lookup))
        );
    }
}
