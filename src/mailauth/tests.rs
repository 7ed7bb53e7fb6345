//! The RFCs' own examples, run through the pieces we use, and our two small parsers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::{Dmarc, Policy};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::spf::Spf;
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, SpfResult,
    Txt,
};

use super::author_domain;
use super::check::strip_our_results;
use crate::dns::resolver::{block_on, DnsResolver, Options};
use crate::dns::Resolve as _;

/// TXT answers given in advance, so the examples need no DNS server.
struct Known(HashMap<Box<str>, Txt>);

impl Known {
    fn new(records: &[(&str, Txt)]) -> Known {
        Known(
            records
                .iter()
                .map(|(name, txt)| (format!("{name}.").into_boxed_str(), txt.clone()))
                .collect(),
        )
    }
}

impl ResolverCache<Box<str>, Txt> for Known {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.get(name).cloned()
    }
    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}

/// An authenticator whose resolver points at a closed port: every answer comes from [`Known`].
fn offline() -> MessageAuthenticator {
    let options = Options {
        timeout: Duration::from_millis(100),
        attempts: 1,
    };
    let dns = DnsResolver::server("127.0.0.1:9".parse().unwrap(), &options).unwrap();
    MessageAuthenticator(dns.hickory().unwrap().clone())
}

/// RFC 8463 appendix A.3: one message, signed with ed25519-sha256 and rsa-sha256, verifies with
/// the keys of appendix A.2; a changed body makes both fail.
#[test]
fn rfc8463_example_message_verifies_with_both_algorithms() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r
 d=football.example.com; i=@football.example.com;\r
 q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r
 subject : date : message-id : from : subject : date;\r
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r
 b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r
 Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r
 d=football.example.com; i=@football.example.com;\r
 q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r
 date : message-id : from : subject : date;\r
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r
 b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r
 DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r
 dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r
From: Joe SixPack <joe@football.example.com>\r
To: Suzie Q <suzie@shopping.example.net>\r
Subject: Is dinner ready?\r
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r
Message-ID: <20030712040037.46341.5F8J@football.example.com>\r
\r
Hi.\r
\r
We lost the game.  Are you hungry yet?\r
\r
Joe.\r
";
    let known = Known::new(&[
        (
            "brisbane._domainkey.football.example.com",
            Txt::from(DomainKey::parse(
                b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            )),
        ),
        (
            "test._domainkey.football.example.com",
            Txt::from(DomainKey::parse(
                b"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR\
                  iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC\
                  DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3\
                  Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
            )),
        ),
    ]);
    let authenticator = offline();
    let results = |text: &str| -> Vec<DkimResult> {
        let parsed = AuthenticatedMessage::parse(text.as_bytes()).unwrap();
        block_on(async {
            authenticator
                .verify_dkim(Parameters::new(&parsed).with_txt_cache(&known))
                .await
                .iter()
                .map(|o| o.result().clone())
                .collect()
        })
        .unwrap()
    };
    assert_eq!(results(message), [DkimResult::Pass, DkimResult::Pass]);
    let changed = message.replace("hungry", "thirsty");
    assert!(results(&changed)
        .iter()
        .all(|r| !matches!(r, DkimResult::Pass)));
}

/// RFC 7208 appendix A.1: `v=spf1 ip4:192.0.2.128/28 -all` — 192.0.2.65 fails, 192.0.2.129
/// passes; `v=spf1 +all` — any address passes.
#[test]
fn rfc7208_simple_examples() {
    let authenticator = offline();
    let spf = |record: &str, ip: &str| -> SpfResult {
        let known = Known::new(&[("example.com", Txt::from(Spf::parse(record.as_bytes())))]);
        let ip: IpAddr = ip.parse().unwrap();
        block_on(async {
            authenticator
                .verify_spf(
                    Parameters::new(SpfParameters::verify_mail_from(
                        ip,
                        "mx.example.com",
                        "mx.test",
                        "joe@example.com",
                    ))
                    .with_txt_cache(&known),
                )
                .await
                .result()
        })
        .unwrap()
    };
    assert_eq!(
        spf("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.65"),
        SpfResult::Fail
    );
    assert_eq!(
        spf("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.129"),
        SpfResult::Pass
    );
    assert_eq!(spf("v=spf1 +all", "198.51.100.7"), SpfResult::Pass);
    // A mechanism SPF does not know: RFC 7208 section 4.6.1 says permerror; mail-auth 0.12
    // answers fail. Either way the address is not allowed.
    assert_ne!(spf("v=spf1 bogus:x -all", "192.0.2.129"), SpfResult::Pass);
}

