//! Checking mail from other servers: SPF (RFC 7208), DKIM (RFC 6376) and DMARC (RFC 7489),
//! written into an `Authentication-Results:` header (RFC 8601) and the transcript.
//!
//! ```text
//! [3 MDA] SPF pass for HELO mx.lab1.test (ip 127.0.0.11)
//! [3 MDA] SPF fail for MAIL FROM <alice@lab1.test> (ip 127.0.0.1 not allowed by lab1.test)
//! [3 MDA] DKIM pass: d=lab1.test s=postlab-ed25519 (ed25519-sha256)
//! [3 MDA] DMARC pass for From: lab1.test (policy p=reject)
//! [4 DNS] TXT? lab1.test, TXT? postlab-ed25519._domainkey.lab1.test, TXT? _dmarc.lab1.test
//! ```
//!
//! The lookups run on `src/dns/`'s resolver (the `dns_server` setting, so a lab's DNS), through
//! its one blocking door ([`crate::dns::resolver::block_on`]): mail-auth is given that same
//! hickory resolver. The TXT names it asks for are written down by [`Asked`] so the class sees
//! them.
//!
//! The parsed TXT records are kept for their TTL by the resolver's cache (`src/dns/cache.rs`),
//! so a domain seen a moment ago costs no DNS and no parsing (and the DMARC tree walk's names
//! that have no record are kept too, `asked.rs`); the DKIM signatures are verified
//! cheapest first (Ed25519 before RSA), and once one passes for the author's domain the others
//! are not (RFC 6376 section 6.1), since an RSA verification is most of what checking costs.
//!
//! Limits (SECURITY.md): SPF's ten DNS-querying terms and two void lookups (RFC 7208 section
//! 4.6.4) are mail-auth's; we verify at most [`MAX_SIGNATURES`] DKIM signatures per message,
//! and give all the checks of one message [`CHECK_DEADLINE`] (then the message is kept, and
//! the transcript says it was not checked).
//! An `Authentication-Results:` that claims to be ours, arriving from outside, is removed
//! (RFC 8601 section 5: a forged one would be believed by our own users' mail programs).

use std::borrow::Cow;
use std::net::IpAddr;

use mail_auth::common::crypto::Algorithm;
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimResult, DmarcResult, MessageAuthenticator,
    SpfResult,
};

use super::asked::Asked;
use super::{with_content, Examined};
use crate::address::ReversePath;
use crate::config::Config;
use crate::context::Shared;
use crate::mta::message::Message;
use crate::transcript::Step;

/// OpenDKIM's `MaximumSignaturesToVerify` default is 3: each signature costs a DNS lookup and
/// a public-key operation, and a message with a thousand of them must not cost a thousand.
pub const MAX_SIGNATURES: usize = 3;

