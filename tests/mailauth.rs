//! Issue 20: who really sent this? DKIM signing checked by an independent verifier (Python's
//! dkimpy, Debian's python3-dkim), SPF, DKIM and DMARC checked on mail from other servers with
//! the records served by a real `postlab dns`, `dmarc_policy = enforce`, and hostile records.
//!
//! Every server here is on 127.0.0.1 with `relay_networks` empty, so port-25 mail from the test
//! counts as another server's and is checked; the signing server keeps loopback trusted.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{domain_server, route, temp_dir, wait_for, LabDns, Setup, TestServer};

/// The zone `test.`: who may send for each domain, and (appended) a.test's DKIM keys.
///
/// - `a.test`: sends from 127.0.0.1 (the signing server), DMARC p=reject.
/// - `bank.test`, `shop.test`: send only from 192.0.2.25, so the test's 127.0.0.1 is a spoofer;
///   p=reject and p=quarantine.
/// - the rest are hostile: an include loop, eleven includes, a 10 kB record, a broken key,
///   a broken DMARC record.
fn zone(dkim_records: &str) -> String {
    let mut zone = "$ORIGIN test.\n$TTL 30\n\
         @ SOA ns hostmaster ( 1 3600 600 86400 30 )\n\
         @ NS ns\n\
         ns A 127.0.0.1\n\
         a TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
         _dmarc.a TXT \"v=DMARC1; p=reject\"\n\
         bank TXT \"v=spf1 ip4:192.0.2.25 -all\"\n\
         _dmarc.bank TXT \"v=DMARC1; p=reject\"\n\
         shop TXT \"v=spf1 ip4:192.0.2.25 -all\"\n\
         _dmarc.shop TXT \"v=DMARC1; p=quarantine\"\n\
         loop TXT \"v=spf1 include:loop.test -all\"\n\
         x._domainkey.badkey TXT \"v=DKIM1; k=rsa; p=!!!not-base64!!!\"\n\
         badkey TXT \"v=spf1 -all\"\n\
         _dmarc.baddmarc TXT \"v=DMARC1; p=everything; pct=9999; rua=nonsense\"\n"
        .to_string();
    // RFC 7208 section 4.6.4: at most ten terms that query the DNS.
    let includes: Vec<String> = (1..=11).map(|n| format!("include:i{n}.test")).collect();
    zone.push_str(&format!(
        "many TXT \"v=spf1 {} -all\"\n",
        includes.join(" ")
    ));
    for n in 1..=11 {
        zone.push_str(&format!("i{n} TXT \"v=spf1 -all\"\n"));
    }
    // A record of 40 strings of about 190 octets (7.5 kB): more than UDP carries, so it comes
    // by TCP, and none of its addresses is 127.0.0.1.
    let mut huge = vec!["\"v=spf1\"".to_string()];
    for n in 0..40 {
        let chunk: String = (0..12).map(|k| format!(" ip4:192.0.{n}.{k}")).collect();
        huge.push(format!("\"{chunk}\""));
    }
    huge.push("\" -all\"".to_string());
    zone.push_str(&format!("huge TXT {}\n", huge.join(" ")));
    zone.push_str(dkim_records);
    zone
}

/// `postlab dkim show DOMAIN` on a data directory that does not run yet: the key is made and
/// its records printed, ready for a zone.
fn dkim_show(dir: &Path, domain: &str) -> String {
    let (code, out, err) = crate::support::postlab_in(dir, &["dkim", "show", domain]);
    assert_eq!(code, 0, "{out}{err}");
    out
}

/// The signing server for a.test: loopback trusted (the test is its user), `dkim_sign = yes`,
/// its keys made beforehand by `dkim show` (the same ones it then finds on start).
fn signing_server(dir: PathBuf) -> TestServer {
    fs::write(dir.join("users"), "alice:{PLAIN}alice-password\n").unwrap();
    let mut conf = postlab::config::default_file_text();
    conf.push_str("dkim_sign = yes\nqueue_retry_min = 1\nqueue_retry_max = 2\n");
    fs::write(dir.join("postlab.conf"), conf).unwrap();
    let setup = Setup {
        args: vec![
            "--hostname".into(),
            "mx.a.test".into(),
            "--domain".into(),
            "a.test".into(),
        ],
        ..Setup::default()
    };
    TestServer::start_in(dir, &setup)
}

/// A receiving server for b.test that asks `dns` and trusts nobody.
fn checking_server(dns: &LabDns, extra: &str) -> TestServer {
    domain_server(
        "b.test",
        &format!("dns_server = {}\nrelay_networks =\n{extra}", dns.addr),
    )
}

