//! The real MX lookup (step 4), with hickory-resolver behind a blocking call.
//!
//! hickory is written for async Rust; postlab's own code is synchronous (one thread per
//! connection, DESIGN.md). So this file keeps one small current-thread tokio runtime, made on
//! first use and never handed out, and each lookup is a `block_on` on it. Several queue threads
//! may look up at once: tokio lets many threads `block_on` one current-thread runtime, taking
//! turns driving its sockets and timers. (Calling this from inside another tokio runtime would
//! panic; postlab has none.)
//!
//! The steps and the rules they follow are drawn in [`crate::dns`]. Every query and its answer
//! is written down as a line (`MX? b.test → 10 mx.b.test`) for the transcript.
//!
//! What can go wrong: no DNS server answers (each try waits [`Options::timeout`], then the
//! lookup is `Temporary`); `/etc/resolv.conf` cannot be read (construction fails, with the
//! reason); the domain is not a valid DNS name (`NoSuchDomain`: it can never resolve).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use rand::seq::SliceRandom as _;

use super::cache::TtlCache;
use super::{explain, join_addrs, Lookup, MailHost, Resolve};
use crate::config::Config;

/// How long to wait for the DNS. Short by default: a lookup runs while a queue thread waits,
/// and a DNS server that is down should defer the message soon, not hang the queue.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long one query waits for an answer before it is tried again.
    pub timeout: Duration,
    /// How many times a query is sent before the lookup gives up (`Temporary`).
    pub attempts: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(3),
            attempts: 2,
        }
    }
}

/// Answers are cached at most this long, so that a teacher who edits the lab
/// zone sees the change within half a minute, whatever TTL the zone gives.
const MAX_CACHE: Duration = Duration::from_secs(30);

/// The resolver the queue uses: the system's DNS servers, or one given server.
#[derive(Clone)]
pub struct DnsResolver {
    inner: TokioResolver,
    /// SPF, DKIM and DMARC records, parsed (`super::cache`).
    txt: Arc<TtlCache<mail_auth::Txt>>,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver").finish_non_exhaustive()
    }
}

impl DnsResolver {
    /// The DNS servers listed in `/etc/resolv.conf`.
    pub fn system(options: &Options) -> Result<DnsResolver, String> {
        let _inside = runtime()?.enter();
        let builder = TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system's DNS settings: {e}"))?;
        DnsResolver::build(builder, options)
    }

    /// One DNS server, over UDP and (for long answers) TCP: `127.0.0.1:10053` for the lab's
    /// `postlab dns`.
    pub fn server(addr: SocketAddr, options: &Options) -> Result<DnsResolver, String> {
        let _inside = runtime()?.enter();
        let mut server = NameServerConfig::udp_and_tcp(addr.ip());
        for connection in &mut server.connections {
            connection.port = addr.port();
        }
        let config = ResolverConfig::from_name_servers(vec![server]);
        let builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        DnsResolver::build(builder, options)
    }

    /// The resolver the `dns_server` setting asks for (empty: the system's).
    pub fn from_config(config: &Config) -> Result<DnsResolver, String> {
        match config.dns_server {
            Some(addr) => DnsResolver::server(addr, &Options::default()),
            None => DnsResolver::system(&Options::default()),
        }
    }

    fn build(
        mut builder: hickory_resolver::ResolverBuilder<TokioRuntimeProvider>,
        options: &Options,
    ) -> Result<DnsResolver, String> {
        let opts = builder.options_mut();
        opts.timeout = options.timeout;
        opts.attempts = options.attempts.max(1);
        opts.positive_max_ttl = Some(MAX_CACHE);
        // Half as long for "no such record": src/mailauth/asked.rs keeps such an answer, taken
        // from this cache, for as long again, and the total must stay within MAX_CACHE.
        opts.negative_max_ttl = Some(super::cache::MAX_NEGATIVE_TTL);
        let inner = builder
            .build()
            .map_err(|e| format!("cannot set up the DNS resolver: {e}"))?;
        Ok(DnsResolver {
            inner,
            txt: Arc::new(TtlCache::default()),
        })
    }
}

impl Resolve for DnsResolver {
    fn mail_hosts(&self, domain: &str) -> Lookup {
        self.mail_hosts_explained(domain).0
    }

    fn mail_hosts_explained(&self, domain: &str) -> (Lookup, Vec<String>) {
        let mut lines = Vec::new();
        let lookup = match runtime() {
            Ok(rt) => rt.block_on(self.find_mail_hosts(domain, &mut lines)),
            Err(e) => Lookup::Temporary(e),
        };
        lines.extend(explain(domain, &lookup));
        (lookup, lines)
    }

