//! The TXT cache mail-auth is given while checking a message (`check.rs`): the resolver's
//! ([`crate::dns::cache`]), which keeps the parsed SPF, DKIM and DMARC records for their TTL,
//! and beside it the names asked for, so the transcript can show the lookups
//! (`[4 DNS] TXT? _dmarc.lab1.test`) whether the answer came from the DNS or from the cache.
//! As before the cache, a name whose lookup failed is not listed.
//!
//! Names that have no record are kept too (RFC 2308, negative caching), for the DMARC tree
//! walk: RFC 9989 section 4.10 asks for `_dmarc.` at every level of the author's domain down
//! to the top-level one, so mail from `a.lab1.test` asks for `_dmarc.test` each time, and the
//! answer is NXDOMAIN each time. mail-auth does not store an answer that names no record, and
//! hickory's own cache answering it again cost about a tenth of checking a message (profiled
//! under `smtp_load --dkim check`: its cache lookup, and a copy of the whole negative answer).
//! [`Asked::keep_absent_dmarc`] stores it here, taken from hickory's cache, where mail-auth's
//! walk has just put it; it is stored as the error mail-auth itself makes of that answer
//! (`RecordNotFound` and its response code), so the walk goes on exactly as it did.
//!
//! What can go wrong: an answer kept too long after the zone changed. A negative answer is
//! kept at most [`MAX_NEGATIVE_TTL`], and hickory's own at most as long
//! (`src/dns/resolver.rs`), so a teacher who adds a record sees it used within half a minute,
//! as with every other answer.

use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hickory_resolver::net::{DnsError as NetDnsError, NetError};
use hickory_resolver::proto::rr::Name;
use hickory_resolver::TokioResolver;
use mail_auth::dmarc::{Dmarc, Psd};
use mail_auth::{DnsError, Error, ResolverCache, Txt};

use crate::dns::cache::{TtlCache, MAX_NEGATIVE_TTL};

/// The cache handed to mail-auth for one message, and the names it asked for.
pub struct Asked<'a> {
    cache: Option<&'a TtlCache<Txt>>,
    names: Mutex<Vec<String>>,
}

impl<'a> Asked<'a> {
    pub fn new(cache: Option<&'a TtlCache<Txt>>) -> Asked<'a> {
        Asked {
            cache,
            names: Mutex::default(),
        }
    }

    /// The names asked for, in order, taken out (the transcript line is written once).
    pub fn names(&self) -> Vec<String> {
        self.names
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    fn note(&self, name: &str) {
        if let Ok(mut names) = self.names.lock() {
            names.push(name.trim_end_matches('.').to_string());
        }
    }

    /// After mail-auth's DMARC check of mail from `domain` (its tree walk done): keeps each name
    /// of the walk that has no record, as hickory's cache has it now. A name hickory has not
    /// got (the walk stopped before it, or the DNS failed) is not waited for: the walk's order
    /// is followed, and the first such name ends it.
    pub fn keep_absent_dmarc(&self, dns: &TokioResolver, domain: &str) {
        let Some(cache) = self.cache else {
            return;
        };
        for name in dmarc_tree_walk(domain) {
            match cache.get(name.as_str()).map(|(_, txt)| txt) {
                // The walk stops at a record that says where the organisation begins.
                Some(Txt::Dmarc(record)) if stops_walk(&record) => return,
                Some(Txt::Dmarc(_)) | Some(Txt::Error(Error::Dns(_))) => continue,
                Some(_) => return,
                None => {}
            }
            // Named as mail-auth names it (underscores allowed), so hickory's cache finds it.
            let Ok(query) = Name::from_str_relaxed(name.as_str()) else {
                return;
            };
            let Some(Err(error)) = answered_already(dns.txt_lookup(query)) else {
                return;
            };
            let NetError::Dns(NetDnsError::NoRecordsFound(no)) = &error else {
                return;
            };
            // RFC 2308 section 5: a negative answer without an SOA (no negative TTL) is not
            // cached.
            let Some(ttl) = no.negative_ttl else {
                return;
            };
            let ttl = Duration::from_secs(u64::from(ttl)).min(MAX_NEGATIVE_TTL);
            let absent = Txt::Error(Error::Dns(DnsError::RecordNotFound(no.response_code)));
            cache.insert(name.into(), absent, Instant::now() + ttl);
        }
    }
}

/// Does this record end RFC 9989's tree walk (`psd=y` or `psd=n`)?
fn stops_walk(record: &Dmarc) -> bool {
    matches!(record.psd, Psd::Yes | Psd::No)
}

/// The names RFC 9989 section 4.10 asks for, in order, from `domain`: `_dmarc.` at the domain,
/// then (with eight labels or more) at its last seven, then one label fewer at a time down to
/// the top-level domain; written as mail-auth writes its cache keys (lower case, final dot).
pub fn dmarc_tree_walk(domain: &str) -> Vec<String> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if domain.split('.').any(str::is_empty) {
        // An empty label (`a..b`, or no name at all): not a name worth keeping.
        return Vec::new();
    }
    // Where each label starts, so `&domain[starts[n]..]` is the domain without n labels.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(domain.match_indices('.').map(|(i, _)| i + 1))
        .collect();
    let total = starts.len();
    let mut names = Vec::new();
    if total < 2 {
        return names;
    }
    let mut count = total;
    loop {
        names.push(format!("_dmarc.{}.", &domain[starts[total - count]..]));
        if count == 1 {
            return names;
        }
        count = if count >= 8 { 7 } else { count - 1 };
    }
}

/// The lookup's answer if it is there at once (hickory's cache), without waiting for the DNS.
fn answered_already<F: std::future::Future>(lookup: F) -> Option<F::Output> {
    let mut lookup = std::pin::pin!(lookup);
    match lookup
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(answer) => Some(answer),
        Poll::Pending => None,
    }
}

impl ResolverCache<Box<str>, Txt> for Asked<'_> {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let (key, value) = self.cache?.get(name)?;
        // A name kept as having no record was never listed (its lookup failed).
        if !matches!(value, Txt::Error(Error::Dns(DnsError::RecordNotFound(_)))) {
            self.note(&key);
        }
        Some(value)
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.cache?.remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, valid_until: Instant) {
        self.note(&key);
        if let Some(cache) = self.cache {
            cache.insert(key, value, valid_until);
        }
    }
}