/// All checks of one message together may wait this long for the DNS. Each query already gives
/// up after the resolver's timeout, but SPF alone may make twenty (ten per identity, RFC 7208
/// section 4.6.4) and a hostile zone can make each one slow; the client waits meanwhile.
pub const CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs the three checks on a message from `ip`, which said `HELO helo`.
pub fn run(
    shared: &Shared,
    config: &Config,
    message: &Message,
    ip: IpAddr,
    helo: &str,
) -> Examined {
    let hostname = shared.config.hostname.as_str();
    let mut notes = Vec::new();
    let content = strip_our_results(&message.content, hostname, &mut notes);
    let Some(hickory) = shared.resolver.hickory() else {
        notes.push((
            Step::Mda,
            "SPF, DKIM, DMARC not checked: no DNS resolver".into(),
        ));
        return with_content(message, content.into_owned(), notes, false);
    };
    let authenticator = MessageAuthenticator(hickory.clone());
    let asked = Asked::new(shared.resolver.txt_cache());
    let sender = match &message.envelope.from {
        ReversePath::Mailbox(address) => address.to_string(),
        // RFC 7208 section 2.4: with a null reverse-path, the MAIL FROM identity is
        // postmaster@ the HELO name.
        ReversePath::Null => format!("postmaster@{helo}"),
    };
    let mail_from_domain = sender.rsplit_once('@').map_or(helo, |(_, d)| d).to_string();
    let parsed = AuthenticatedMessage::parse(&content);
    let checks = async {
        let spf_helo = authenticator
            .verify_spf(
                mail_auth::Parameters::new(SpfParameters::verify_ehlo(ip, helo, hostname))
                    .with_txt_cache(&asked),
            )
            .await;
        let spf_mail = authenticator
            .verify_spf(
                mail_auth::Parameters::new(SpfParameters::verify_mail_from(
                    ip, helo, hostname, &sender,
                ))
                .with_txt_cache(&asked),
            )
            .await;
        let Some(mut parsed) = parsed else {
            return (spf_helo, spf_mail, None);
        };
        // The signatures are taken out of the message: each is verified on a copy of the
        // message that carries it alone (see `copies` below).
        let mut signatures = std::mem::take(&mut parsed.dkim_headers);
        signatures.truncate(MAX_SIGNATURES);
        // RFC 6376 section 6.1: verifiers "SHOULD continue to check signatures until a
        // signature successfully verifies to the satisfaction of the Verifier". So: the
        // cheapest first (an Ed25519 check costs a fraction of an RSA-2048 one), one at a
        // time, until one passes for the author's domain, which is all DMARC asks for.
        signatures.sort_by_key(|h| !matches!(h.header.a, Algorithm::Ed25519Sha256));
        let mut malformed = Some(std::mem::take(&mut parsed.errors));
        let author = parsed
            .from
            .first()
            .and_then(|f| f.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        // One copy of the message per signature, made only when that signature is verified
        // (the results borrow from their copy, so each needs its own). The first copy also
        // carries the malformed signatures, so that they are reported; with no signature at
        // all, one copy carries only those.
        let mut copies: Vec<Option<AuthenticatedMessage>> =
            (0..signatures.len().max(1)).map(|_| None).collect();
        let mut signatures = signatures.into_iter();
        let mut dkim = Vec::new();
        let mut unverified = Vec::new();
        let mut satisfied: Option<String> = None;
        for copy in copies.iter_mut() {
            let signature = signatures.next();
            if let (Some(passed), Some(s)) = (&satisfied, &signature) {
                unverified.push(format!(
                    "DKIM s={} ({}) not verified: d={passed} passed already (RFC 6376 section 6.1)",
                    s.header.s,
                    algorithm(s.header.a)
                ));
                continue;
            }
            let one = copy.insert(AuthenticatedMessage {
                dkim_headers: signature.into_iter().collect(),
                errors: malformed.take().unwrap_or_default(),
                ..parsed.clone()
            });
            let found = authenticator
                .verify_dkim(mail_auth::Parameters::new(&*one).with_txt_cache(&asked))
                .await;
            satisfied = found
                .iter()
                .filter(|o| *o.result() == DkimResult::Pass)
                .filter_map(|o| o.signature().map(|s| s.d.to_ascii_lowercase()))
                .find(|d| aligned(d, &author));
            dkim.extend(found);
        }
        let dmarc = authenticator
            .verify_dmarc(
                mail_auth::Parameters::new(DmarcParameters::new(
                    &parsed,
                    &dkim,
                    &mail_from_domain,
                    &spf_mail,
                ))
                .with_txt_cache(&asked),
            )
            .await;
        // The walk's names that have no record come from our cache next time (asked.rs).
        if !dmarc.domain().is_empty() && !matches!(dmarc.dkim_result(), DmarcResult::TempError(_)) {
            asked.keep_absent_dmarc(hickory, dmarc.domain());
        }
        // RFC 7489 section 4.2: with a policy record, no aligned pass is a DMARC *fail*.
        // mail-auth leaves both results at "none" when neither SPF passed nor a signature
        // verified, which its header would show as dmarc=none; say fail, as the RFC does.
        let dmarc = if dmarc.dmarc_record().is_some()
            && *dmarc.spf_result() == DmarcResult::None
            && *dmarc.dkim_result() == DmarcResult::None
        {
            dmarc.with_spf_result(DmarcResult::Fail(mail_auth::Error::NotAligned))
        } else {
            dmarc
        };
        // The header is written here, while the signatures (borrowed from the message) live.
        let from = parsed.from.first().cloned().unwrap_or_default();
        let header = AuthenticationResults::new(hostname)
            .with_spf_ehlo_result(&spf_helo, ip, helo)
            .with_spf_mailfrom_result(&spf_mail, ip, &sender, helo)
            .with_dkim_results(&dkim, &from)
            .with_dmarc_result(&dmarc)
            .to_header();
        let mut dkim_lines: Vec<String> = dkim.iter().map(describe_dkim).collect();
        dkim_lines.extend(unverified);
        (spf_helo, spf_mail, Some((header, dkim_lines, dmarc)))
    };
    // The timer is made inside the runtime (tokio's timers need one to exist).
    let result = crate::dns::resolver::block_on(async {
        tokio::time::timeout(CHECK_DEADLINE, checks).await
    });
    let (spf_helo, spf_mail, rest) = match result {
        Ok(Ok(found)) => found,
        Ok(Err(_)) => {
            notes.push((
                Step::Mda,
                format!(
                    "SPF, DKIM, DMARC not finished within {} s (the DNS is slow): not checked",
                    CHECK_DEADLINE.as_secs()
                ),
            ));
            return with_content(message, content.into_owned(), notes, false);
        }
        Err(e) => {
            notes.push((Step::Mda, format!("SPF, DKIM, DMARC not checked: {e}")));
            return with_content(message, content.into_owned(), notes, false);
        }
    };
    notes.push((
        Step::Mda,
        format!(
            "SPF {} for HELO {helo} ({})",
            word(spf_helo.result()),
            ip_clause(&spf_helo, ip)
        ),
    ));
    notes.push((
        Step::Mda,
        format!(
            "SPF {} for MAIL FROM <{sender}> ({})",
            word(spf_mail.result()),
            ip_clause(&spf_mail, ip)
        ),
    ));
    let Some((header, dkim_lines, dmarc)) = rest else {
        notes.push((
            Step::Mda,
            "DKIM, DMARC not checked: the header cannot be parsed".into(),
        ));
        return with_content(message, content.into_owned(), notes, false);
    };
    if dkim_lines.is_empty() {
        notes.push((
            Step::Mda,
            "DKIM none: the message carries no signature".into(),
        ));
    }
    notes.extend(dkim_lines.into_iter().map(|l| (Step::Mda, l)));
    let passed =
        *dmarc.spf_result() == DmarcResult::Pass || *dmarc.dkim_result() == DmarcResult::Pass;
    let has_record = dmarc.dmarc_record().is_some();
    let policy = dmarc.policy();
    notes.push((
        Step::Mda,
        match (has_record, passed) {
            (false, _) => format!("DMARC none: {} publishes no policy", dmarc.domain()),
            (true, true) => format!(
                "DMARC pass for From: {} (SPF or DKIM aligned; policy p={policy})",
                dmarc.domain()
            ),
            (true, false) => format!(
                "DMARC fail for From: {} (neither SPF nor DKIM aligned); the domain asks: p={policy}",
                dmarc.domain()
            ),
        },
    ));
    let names = asked.names();
    if !names.is_empty() {
        notes.push((Step::Dns, format!("TXT? {}", names.join(", "))));
    }
    let failed = has_record && !passed;
    let enforce = config.dmarc_enforce;
    if failed && enforce && policy == Policy::Reject {
        notes.push((
            Step::Mda,
            format!(
                "dmarc_policy = enforce: refused, as {} asks",
                dmarc.domain()
            ),
        ));
        return Examined {
            message: None,
            notes,
        };
    }
    let junk = failed && enforce && policy == Policy::Quarantine;
    if junk {
        notes.push((
            Step::Mda,
            format!(
                "dmarc_policy = enforce: into the Junk folder, as {} asks",
                dmarc.domain()
            ),
        ));
    } else if failed {
        notes.push((Step::Mda, "dmarc_policy = report: delivered anyway".into()));
    }
    let mut stamped = Vec::with_capacity(header.len() + content.len());
    stamped.extend_from_slice(header.as_bytes());
    stamped.extend_from_slice(&content);
    with_content(message, stamped, notes, junk)
}

/// Is a signature by `d` one DMARC can use for mail from `author`? The same domain, or one is
/// the parent of the other (RFC 7489 section 3.1.1's relaxed alignment, without the public
/// suffix list: a signature this does not count only makes us verify the next one too).
fn aligned(d: &str, author: &str) -> bool {
    !d.is_empty()
        && (d == author || author.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{author}")))
}

/// `pass`, `fail` …: the result names RFC 8601 section 2.7.2 gives.
fn word(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

/// What the result means for this address, in words.
fn ip_clause(output: &mail_auth::SpfOutput, ip: IpAddr) -> String {
    let domain = output.domain();
    match output.result() {
        SpfResult::Pass => format!("ip {ip} listed in {domain}'s SPF record"),
        SpfResult::Fail | SpfResult::SoftFail => {
            format!("ip {ip} not allowed by {domain}'s SPF record")
        }
        SpfResult::Neutral => format!("{domain} says nothing about ip {ip}"),
        SpfResult::None => format!("{domain} publishes no SPF record"),
        SpfResult::TempError => format!("{domain}: the DNS did not answer"),
        SpfResult::PermError => {
            format!("{domain}'s SPF record is broken or needs too many lookups")
        }
    }
}

fn describe_dkim(output: &mail_auth::DkimOutput) -> String {
    let who = output
        .signature()
        .map(|s| format!("d={} s={} ({})", s.d, s.s, algorithm(s.a)))
        .unwrap_or_else(|| "a signature".into());
    match output.result() {
        DkimResult::Pass => format!("DKIM pass: {who}"),
        DkimResult::Neutral(e) => format!("DKIM neutral: {who}: {e}"),
        DkimResult::Fail(e) => format!("DKIM fail: {who}: {e}"),
        DkimResult::PermError(e) => format!("DKIM permerror: {who}: {e}"),
        DkimResult::TempError(e) => format!("DKIM temperror: {who}: {e}"),
        DkimResult::None => format!("DKIM none: {who}"),
    }
}

fn algorithm(a: Algorithm) -> &'static str {
    match a {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

/// Removes every `Authentication-Results:` field whose authserv-id is our hostname (RFC 8601
/// section 5: "MUST remove ... any instances ... that claim to be from" us), from the header
/// only; the body is left alone. A message with none (nearly every one) is not copied.
pub fn strip_our_results<'m>(
    content: &'m [u8],
    hostname: &str,
    notes: &mut Vec<(Step, String)>,
) -> Cow<'m, [u8]> {
    let (header, body) = content.split_at(header_len(content));
    let starts_field = |line: &&[u8]| !matches!(line.first(), Some(b' ' | b'\t'));
    if !header
        .split_inclusive(|&b| b == b'\n')
        .filter(starts_field)
        .any(|field| claims_to_be(field, hostname))
    {
        return Cow::Borrowed(content);
    }
    let mut kept = Vec::with_capacity(content.len());
    let mut dropping = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            dropping = claims_to_be(line, hostname);
            if dropping {
                notes.push((
                    Step::Mda,
                    format!("removed an Authentication-Results: from outside claiming to be {hostname}'s"),
                ));
            }
        }
        if !dropping {
            kept.extend_from_slice(line);
        }
    }
    kept.extend_from_slice(body);
    Cow::Owned(kept)
}

/// `Authentication-Results: mx.test; …` with `mx.test` our hostname (any case, any space).
fn claims_to_be(line: &[u8], hostname: &str) -> bool {
    const NAME: &[u8] = b"authentication-results:";
    if line.len() < NAME.len() || !line[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return false;
    }
    let rest = String::from_utf8_lossy(&line[NAME.len()..]);
    let id = rest
        .trim_start()
        .split(|c: char| c == ';' || c.is_whitespace())
        .next()
        .unwrap_or("");
    id.eq_ignore_ascii_case(hostname)
}

/// How long the header is: up to the CRLF CRLF that ends it (RFC 5322 section 2.1), its last
/// field's CRLF included; all of `content` when there is none.
fn header_len(content: &[u8]) -> usize {
    let mut len = 0;
    for line in content.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" && content[..len].ends_with(b"\r\n") {
            return len;
        }
        len += line.len();
    }
    content.len()
}
