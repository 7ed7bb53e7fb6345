use super::*;

const LAB: &str = "\
; a comment line
$ORIGIN test.
$TTL 30
@             SOA   ns.test. hostmaster.test. (
                    1       ; serial
                    3600 600 86400
                    30 )    ; negative answers
@             NS    ns
ns            A     127.0.0.1
b             MX    20 backup.b
b.test.       MX    10 MX.B.Test.      ; case does not matter; a final dot ends a name
mx.b          A     127.0.0.2
              AAAA  ::1                ; no name: the last one's (mx.b.test.)
backup.b  60  A     127.0.0.3
c             A     127.0.0.4
null          MX    0 .
b             TXT   \"v=spf1 -all ; not a comment\"
www.b         CNAME mx.b
out.b         CNAME mail.example.
deep.x        A     127.0.0.5
";

fn zones(texts: &[&str]) -> Zones {
    let zones = texts
        .iter()
        .map(|text| Zone::parse(text, "lab.zone").unwrap())
        .collect();
    Zones::new(zones).unwrap()
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

/// `b.test 30 MX 10 mx.b.test.`
fn shown(record: &Record) -> String {
    let rtype = record.record_type();
    let (owner, ttl, data) = (shown_name(&record.name), record.ttl, &record.data);
    format!("{owner} {ttl} {rtype} {data}")
}

#[test]
fn reads_the_standard_format() {
    let zone = Zone::parse(LAB, "lab.zone").unwrap();
    assert_eq!(zone.origin, name("test."));
    assert_eq!(
        shown(&zone.soa),
        "test 30 SOA ns.test. hostmaster.test. 1 3600 600 86400 30"
    );
    let mut all: Vec<String> = zone.records.iter().map(shown).collect();
    all.sort();
    assert_eq!(
        all,
        [
            "b 30 MX 10 mx.b.test.",
            "b 30 MX 20 backup.b.test.",
            "b 30 TXT v=spf1 -all ; not a comment",
            "backup.b 60 A 127.0.0.3",
            "c 30 A 127.0.0.4",
            "deep.x 30 A 127.0.0.5",
            "mx.b 30 A 127.0.0.2",
            "mx.b 30 AAAA ::1",
            "ns 30 A 127.0.0.1",
            "null 30 MX 0 .",
            "out.b 30 CNAME mail.example.",
            "test 30 NS ns.test.",
            "test 30 SOA ns.test. hostmaster.test. 1 3600 600 86400 30",
            "www.b 30 CNAME mx.b.test.",
        ]
        .map(|line| line
            .replacen(' ', ".test ", 1)
            .replacen("test.test", "test", 1))
    );
}

#[test]
fn bad_files_are_rejected_with_their_line_number() {
    let top = "$ORIGIN test.\n$TTL 30\n@ SOA ns hostmaster 1 3600 600 86400 30\n@ NS ns\n";
    let table: &[(&str, usize, &str)] = &[
        ("b MX ten mx.b\n", 5, "invalid digit"),
        ("\nmx.b A 300.1.1.1\n", 6, "address"),
        ("b SRVX 1 2 3 x\n", 5, "NAME [TTL] [IN] TYPE VALUE"),
        ("b.example. A 127.0.0.1\n", 5, "outside the zone"),
        ("w A 127.0.0.1\nw CNAME x\n", 6, "CNAME and other records"),
        ("w CNAME x\nw A 127.0.0.1\n", 6, "CNAME and other records"),
        ("@ CNAME x\n", 5, "CNAME and other records"),
        ("sub NS ns.other.\n", 5, "does not delegate"),
        ("*.b A 127.0.0.1\n", 5, "wildcard"),
        ("b CH A 127.0.0.1\n", 5, "class"),
        ("b.test. SOA ns hostmaster 1 2 3 4 5\n", 5, "a second SOA"),
        // An entry across lines is reported where it starts.
        (
            "b MX 10 mx.b\nx MX ( ten\n  mx.b )\ny A 127.0.0.1\n",
            6,
            "invalid digit",
        ),
    ];
    for (tail, line, words) in table {
        let text = format!("{top}{tail}");
        let err = Zone::parse(&text, "lab.zone").unwrap_err();
        assert_eq!(
            (err.file.as_str(), err.line),
            ("lab.zone", *line),
            "{text}\n{err}"
        );
        assert!(err.message.contains(words), "{text}\n{err}");
    }
    let whole: &[(&str, usize, &str)] = &[
        (
            "$TTL 30\ntest. SOA ns.test. h.test. 1 2 3 4 5\n",
            1,
            "no $ORIGIN",
        ),
        (
            "$TTL 30\n@ SOA ns hostmaster 1 2 3 4 5\n",
            2,
            "$ORIGIN first",
        ),
        (
            "$ORIGIN test.\n\n@ SOA ns hostmaster 1 2 3 4 5\n",
            3,
            "$TTL 30",
        ),
        ("$ORIGIN test.\n$TTL 30\n@ NS ns\n", 1, "no SOA"),
        (
            "$ORIGIN test.\n$TTL 30\n\n@ SOA ns hostmaster 1 2 3 4 5\n",
            4,
            "no NS",
        ),
        (
            "$ORIGIN test.\n$TTL 30\n@ SOA ns hostmaster (\n 1 2 3 4 5\n",
            3,
            "no `)`",
        ),
        (
            "$ORIGIN test.\n$TTL 30\n@ SOA ns hostmaster ( 1 2\n 3 4 x5 )\n",
            3,
            "time",
        ),
    ];
    for (text, line, words) in whole {
        let err = Zone::parse(text, "lab.zone").unwrap_err();
        assert_eq!(err.line, *line, "{text}\n{err}");
        assert!(err.message.contains(words), "{text}\n{err}");
    }
    let err = Zone::parse("$ORIGIN test.\nb MX ten x\n", "zones/b.zone").unwrap_err();
    assert!(err.to_string().starts_with("zones/b.zone:2: "), "{err}");
}

fn answered(answer: Answer<'_>) -> Vec<String> {
    match answer {
        Answer::Records(records) => records
            .iter()
            .map(|r| format!("{} {} {}", shown_name(&r.name), r.record_type(), r.data))
            .collect(),
        Answer::NxDomain { zone } => vec![format!("NXDOMAIN in {}", zone.origin)],
        Answer::Refused => vec!["REFUSED".into()],
    }
}

#[test]
fn answers_records_nodata_nxdomain_and_refused() {
    let lab = zones(&[LAB]);
    let table: &[(&str, RecordType, &[&str])] = &[
        (
            "b.test.",
            RecordType::MX,
            &["b.test MX 20 backup.b.test.", "b.test MX 10 mx.b.test."],
        ),
        ("MX.b.TEST", RecordType::AAAA, &["mx.b.test AAAA ::1"]),
        // c.test exists (it has an A record) but has no MX: NODATA, an empty answer.
        ("c.test.", RecordType::MX, &[]),
        // x.test owns nothing but deep.x.test lies under it: it exists, no data.
        ("x.test.", RecordType::A, &[]),
        ("test.", RecordType::MX, &[]),
        ("test.", RecordType::NS, &["test NS ns.test."]),
        ("b.test.", RecordType::SRV, &[]),
        ("nope.test.", RecordType::MX, &["NXDOMAIN in test."]),
        ("b.example.", RecordType::MX, &["REFUSED"]),
        ("atest.", RecordType::A, &["REFUSED"]),
        (
            "www.b.test.",
            RecordType::A,
            &["www.b.test CNAME mx.b.test.", "mx.b.test A 127.0.0.2"],
        ),
        (
            "www.b.test.",
            RecordType::CNAME,
            &["www.b.test CNAME mx.b.test."],
        ),
        // A CNAME to a name outside the zone: the client follows it elsewhere.
        (
            "out.b.test.",
            RecordType::A,
            &["out.b.test CNAME mail.example."],
        ),
    ];
    for (question, rtype, want) in table {
        let got = answered(lab.answer(&name(question), *rtype));
        assert_eq!(got, *want, "{question} {rtype}");
    }
}

#[test]
fn a_cname_loop_ends() {
    let text = "$ORIGIN test.\n$TTL 30\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\n\
                a CNAME b\nb CNAME a\n";
    let lab = zones(&[text]);
    let Answer::Records(records) = lab.answer(&name("a.test."), RecordType::A) else {
        panic!("a loop is still an answer");
    };
    assert_eq!(records.len(), MAX_CNAME_CHAIN);
}

#[test]
fn several_zones_one_file_each_and_the_longest_wins() {
    let test = "$ORIGIN test.\n$TTL 30\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 127.0.0.1\n\
                c A 127.0.0.4\nalias CNAME mx.b\n";
    let b = "$ORIGIN b.test.\n$TTL 30\n@ SOA ns.test. hostmaster.test. 1 2 3 4 5\n\
             @ NS ns.test.\nmx A 127.0.0.2\n";
    let lab = zones(&[test, b]);
    assert_eq!(lab.names(), "test, b.test");
    let origin = |n: &str| lab.zone_of(&name(n)).map(|z| z.origin.to_string());
    assert_eq!(origin("mx.b.test."), Some("b.test.".into()));
    assert_eq!(origin("c.test."), Some("test.".into()));
    assert_eq!(origin("example."), None);
    // A CNAME in one zone is followed into the other.
    assert_eq!(
        answered(lab.answer(&name("alias.test."), RecordType::A)),
        ["alias.test CNAME mx.b.test.", "mx.b.test A 127.0.0.2"]
    );
    assert_eq!(
        answered(lab.answer(&name("nope.b.test."), RecordType::A)),
        ["NXDOMAIN in b.test."]
    );
    let twice = vec![
        Zone::parse(b, "one.zone").unwrap(),
        Zone::parse(b, "two.zone").unwrap(),
    ];
    assert!(Zones::new(twice)
        .unwrap_err()
        .contains("two zone files for b.test."));
}