/// RFC 7489 appendix B.2.1: `v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com`.
#[test]
fn rfc7489_example_records_parse() {
    let record = Dmarc::parse(b"v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com").unwrap();
    assert_eq!(record.p, Policy::None);
    assert_eq!(record.rua[0].uri(), "dmarc-feedback@example.com");
    let record = Dmarc::parse(b"v=DMARC1; p=reject").unwrap();
    assert_eq!(record.p, Policy::Reject);
    // Hostile rows: not DMARC, an unknown policy, a huge record.
    assert!(Dmarc::parse(b"v=spf1 -all").is_err());
    let _ = Dmarc::parse(b"v=DMARC1; p=everything; pct=9999");
    let huge = format!(
        "v=DMARC1; p=reject; rua={}",
        "mailto:a@b.test,".repeat(5000)
    );
    let _ = Dmarc::parse(huge.as_bytes());
    assert!(DomainKey::parse(b"v=DKIM1; k=rsa; p=!!!not-base64!!!").is_err());
}

#[test]
fn our_own_results_from_outside_are_removed_and_others_kept() {
    let table: &[(&str, &str, usize)] = &[
        // (header, what is kept, how many removed)
        (
            "Authentication-Results: mx.test; spf=pass\r\nSubject: x\r\n",
            "Subject: x\r\n",
            1,
        ),
        (
            "AUTHENTICATION-RESULTS:MX.TEST;\r\n\tdkim=pass\r\n header.d=x\r\nSubject: x\r\n",
            "Subject: x\r\n",
            1,
        ),
        (
            "Authentication-Results:   mx.test\r\n\t; none\r\nTo: y\r\n",
            "To: y\r\n",
            1,
        ),
        (
            "Authentication-Results: other.test; spf=pass\r\nSubject: x\r\n",
            "Authentication-Results: other.test; spf=pass\r\nSubject: x\r\n",
            0,
        ),
        (
            "Authentication-Results: mx.test.example; spf=pass\r\n",
            "Authentication-Results: mx.test.example; spf=pass\r\n",
            0,
        ),
        (
            "X-Authentication-Results: mx.test; spf=pass\r\n",
            "X-Authentication-Results: mx.test; spf=pass\r\n",
            0,
        ),
    ];
    for (header, kept, removed) in table {
        let body = "\r\nAuthentication-Results: mx.test; in the body stays\r\n";
        let mut notes = Vec::new();
        let content = format!("{header}{body}");
        let out = strip_our_results(content.as_bytes(), "mx.test", &mut notes);
        assert_eq!(
            String::from_utf8(out.to_vec()).unwrap(),
            format!("{kept}{body}"),
            "{header:?}"
        );
        assert_eq!(notes.len(), *removed, "{header:?}");
        // Nothing to remove (nearly every message): the content is not copied.
        assert_eq!(
            matches!(out, std::borrow::Cow::Borrowed(_)),
            *removed == 0,
            "{header:?}"
        );
    }
    // No header/body separator at all: the whole text is header.
    let mut notes = Vec::new();
    assert!(
        strip_our_results(b"Authentication-Results: mx.test", "mx.test", &mut notes).is_empty()
    );
}

#[test]
fn the_author_domain_is_the_first_from_address() {
    let table: &[(&str, Option<&str>)] = &[
        ("From: Alice <alice@A.Test>\r\n\r\nx", Some("a.test")),
        (
            "To: b@b.test\r\nFrom: a@lab1.test, c@c.test\r\n\r\n",
            Some("lab1.test"),
        ),
        ("Subject: none\r\n\r\n", None),
        ("From: not an address\r\n\r\n", None),
        ("", None),
    ];
    for (content, want) in table {
        assert_eq!(
            author_domain(content.as_bytes()).as_deref(),
            *want,
            "{content:?}"
        );
    }
}

/// RFC 9989 section 4.10: `_dmarc.` at the domain, then at most seven labels, then one label
/// fewer at a time; written as mail-auth writes its cache keys.
#[test]
fn the_dmarc_tree_walk_names_follow_rfc9989() {
    use super::asked::dmarc_tree_walk;
    let table: &[(&str, &[&str])] = &[
        ("Lab1.Test", &["_dmarc.lab1.test.", "_dmarc.test."]),
        (
            "a.lab1.test.",
            &["_dmarc.a.lab1.test.", "_dmarc.lab1.test.", "_dmarc.test."],
        ),
        (
            "a.b.c.d.e.f.g.h.i",
            &[
                "_dmarc.a.b.c.d.e.f.g.h.i.",
                "_dmarc.c.d.e.f.g.h.i.",
                "_dmarc.d.e.f.g.h.i.",
                "_dmarc.e.f.g.h.i.",
                "_dmarc.f.g.h.i.",
                "_dmarc.g.h.i.",
                "_dmarc.h.i.",
                "_dmarc.i.",
            ],
        ),
        ("test", &[]),
        ("a..test", &[]),
        ("", &[]),
    ];
    for (domain, names) in table {
        assert_eq!(dmarc_tree_walk(domain), *names, "{domain:?}");
    }
}
