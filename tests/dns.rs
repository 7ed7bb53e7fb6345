//! Step 4: the MX lookup against a real DNS server, `postlab dns`, over loopback.
//!
//! Each test starts `postlab dns` on a port the system picks (`--listen 127.0.0.1:0`; the port
//! is read from the line it prints), then asks it through postlab's own resolver, the one the
//! outbound queue uses, and through `dig` (Debian's bind9-dnsutils), a real DNS client.

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postlab::config::Config;
use postlab::dns::{DnsResolver, Lookup, MailHost, Options, Resolve};

use crate::support::{temp_dir, LabDns, BIN};

const ZONE: &str = "\
$ORIGIN test.
$TTL 30
@             SOA   ns hostmaster ( 1 3600 600 86400 30 )
@             NS    ns
ns            A     127.0.0.1
b             MX    20 backup.b
b             MX    10 mx.b
mx.b          A     127.0.0.2
mx.b          AAAA  ::1
backup.b      A     127.0.0.3
c             A     127.0.0.4
null          MX    0 .
ghost         MX    10 nowhere
ghost         MX    20 text-only
ghost         MX    30 mx.b
text-only     TXT   \"no address here\"
lost          MX    10 nowhere
bare          TXT   \"neither MX nor A\"
even          MX    5 first
even          MX    10 one
even          MX    10 two
even          MX    10 three
first         A     127.0.0.10
one           A     127.0.0.11
two           A     127.0.0.12
three         A     127.0.0.13
";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn hosts(lookup: Lookup) -> Vec<MailHost> {
    match lookup {
        Lookup::Hosts(hosts) => hosts,
        other => panic!("expected hosts, got {other:?}"),
    }
}