    fn hickory(&self) -> Option<&TokioResolver> {
        Some(&self.inner)
    }

    fn txt_cache(&self) -> Option<&TtlCache<mail_auth::Txt>> {
        Some(&self.txt)
    }
}

/// Runs other lookups (SPF, DKIM and DMARC's, `src/mailauth/`) on the same runtime as the MX
/// lookups, so they too are blocking calls for a connection thread.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, String> {
    Ok(runtime()?.block_on(future))
}

/// The one runtime every lookup runs on, made on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the DNS resolver's runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The answer to one query, as RFC 1035 section 4.1.1 reply codes sort it.
enum Answer {
    /// NOERROR with records of the type asked for.
    Records(Vec<RData>),
    /// NOERROR, but no record of that type (NODATA): the name exists.
    NoData,
    /// NXDOMAIN (RCODE 3): the name does not exist.
    NxDomain,
    /// No usable answer: timeout, SERVFAIL, REFUSED, a network error.
    Failed(String),
}

impl DnsResolver {
    /// RFC 5321 section 5.1, step by step; every query appends a line to `lines`.
    async fn find_mail_hosts(&self, domain: &str, lines: &mut Vec<String>) -> Lookup {
        // RFC 5321 section 5.1: names are fully qualified; a relay "MUST NOT" complete partial
        // names. The final dot stops the resolver from trying resolv.conf's search list.
        let Some(name) = fqdn(domain) else {
            lines.push(format!("'{domain}' is not a domain name"));
            return Lookup::NoSuchDomain;
        };
        let records = match self.query(&name, RecordType::MX).await {
            Answer::Records(records) => records,
            Answer::NoData => {
                lines.push(format!("MX? {domain} → no MX records"));
                return self.implicit_mx(domain, &name, lines).await;
            }
            Answer::NxDomain => {
                lines.push(format!("MX? {domain} → NXDOMAIN"));
                return Lookup::NoSuchDomain;
            }
            Answer::Failed(why) => {
                lines.push(format!("MX? {domain} → no answer: {why}"));
                return Lookup::Temporary(format!("MX lookup for {domain}: {why}"));
            }
        };
        let mut mx: Vec<(u16, Name)> = records
            .into_iter()
            .filter_map(|rdata| match rdata {
                RData::MX(mx) => Some((mx.preference, mx.exchange)),
                _ => None,
            })
            .collect();
        let listed: Vec<String> = mx
            .iter()
            .map(|(preference, exchange)| format!("{preference} {}", plain(exchange)))
            .collect();
        lines.push(format!("MX? {domain} → {}", listed.join(", ")));

        // RFC 7505 section 3: "a single MX RR ... with ... preference number 0 and a
        // zero-length label, written in master files as '.'" means: no mail here, ever.
        if let [(0, exchange)] = mx.as_slice() {
            if exchange.is_root() {
                return Lookup::NullMx;
            }
        }
        // RFC 5321 section 5.1: lower preference first, and among equal preferences the sender
        // "MUST randomize them to spread the load". Shuffling, then a stable sort, does both.
        mx.shuffle(&mut rand::rng());
        mx.sort_by_key(|(preference, _)| *preference);

        let mut hosts = Vec::new();
        let mut troubles = Vec::new();
        for (preference, exchange) in mx {
            if exchange.is_root() {
                // A "." among other MX records breaks RFC 7505 section 3; it names no host.
                lines.push(format!("{preference} . names no host: skipped"));
                continue;
            }
            let host = plain(&exchange);
            match self.addresses(&exchange, lines).await {
                Ok(addrs) if addrs.is_empty() => {
                    lines.push(format!("{host} has no address: skipped"));
                    troubles.push(format!("{host} has no address"));
                }
                Ok(addrs) => hosts.push(MailHost {
                    name: host,
                    preference,
                    addrs,
                    implicit: false,
                }),
                Err(why) => troubles.push(format!("{host}: {why}")),
            }
        }
        if hosts.is_empty() {
            // RFC 5321 section 5.1: MX records present but none usable "MUST be reported as an
            // error", and the address records of the domain itself must not be used instead.
            // A zone being fixed may work on the next attempt, so this defers rather than bounces.
            return Lookup::Temporary(format!(
                "no MX host of {domain} is usable ({})",
                troubles.join("; ")
            ));
        }
        Lookup::Hosts(hosts)
    }