/// One message over port 25 from the test (a stranger to `server`); the final reply.
fn send(server: &TestServer, from: &str, header_from: &str, extra: &str) -> crate::support::Reply {
    let mut client = server.connect();
    client.expect("EHLO client.test", 250);
    let content = format!(
        "{extra}From: <{header_from}>\r\nTo: <bob@b.test>\r\nSubject: who sent this?\r\n\r\nHello Bob.\r\n"
    );
    client.send_mail(from, &["bob@b.test"], &content)
}

fn read_new(server: &TestServer, account: &str, count: usize) -> String {
    let files = wait_for("the message in the Maildir", || {
        let files = server.new_mail(account);
        (files.len() >= count).then_some(files)
    });
    fs::read_to_string(&files[count - 1]).unwrap()
}

/// dkimpy verifies signature `idx` of `message`, with the keys given as `name TXT` lines
/// (its `dnsfunc` hook stands in for the DNS). Prints `True` or `False`.
fn dkimpy_verifies(message: &str, records: &str, idx: usize) -> String {
    let script = r#"
import sys, dkim
records = {}
for line in open(sys.argv[1]).read().splitlines():
    if line.startswith(';') or not line.strip():
        continue
    name, rest = line.split(' ', 1)
    text = ''.join(part for i, part in enumerate(rest.split('"')) if i % 2 == 1)
    records[name.encode()] = text.encode()
def dnsfunc(name, timeout=5):
    return records.get(name)
d = dkim.DKIM(open(sys.argv[2], 'rb').read())
try:
    print(d.verify(idx=int(sys.argv[3]), dnsfunc=dnsfunc))
except dkim.ValidationError as e:
    print('False', e)
"#;
    let dir = temp_dir("dkimpy");
    fs::write(dir.join("records"), records).unwrap();
    fs::write(dir.join("message"), message).unwrap();
    let output = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(dir.join("records"))
        .arg(dir.join("message"))
        .arg(idx.to_string())
        .output()
        .expect("python3 with dkimpy (Debian package python3-dkim): tests/deps.sh");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The field `name:` of a stored message, unfolded.
fn field(message: &str, name: &str) -> Vec<String> {
    let header = message.split("\r\n\r\n").next().unwrap_or("");
    let unfolded = header.replace("\r\n\t", " ").replace("\r\n ", " ");
    unfolded
        .lines()
        .filter(|l| {
            l.len() > name.len() && l[..name.len() + 1].eq_ignore_ascii_case(&format!("{name}:"))
        })
        .map(str::to_string)
        .collect()
}

/// `server`'s transcripts once they contain `line` (polled with the suite's deadline).
fn transcript_with(server: &TestServer, line: &str) -> String {
    wait_for(line, || {
        let transcript = server.transcripts();
        transcript.contains(line).then_some(transcript)
    })
}

#[test]
fn signed_mail_passes_dkimpy_and_the_receiver_then_fails_when_changed_in_transit() {
    let dir = temp_dir("signer");
    let records = dkim_show(&dir, "a.test");
    assert!(
        records.contains("postlab-rsa._domainkey.a.test. 3600 IN TXT \"v=DKIM1; k=rsa; p=MII")
            && records.contains(
                "postlab-ed25519._domainkey.a.test. 3600 IN TXT \"v=DKIM1; k=ed25519; p="
            ),
        "{records}"
    );
    let dns = LabDns::start(&zone(&records));
    let b = checking_server(&dns, "");
    let a = signing_server(dir);
    route(&a, "b.test", b.smtp);

    // Alice's mail through her own server: signed, relayed, checked by b.test.
    let mut client = a.connect();
    client.expect("EHLO laptop", 250);
    let reply = client.send_mail(
        "alice@a.test",
        &["bob@b.test"],
        "From: Alice <alice@a.test>\r\nTo: <bob@b.test>\r\nSubject: signed\r\n\r\nHello Bob.\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let message = read_new(&b, "bob", 1);
    assert_eq!(field(&message, "DKIM-Signature").len(), 2, "{message}");
    let results = field(&message, "Authentication-Results");
    assert_eq!(results.len(), 1, "{message}");
    let ar = &results[0];
    assert!(ar.starts_with("Authentication-Results: mx.b.test;"), "{ar}");
    assert!(
        ar.contains("dkim=pass") && ar.contains("header.d=a.test"),
        "{ar}"
    );
    assert!(ar.contains("spf=pass") && ar.contains("dmarc=pass"), "{ar}");
    // The checks' lines are written once the copy is stored, just before b answers a's DATA:
    // the Maildir can show the message a moment before the transcript shows them.
    let transcript = transcript_with(&b, "DMARC pass for From: a.test");
    for line in [
        "[3 MDA]",
        "SPF pass for MAIL FROM <alice@a.test> (ip 127.0.0.1 listed in a.test's SPF record)",
        "DKIM pass: d=a.test s=postlab-ed25519 (ed25519-sha256)",
        // RFC 6376 section 6.1: one passing signature for the author's domain is enough.
        "DKIM s=postlab-rsa (rsa-sha256) not verified: d=a.test passed already (RFC 6376 section 6.1)",
        "DMARC pass for From: a.test",
        "TXT? ",
    ] {
        assert!(transcript.contains(line), "{line} not in:\n{transcript}");
    }
    assert!(a.transcripts().contains("DKIM-signed for a.test"));
    // Mail that stays on a.test is not signed: a signature is for another server.
    let reply = client.send_mail(
        "alice@a.test",
        &["alice@a.test"],
        "From: Alice <alice@a.test>\r\nTo: <alice@a.test>\r\nSubject: a note to self\r\n\r\nx\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let local = read_new(&a, "alice", 1);
    assert!(field(&local, "DKIM-Signature").is_empty(), "{local}");

    // The independent verifier: dkimpy checks both signatures (ed25519 first, then rsa).
    assert_eq!(dkimpy_verifies(&message, &records, 0), "True");
    assert_eq!(dkimpy_verifies(&message, &records, 1), "True");

    // A server on the way changes the body: both signatures fail, here and for dkimpy.
    let (code, out, err) = b.postlab(&["fault", "add", "data", "*", "tamper"]);
    assert_eq!(code, 0, "{out}{err}");
    let reply = client.send_mail(
        "alice@a.test",
        &["bob@b.test"],
        "From: Alice <alice@a.test>\r\nTo: <bob@b.test>\r\nSubject: changed\r\n\r\nHello again.\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let changed = read_new(&b, "bob", 2);
    let changed = if changed.contains("Subject: changed") {
        changed
    } else {
        fs::read_to_string(&b.new_mail("bob")[0]).unwrap()
    };
    let ar = &field(&changed, "Authentication-Results")[0];
    // mail-auth names a body that no longer matches "neutral (body hash did not verify)";
    // RFC 6376 section 6.1.3 lets a verifier ignore such a signature. Either way: no pass.
    assert!(
        ar.contains("(body hash did not verify) header.d=a.test") && !ar.contains("dkim=pass"),
        "{ar}"
    );
    // DMARC still passes: SPF is aligned, and one of the two is enough (RFC 7489 section 4.2).
    assert!(ar.contains("dmarc=pass"), "{ar}");
    assert!(b.transcripts().contains("the body was changed in transit"));
    // The fault's line comes as the message arrives, the checks' lines once it is stored.
    let transcript = transcript_with(&b, "DKIM neutral: d=a.test s=postlab-rsa");
    assert!(
        transcript.contains("DKIM neutral: d=a.test s=postlab-rsa (rsa-sha256): Calculated body hash does not match"),
        "{transcript}"
    );
    let verdict = dkimpy_verifies(&changed, &records, 1);
    assert!(verdict.starts_with("False body hash mismatch"), "{verdict}");
}

#[test]
fn a_spoofed_sender_fails_spf_and_dmarc_reports_and_a_forged_result_is_removed() {
    let dns = LabDns::start(&zone(""));
    let b = checking_server(&dns, "");
    // The spoofer also brings a result "from us" that says all is well.
    let forged =
        "Authentication-Results: MX.B.TEST; dkim=pass header.d=bank.test;\r\n\tspf=pass\r\n\
                  Authentication-Results: elsewhere.test; spf=pass\r\n";
    let reply = send(&b, "ceo@bank.test", "ceo@bank.test", forged);
    assert_eq!(reply.code, 250, "report is the default: {reply:?}");
    let message = read_new(&b, "bob", 1);
    let results = field(&message, "Authentication-Results");
    assert_eq!(
        results.len(),
        2,
        "ours, and the other server's kept: {message}"
    );
    let ours = &results[0];
    assert!(
        ours.starts_with("Authentication-Results: mx.b.test;"),
        "{ours}"
    );
    assert!(
        ours.contains("spf=fail") && ours.contains("dmarc=fail"),
        "{ours}"
    );
    assert!(ours.contains("policy.dmarc=reject"), "{ours}");
    assert!(
        !message.contains("header.d=bank.test"),
        "the forged one is gone: {message}"
    );
    assert!(message.contains("Authentication-Results: elsewhere.test; spf=pass"));
    let transcript = b.transcripts();
    for line in [
        "SPF fail for MAIL FROM <ceo@bank.test> (ip 127.0.0.1 not allowed by bank.test's SPF record)",
        "DKIM none: the message carries no signature",
        "DMARC fail for From: bank.test (neither SPF nor DKIM aligned); the domain asks: p=reject",
        "dmarc_policy = report: delivered anyway",
        "removed an Authentication-Results: from outside claiming to be mx.b.test's",
    ] {
        assert!(transcript.contains(line), "{line} not in:\n{transcript}");
    }
}

#[test]
fn dmarc_enforce_refuses_p_reject_and_files_p_quarantine_into_junk() {
    let dns = LabDns::start(&zone(""));
    let b = checking_server(&dns, "dmarc_policy = enforce\n");
    let reply = send(&b, "ceo@bank.test", "ceo@bank.test", "");
    assert_eq!(reply.code, 550, "{reply:?}");
    assert!(reply.text().starts_with("5.7.1 "), "{reply:?}");
    assert!(b.new_mail("bob").is_empty(), "nothing kept");

    let reply = send(&b, "sales@shop.test", "sales@shop.test", "");
    assert_eq!(reply.code, 250, "{reply:?}");
    let junk = b.dir.join("mail/bob/.Junk/new");
    let files = wait_for("the message in Junk", || {
        let files: Vec<_> = fs::read_dir(&junk).ok()?.flatten().collect();
        (!files.is_empty()).then_some(files)
    });
    let message = fs::read_to_string(files[0].path()).unwrap();
    assert!(message.contains("policy.dmarc=quarantine"), "{message}");
    assert!(b.new_mail("bob").is_empty(), "not in the inbox");
    assert!(b
        .transcripts()
        .contains("dmarc_policy = enforce: into the Junk folder, as shop.test asks"));
    // A domain whose mail passes is delivered as usual, even under enforce.
    let reply = send(&b, "someone@nowhere.test", "someone@nowhere.test", "");
    assert_eq!(reply.code, 250, "{reply:?}");
    read_new(&b, "bob", 1);
}

#[test]
fn hostile_records_get_an_answer_each_and_the_server_stays_up() {
    let dns = LabDns::start(&zone(""));
    let b = checking_server(&dns, "");
    let many_signatures: String = (0..500)
        .map(|n| {
            format!("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=badkey.test; s=x{n}; h=from; bh=AAAA; b=AAAA\r\n")
        })
        .collect();
    let bad_signature =
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=badkey.test; s=x; h=from; bh=AAAA; b=AAAA\r\n";
    // (sender, header extra, what the transcript must say)
    let rows: [(&str, &str, &str); 6] = [
        (
            "a@loop.test",
            "",
            "SPF permerror for MAIL FROM <a@loop.test>",
        ),
        (
            "a@many.test",
            "",
            "SPF permerror for MAIL FROM <a@many.test>",
        ),
        ("a@huge.test", "", "SPF fail for MAIL FROM <a@huge.test>"),
        ("a@badkey.test", bad_signature, "d=badkey.test s=x "),
        ("a@baddmarc.test", "", "MAIL FROM <a@baddmarc.test>"),
        ("a@badkey.test", &many_signatures, "d=badkey.test s=x2 "),
    ];
    for (n, (from, extra, expect)) in rows.iter().enumerate() {
        let reply = send(&b, from, from, extra);
        assert_eq!(reply.code, 250, "row {n} {from}: {reply:?}");
        let transcript = b.transcripts();
        assert!(
            transcript.contains(expect),
            "row {n}: {expect} not in:\n{transcript}"
        );
    }
    // At most three signatures of the 500 were looked up (OpenDKIM's default).
    let transcript = b.transcripts();
    assert!(!transcript.contains("s=x3 "), "{transcript}");
    // Still up, still answering.
    let mut client = b.connect();
    client.expect("NOOP", 250);
    assert_eq!(b.new_mail("bob").len(), rows.len());
}

#[test]
fn dkim_keys_are_private_and_made_once() {
    let dir = temp_dir("keys");
    let first = dkim_show(&dir, "a.test");
    assert!(first.contains("; made now:"), "{first}");
    let second = dkim_show(&dir, "a.test");
    assert!(!second.contains("made now"), "{second}");
    assert_eq!(
        first
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect::<Vec<_>>(),
        second
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect::<Vec<_>>()
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir.join("dkim")), 0o700);
    assert_eq!(mode(dir.join("dkim/a.test.rsa.der")), 0o600);
    assert_eq!(mode(dir.join("dkim/a.test.ed25519.der")), 0o600);
    let (code, _, err) = crate::support::postlab_in(&dir, &["dkim", "show", "not a domain"]);
    assert_eq!(code, 1, "{err}");
}

/// Issue 20 item 6: mail from a.test makes the DMARC tree walk (RFC 9989 section 4.10) ask for
/// `_dmarc.test` too, which has no record. That answer is kept beside the records found, so
/// the next message's walk needs neither the DNS nor hickory's own cache: with both gone it
/// finds the same policy (before, that lookup failed and DMARC said temperror). The name is
/// still not listed among the lookups the transcript shows.
#[test]
fn the_dmarc_walks_name_without_a_record_is_kept_like_the_records_found() {
    use mail_auth::dmarc::verify::DmarcParameters;
    use mail_auth::dmarc::Policy;
    use mail_auth::spf::verify::SpfParameters;
    use mail_auth::{AuthenticatedMessage, DmarcResult, MessageAuthenticator, Parameters};
    use postlab::dns::Resolve as _;
    use postlab::mailauth::asked::Asked;

    let dns = LabDns::start(&zone(""));
    let resolver = dns.resolver();
    let hickory = resolver.hickory().unwrap().clone();
    let authenticator = MessageAuthenticator(hickory.clone());
    let message =
        AuthenticatedMessage::parse(b"From: alice@a.test\r\nSubject: hi\r\n\r\nhello\r\n")
            .expect("a message");
    let check = |asked: &Asked| {
        postlab::dns::resolver::block_on(async {
            let ip = "127.0.0.1".parse().unwrap();
            let spf = SpfParameters::verify_mail_from(ip, "a.test", "mx.test", "alice@a.test");
            let spf = authenticator
                .verify_spf(Parameters::new(spf).with_txt_cache(asked))
                .await;
            let dmarc = DmarcParameters::new(&message, &[], "a.test", &spf);
            let dmarc = authenticator
                .verify_dmarc(Parameters::new(dmarc).with_txt_cache(asked))
                .await;
            asked.keep_absent_dmarc(&hickory, dmarc.domain());
            (dmarc.spf_result().clone(), dmarc.policy())
        })
        .unwrap()
    };
    let first = Asked::new(resolver.txt_cache());
    let found = check(&first);
    assert_eq!(found, (DmarcResult::Pass, Policy::Reject));
    assert_eq!(first.names(), ["a.test", "_dmarc.a.test"]);
    assert!(
        dns.output().contains("TXT? _dmarc.test → NXDOMAIN"),
        "the walk asked the DNS: {}",
        dns.output()
    );

    drop(dns);
    hickory.clear_cache();
    let second = Asked::new(resolver.txt_cache());
    assert_eq!(check(&second), found);
    assert_eq!(second.names(), ["a.test", "_dmarc.a.test"]);
}

#[test]
fn a_dns_server_that_never_answers_delays_the_checks_a_bounded_time_and_the_mail_is_kept() {
    // A UDP socket that receives the queries and never replies.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = domain_server(
        "b.test",
        &format!(
            "dns_server = {}\nrelay_networks =\n",
            silent.local_addr().unwrap()
        ),
    );
    let reply = send(&b, "ceo@bank.test", "ceo@bank.test", "");
    assert_eq!(reply.code, 250, "{reply:?}");
    let transcript = b.transcripts();
    assert!(
        transcript
            .contains("SPF, DKIM, DMARC not finished within 15 s (the DNS is slow): not checked"),
        "{transcript}"
    );
    let message = read_new(&b, "bob", 1);
    assert!(
        field(&message, "Authentication-Results").is_empty(),
        "{message}"
    );
    b.connect().expect("NOOP", 250);
}

#[test]
fn a_backup_keeps_the_dkim_keys_so_a_restore_matches_the_published_records() {
    let dir = temp_dir("keys-backup");
    fs::write(dir.join("users"), "alice:{PLAIN}alice-password\n").unwrap();
    let published = dkim_show(&dir, "a.test");
    let archive = temp_dir("keys-archive").join("backup.tar.gz");
    let archive = archive.to_str().unwrap();
    let (code, out, err) = crate::support::postlab_in(&dir, &["backup", archive]);
    assert_eq!(code, 0, "{out}{err}");
    let restored = temp_dir("keys-restored").join("data");
    let (code, out, err) = crate::support::postlab(
        &["restore", archive, "--data", restored.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    let again = dkim_show(&restored, "a.test");
    assert!(!again.contains("made now"), "the keys came back: {again}");
    assert_eq!(
        published
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect::<Vec<_>>(),
        again
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect::<Vec<_>>()
    );
}