#[test]
fn mx_hosts_come_in_preference_order_with_their_addresses() {
    let lab = LabDns::start(ZONE);
    let (lookup, lines) = lab.resolver().mail_hosts_explained("b.test");
    assert_eq!(
        hosts(lookup),
        [
            MailHost {
                name: "mx.b.test".into(),
                preference: 10,
                addrs: vec![ip("127.0.0.2"), ip("::1")],
                implicit: false,
            },
            MailHost {
                name: "backup.b.test".into(),
                preference: 20,
                addrs: vec![ip("127.0.0.3")],
                implicit: false,
            },
        ]
    );
    // The transcript lines show each query and answer, in the order they were asked.
    let text = lines.join("\n");
    for line in [
        "MX? b.test → 20 backup.b.test, 10 mx.b.test",
        "A? mx.b.test → 127.0.0.2",
        "AAAA? mx.b.test → ::1",
        "AAAA? backup.b.test → none",
        "b.test → 10 mx.b.test [127.0.0.2, ::1]",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    // The server printed the questions it answered.
    let output = lab.output();
    assert!(output.contains("UDP 127.0.0.1:"), "{output}");
    assert!(
        output.contains("MX? b.test → MX 20 backup.b.test., MX 10 mx.b.test."),
        "{output}"
    );
}

#[test]
fn equal_preferences_are_shuffled_but_all_kept() {
    let lab = LabDns::start(ZONE);
    let resolver = lab.resolver();
    let mut orders = HashSet::new();
    // Six orders are possible for three equal hosts; forty lookups all alike would happen by
    // chance once in 6^39 runs.
    for _ in 0..40 {
        let names: Vec<String> = hosts(resolver.mail_hosts("even.test"))
            .into_iter()
            .map(|host| host.name)
            .collect();
        assert_eq!(names[0], "first.test", "preference 5 always comes first");
        let mut rest = names[1..].to_vec();
        orders.insert(rest.clone());
        rest.sort();
        assert_eq!(rest, ["one.test", "three.test", "two.test"]);
    }
    assert!(orders.len() > 1, "always the same order: {orders:?}");
}

#[test]
fn a_domain_without_mx_uses_its_own_address() {
    let lab = LabDns::start(ZONE);
    let (lookup, lines) = lab.resolver().mail_hosts_explained("c.test");
    assert_eq!(
        hosts(lookup),
        [MailHost {
            name: "c.test".into(),
            preference: 0,
            addrs: vec![ip("127.0.0.4")],
            implicit: true,
        }]
    );
    assert!(
        lines.contains(&"MX? c.test → no MX records".to_string()),
        "{lines:?}"
    );
}

#[test]
fn null_mx_and_nxdomain_are_permanent() {
    let lab = LabDns::start(ZONE);
    let resolver = lab.resolver();
    assert_eq!(resolver.mail_hosts("null.test"), Lookup::NullMx);
    assert_eq!(resolver.mail_hosts("nope.test"), Lookup::NoSuchDomain);
    // Case and a final dot do not change the answer.
    assert_eq!(resolver.mail_hosts("NULL.test."), Lookup::NullMx);
}

#[test]
fn mx_hosts_without_an_address_are_skipped() {
    let lab = LabDns::start(ZONE);
    let resolver = lab.resolver();
    // nowhere.test does not exist, text-only.test has no A or AAAA: only mx.b.test is left.
    let (lookup, lines) = resolver.mail_hosts_explained("ghost.test");
    let names: Vec<String> = hosts(lookup).into_iter().map(|h| h.name).collect();
    assert_eq!(names, ["mx.b.test"]);
    let text = lines.join("\n");
    assert!(text.contains("A? nowhere.test → NXDOMAIN"), "{text}");
    assert!(
        text.contains("text-only.test has no address: skipped"),
        "{text}"
    );
    // With no usable host at all it is an error to try again later, and the domain's own
    // address records are not used instead (RFC 5321 section 5.1).
    match resolver.mail_hosts("lost.test") {
        Lookup::Temporary(why) => assert!(why.contains("nowhere.test"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        resolver.mail_hosts("bare.test"),
        Lookup::Temporary(_)
    ));
}

#[test]
fn a_silent_dns_server_gives_a_temporary_failure_soon() {
    // A UDP socket that never reads: queries to it get no answer at all.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let options = Options {
        timeout: Duration::from_millis(300),
        attempts: 1,
    };
    let resolver = DnsResolver::server(silent.local_addr().unwrap(), &options).unwrap();
    let start = Instant::now();
    let (lookup, lines) = resolver.mail_hosts_explained("b.test");
    assert!(matches!(lookup, Lookup::Temporary(_)), "{lookup:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(lines[0], "MX? b.test → no answer: timed out");
}

#[test]
fn names_outside_the_lab_zone_are_refused_and_deferred() {
    let lab = LabDns::start(ZONE);
    // A REFUSED answer says nothing about the domain: defer, do not bounce.
    assert!(matches!(
        lab.resolver().mail_hosts("example.com"),
        Lookup::Temporary(_)
    ));
    assert!(lab.output().contains("REFUSED"), "{}", lab.output());
}

#[test]
fn the_dns_server_setting_points_the_resolver_at_the_lab() {
    let lab = LabDns::start(ZONE);
    let mut config = Config::defaults();
    config
        .apply_file(&format!("dns_server = {}\n", lab.addr))
        .unwrap();
    let resolver = DnsResolver::from_config(&config).unwrap();
    assert_eq!(resolver.mail_hosts("null.test"), Lookup::NullMx);
}

#[test]
fn dig_gets_authoritative_answers_over_udp_and_tcp() {
    let lab = LabDns::start(ZONE);
    let mx = lab.dig(&["b.test", "MX", "+short"]);
    let mut lines: Vec<&str> = mx.lines().collect();
    lines.sort();
    assert_eq!(lines, ["10 mx.b.test.", "20 backup.b.test."]);
    assert_eq!(
        lab.dig(&["mx.b.test", "AAAA", "+short", "+tcp"]).trim(),
        "::1"
    );
    let full = lab.dig(&["b.test", "MX", "+norecurse"]);
    assert!(full.contains("status: NOERROR"), "{full}");
    assert!(full.contains("flags: qr aa"), "authoritative: {full}");
    let missing = lab.dig(&["nope.test", "A"]);
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");
    assert!(
        missing.contains("SOA"),
        "the zone's SOA comes with a no: {missing}"
    );
    let outside = lab.dig(&["example.com", "A"]);
    assert!(outside.contains("status: REFUSED"), "{outside}");
    assert!(lab.output().contains("TCP 127.0.0.1:"), "{}", lab.output());
}

#[test]
fn a_bad_zone_file_stops_postlab_dns_with_the_file_and_line() {
    let dir = temp_dir("dns-bad");
    let good = dir.join("good.zone");
    fs::write(&good, ZONE).unwrap();
    let bad = dir.join("bad.zone");
    // The mistake is on line 5, inside an SOA written across lines 3 to 6.
    let text = "$ORIGIN b.test.\n$TTL 30\n@ SOA ns.test. hostmaster.test. (\n  1 3600\n  \
                600 86400x\n  30 )\n@ NS ns.test.\n";
    fs::write(&bad, text).unwrap();
    let output = Command::new(BIN)
        .args(["dns", "--zone"])
        .arg(&good)
        .arg("--zone")
        .arg(&bad)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // Reported where the entry starts, as `FILE:LINE:` like named-checkzone and compilers.
    let place = format!("postlab: {}:3: ", bad.display());
    assert!(stderr.starts_with(&place), "{stderr}");
    assert!(stderr.contains("86400x"), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn several_zone_files_are_served_and_other_names_refused() {
    let b = "$ORIGIN b.test.\n$TTL 60\n@ SOA ns hostmaster 7 3600 600 86400 20\n@ NS ns\n\
             ns A 127.0.0.1\n@ MX 10 mx\nmx A 127.0.0.2\n";
    let c = "$ORIGIN c.test.\n$TTL 60\n@ SOA ns.b.test. hostmaster.b.test. 9 3600 600 86400 20\n\
             @ NS ns.b.test.\n@ A 127.0.0.4\n";
    let lab = LabDns::start_zones(&[b, c]);
    assert!(
        lab.output().contains("authoritative for b.test, c.test;"),
        "{}",
        lab.output()
    );
    assert_eq!(lab.dig(&["b.test", "MX", "+short"]).trim(), "10 mx.b.test.");
    assert_eq!(lab.dig(&["c.test", "A", "+short"]).trim(), "127.0.0.4");
    // Each zone's own SOA comes with its "no", with the TTL RFC 2308 section 3 gives it: the
    // smaller of the record's TTL (60) and the SOA's last field (20).
    let missing = lab.dig(&["nope.c.test", "A"]);
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");
    assert!(
        missing.contains("20\tIN\tSOA\tns.b.test. hostmaster.b.test. 9 "),
        "{missing}"
    );
    assert_eq!(
        lab.dig(&["b.test", "SOA", "+short"]).trim(),
        "ns.b.test. hostmaster.b.test. 7 3600 600 86400 20"
    );
    let outside = lab.dig(&["d.test", "A"]);
    assert!(outside.contains("status: REFUSED"), "{outside}");
}

/// The zone of lesson 5 (`lessons/05-dns-mx.md`, or `lessons/id/05-dns-mx.md` with "id/"),
/// from its ```zone block.
fn lesson_zone(language: &str) -> String {
    let path = format!(
        "{}/lessons/{language}05-dns-mx.md",
        env!("CARGO_MANIFEST_DIR")
    );
    let lesson = fs::read_to_string(path).unwrap();
    let start = lesson.find("```zone\n").expect("a ```zone block") + "```zone\n".len();
    let end = start + lesson[start..].find("```").unwrap();
    lesson[start..end].to_string()
}

/// `named-checkzone` (Debian's bind9-utils), BIND's own check, run on a zone file.
pub fn named_checkzone(zone: &str, file: &std::path::Path) {
    let output = Command::new("named-checkzone")
        .arg(zone)
        .arg(file)
        .output()
        .expect("named-checkzone (Debian package bind9-utils) must be installed: tests/deps.sh");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}: {said}", file.display());
    assert!(said.trim_end().ends_with("OK"), "{said}");
}

#[test]
fn bind_accepts_the_lessons_zones_as_postlab_reads_them() {
    let dir = temp_dir("dns-lesson");
    let english = lesson_zone("");
    for (language, text) in [("en", &english), ("id", &lesson_zone("id/"))] {
        let file = dir.join(format!("lab-{language}.zone"));
        fs::write(&file, text).unwrap();
        named_checkzone("test", &file);
        // The translation differs in its comments only.
        let records = |text: &str| {
            let zone = postlab::dns::zone::Zone::parse(text, "lab.zone").unwrap();
            zone.records
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(records(text), records(&english), "{language}");
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_lessons_zone_answers_as_the_lesson_says() {
    let lab = LabDns::start(&lesson_zone(""));
    let resolver = lab.resolver();
    let names: Vec<(u16, String)> = hosts(resolver.mail_hosts("b.test"))
        .into_iter()
        .map(|h| (h.preference, h.name))
        .collect();
    assert_eq!(
        names,
        [(10, "mx.b.test".into()), (20, "backup.b.test".into())]
    );
    let implicit = hosts(resolver.mail_hosts("c.test"));
    assert!(implicit[0].implicit && implicit[0].addrs == [ip("127.0.0.3")]);
    assert_eq!(resolver.mail_hosts("null.test"), Lookup::NullMx);
    assert_eq!(resolver.mail_hosts("nope.test"), Lookup::NoSuchDomain);
    assert_eq!(
        lab.dig(&["www.b.test", "A", "+short"])
            .lines()
            .collect::<Vec<_>>(),
        ["mx.b.test.", "127.0.0.1"]
    );
    assert_eq!(
        lab.dig(&["b.test", "TXT", "+short"]).trim(),
        "\"v=spf1 mx -all\""
    );
}

#[test]
fn queue_threads_may_look_up_at_the_same_time() {
    // The queue delivers on several threads that share one resolver (and its one runtime).
    let lab = LabDns::start(ZONE);
    let resolver = std::sync::Arc::new(lab.resolver());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let resolver = resolver.clone();
            std::thread::spawn(move || {
                let domain = ["b.test", "c.test", "ghost.test", "even.test"][i];
                (0..10)
                    .map(|_| hosts(resolver.mail_hosts(domain)).len())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let counts: Vec<Vec<usize>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(counts, [vec![2; 10], vec![1; 10], vec![1; 10], vec![4; 10]]);
}