    /// RFC 5321 section 5.1 (and RFC 974): "If an empty list of MXs is returned, the address
    /// is treated as if it was associated with an implicit MX RR, with a preference of 0,
    /// pointing to that host."
    async fn implicit_mx(&self, domain: &str, name: &Name, lines: &mut Vec<String>) -> Lookup {
        match self.addresses(name, lines).await {
            Ok(addrs) if addrs.is_empty() => {
                Lookup::Temporary(format!("{domain} has no MX and no A/AAAA records"))
            }
            Ok(addrs) => Lookup::Hosts(vec![MailHost {
                name: plain(name),
                preference: 0,
                addrs,
                implicit: true,
            }]),
            Err(why) => Lookup::Temporary(why),
        }
    }

    /// The A then AAAA addresses of `host`. `Ok(empty)` when it has none; `Err` when the DNS
    /// could not say.
    async fn addresses(&self, host: &Name, lines: &mut Vec<String>) -> Result<Vec<IpAddr>, String> {
        let mut addrs = Vec::new();
        let mut failure = None;
        for rtype in [RecordType::A, RecordType::AAAA] {
            let shown = format!("{rtype}? {}", plain(host));
            match self.query(host, rtype).await {
                Answer::Records(records) => {
                    let found: Vec<IpAddr> = records
                        .into_iter()
                        .filter_map(|rdata| match rdata {
                            RData::A(a) => Some(IpAddr::V4(a.0)),
                            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                            _ => None,
                        })
                        .collect();
                    lines.push(format!("{shown} → {}", join_addrs(&found)));
                    addrs.extend(found);
                }
                Answer::NoData => lines.push(format!("{shown} → none")),
                Answer::NxDomain => lines.push(format!("{shown} → NXDOMAIN")),
                Answer::Failed(why) => {
                    lines.push(format!("{shown} → no answer: {why}"));
                    failure = Some(format!("{shown}: {why}"));
                }
            }
        }
        match failure {
            Some(why) if addrs.is_empty() => Err(why),
            _ => Ok(addrs),
        }
    }

    async fn query(&self, name: &Name, rtype: RecordType) -> Answer {
        match self.inner.lookup(name.clone(), rtype).await {
            Ok(lookup) => {
                // The answer may hold the CNAME records that led to the data (RFC 5321 section
                // 5.1: "If a CNAME record is found, the resulting name is processed as if it
                // were the initial name"); keep only the type asked for.
                let records: Vec<RData> = lookup
                    .answers()
                    .iter()
                    .filter(|record| record.record_type() == rtype)
                    .map(|record| record.data.clone())
                    .collect();
                if records.is_empty() {
                    Answer::NoData
                } else {
                    Answer::Records(records)
                }
            }
            Err(e) if e.is_nx_domain() => Answer::NxDomain,
            Err(e) if e.is_no_records_found() => Answer::NoData,
            Err(e) => Answer::Failed(describe(&e)),
        }
    }
}

/// `b.test` as a fully qualified DNS name (`b.test.`), or `None` if it is not a name.
/// An internationalised domain (RFC 6531 allows `bücher.test` in an address) is asked for in
/// its ASCII form, `xn--bcher-kva.test` (RFC 5890), since that is what the DNS holds.
fn fqdn(domain: &str) -> Option<Name> {
    let domain = domain.trim_end_matches('.');
    if domain.is_empty() {
        return None;
    }
    Name::from_utf8(format!("{domain}.")).ok()
}

/// A name as people write it: `mx.b.test`, no final dot.
fn plain(name: &Name) -> String {
    let text = name.to_ascii();
    match text.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_ascii_lowercase(),
        _ => text.to_ascii_lowercase(),
    }
}

/// The reason a query failed, in words a transcript reader knows.
fn describe(error: &NetError) -> String {
    match error {
        NetError::Timeout => "timed out".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_fully_qualified() {
        assert_eq!(fqdn("b.test").map(|n| n.to_ascii()), Some("b.test.".into()));
        assert_eq!(fqdn("B.Test.").map(|n| plain(&n)), Some("b.test".into()));
        assert_eq!(
            fqdn("bücher.test").map(|n| n.to_ascii()),
            Some("xn--bcher-kva.test.".into())
        );
        assert!(fqdn("").is_none());
        assert!(fqdn("[127.0.0.1]").is_none());
        assert!(fqdn("a..b").is_none());
        assert_eq!(plain(&Name::root()), ".");
    }
}
