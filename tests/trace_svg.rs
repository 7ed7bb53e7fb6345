//! `postlab trace ID --svg FILE` (issue 16, "a trace picture that tells the truth"): real
//! servers make real journeys — a local delivery, a bounce, a relay across two servers with
//! 14 deferred attempts — and the picture of each is checked: valid XML, rendered to PNG by
//! `rsvg-convert`, every box's look from the real outcome, one lane per server, every event
//! listed or counted, and the text of `postlab trace` agreeing with the picture.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::{domain_server, queue_id, temp_dir, wait_for, Setup, SmtpClient, TestServer};

/// Checks the SVG is well-formed XML and renders to PNG; returns, per lane, the look of each of
/// the seven steps as the picture draws them (`passed`, `not-reached`, …).
fn looks_in_picture(svg: &Path) -> Vec<Vec<String>> {
    let png = svg.with_extension("png");
    let out = Command::new("rsvg-convert")
        .arg("-o")
        .arg(&png)
        .arg(svg)
        .output()
        .expect("rsvg-convert is needed: apt-get install librsvg2-bin (tests/deps.sh)");
    assert!(
        out.status.success(),
        "rsvg-convert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fs::metadata(&png).unwrap().len() > 1000, "an empty PNG");
    // Python's XML parser is strict: a stray `<` or `&` in an address would stop it.
    let check = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = '{http://www.w3.org/2000/svg}'
legend = [r.get('class') for r in root.iter(ns + 'rect') if r.get('class', '').startswith('legend ')]
assert len(legend) == 7, legend
lanes = {}
for r in root.iter(ns + 'rect'):
    c = r.get('class', '')
    if c.startswith('step '):
        lanes.setdefault(int(r.get('data-lane')), []).append((int(r.get('data-step')), c[5:]))
for lane in sorted(lanes):
    steps = sorted(lanes[lane])
    assert [s for s, _ in steps] == [1, 2, 3, 4, 5, 6, 7], steps
    print(' '.join(look for _, look in steps))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(check)
        .arg(svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(' ').map(String::from).collect())
        .collect()
}

/// The `steps:` line of each lane in the text output, in the picture's words.
fn looks_in_text(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|l| l.strip_prefix("steps: "))
        .map(|l| {
            l.split(" · ")
                .map(|s| s.split_once(' ').unwrap().1.replace(' ', "-"))
                .collect()
        })
        .collect()
}

/// Runs `postlab trace ID --svg` with the data directories given; checks that the text and the
/// picture agree and returns (text, svg source, looks).
fn trace(id: &str, dirs: &[&Path]) -> (String, String, Vec<Vec<String>>) {
    let svg = temp_dir("trace-svg").join("journey.svg");
    let mut command = Command::new(crate::support::BIN);
    command.args(["trace", id, "--svg"]).arg(&svg);
    for dir in dirs {
        command.arg("--data").arg(dir);
    }
    let out = command.env("RUST_LOG", "warn").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let looks = looks_in_picture(&svg);
    assert_eq!(
        looks_in_text(&text),
        looks,
        "text and picture agree\n{text}"
    );
    (text, fs::read_to_string(&svg).unwrap(), looks)
}

fn lane(looks: &[&str]) -> Vec<String> {
    looks.iter().map(|l| l.to_string()).collect()
}

#[test]
fn lesson_01_bob_got_it_so_no_step_is_red() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    // As lesson 01 does it: bob, then a user who does not exist (550), then the content.
    c.expect("MAIL FROM:<alice@localhost>", 250);
    c.expect("RCPT TO:<bob@localhost>", 250);
    c.expect("RCPT TO:<nobody@localhost>", 550);
    c.expect("DATA", 354);
    c.send_raw(b"Subject: my first message\r\n\r\nHello Bob\r\n.\r\n");
    let reply = c.read_reply();
    assert_eq!(reply.code, 250);
    let id = queue_id(&reply);
    let (text, svg, looks) = trace(&id, &[&server.dir]);
    assert_eq!(
        looks,
        [lane(&[
            "passed", "passed", "passed", "skipped", "skipped", "passed", "waiting"
        ])],
        "{text}"
    );
    assert!(
        text.contains("<bob@localhost>  passed: delivered to bob on mx.test, not read yet"),
        "{text}"
    );
    assert!(
        text.contains("<nobody@localhost>  failed: refused, the client was told at once"),
        "{text}"
    );
    assert!(
        svg.contains("on mx.test"),
        "the lane is named after the server"
    );
}

#[test]
fn a_bounced_relay_is_red_at_step_5_not_green() {
    let a = domain_server("a.test", "");
    let b = domain_server("b.test", "");
    crate::support::route(&a, "b.test", b.smtp);
    let mut c = a.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail(
        "alice@a.test",
        &["nobody@b.test"],
        "Subject: x\r\n\r\nx\r\n",
    );
    let id = queue_id(&reply);
    wait_for("the bounce to alice", || {
        a.new_mail("alice").into_iter().next()
    });
    wait_for("the end of the relay attempt", || {
        a.transcripts()
            .contains(&format!("{id}: done: removed from the queue"))
            .then_some(())
    });
    let (text, _, looks) = trace(&id, &[&a.dir]);
    assert_eq!(
        looks,
        [lane(&[
            "passed",
            "passed",
            "passed",
            "passed",
            "failed",
            "not-reached",
            "not-reached"
        ])],
        "{text}"
    );
    assert!(
        text.contains("<nobody@b.test>  failed: bounced (5.1.1)"),
        "{text}"
    );
}

#[test]
fn a_relay_across_two_servers_with_14_deferrals() {
    let config = "queue_retry_min = 1\nqueue_retry_max = 1\n";
    let server = |domain: &str| {
        TestServer::start_with(Setup {
            args: vec![
                "--hostname".into(),
                format!("mx.{domain}"),
                "--domain".into(),
                domain.into(),
            ],
            config: config.into(),
            ..Setup::default()
        })
    };
    let (a, b) = (server("a.test"), server("b.test"));
    crate::support::route(&a, "b.test", b.smtp);
    let (code, out, err) = b.postlab(&[
        "fault",
        "add",
        "rcpt",
        "bob@b.test",
        "451",
        "4.7.1",
        "greylisted, try again",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let mut c = SmtpClient::connect(a.smtp);
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail("alice@a.test", &["bob@b.test"], "Subject: x\r\n\r\nx\r\n");
    let id = queue_id(&reply);
    // One attempt a second: the deadline of wait_for is too short for 14, so wait in rounds.
    for round in 1..=14 {
        wait_for(&format!("deferral {round}"), || {
            let text = a.transcripts();
            (text
                .matches(&format!("{id}: <bob@b.test> deferred"))
                .count()
                >= round)
                .then_some(())
        });
    }
    assert_eq!(b.postlab(&["fault", "clear"]).0, 0);
    wait_for("bob's copy on b.test", || {
        b.new_mail("bob").into_iter().next()
    });
    wait_for("the end of the journey on a.test", || {
        a.transcripts()
            .contains(&format!("{id}: done: removed from the queue"))
            .then_some(())
    });
    let deferrals = a
        .transcripts()
        .matches(&format!("{id}: <bob@b.test> deferred"))
        .count();

    // Only the sending server's data: the message was handed on, not "not reached".
    let (text, _, looks) = trace(&id, &[&a.dir]);
    assert_eq!(
        looks,
        [lane(&[
            "passed",
            "passed",
            "passed",
            "passed",
            "passed",
            "relayed-on",
            "relayed-on"
        ])],
        "{text}"
    );
    assert!(text.contains("handed to mx.b.test"), "{text}");
    assert!(text.contains("(not in the data given)"), "{text}");

    // Both servers: two lanes, the message crossing from step 5 of one to step 1 of the other.
    let (text, svg, looks) = trace(&id, &[&a.dir, &b.dir]);
    assert_eq!(
        looks,
        [
            lane(&[
                "passed",
                "passed",
                "passed",
                "passed",
                "passed",
                "relayed-on",
                "relayed-on"
            ]),
            lane(&["passed", "passed", "passed", "skipped", "skipped", "passed", "waiting"]),
        ],
        "{text}"
    );
    assert!(svg.contains(r#"class="crossing""#));
    assert!(
        text.contains(&format!(
            "<bob@b.test> handed to mx.b.test ({}) after {deferrals} deferred attempt(s)",
            b.smtp
        )),
        "{text}"
    );
    // Every attempt is in the text; the picture folds the middle ones and says how many.
    let attempts = deferrals + 1;
    assert_eq!(
        text.matches("delivery attempt ").count(),
        attempts,
        "{text}"
    );
    let shown = svg.matches("delivery attempt ").count();
    let fold = svg
        .split("… ")
        .skip(1)
        .find_map(|rest| rest.split_once(" more attempts"))
        .map(|(n, _)| n.parse::<usize>().unwrap())
        .expect("a fold line in step 5");
    assert_eq!(shown + fold, attempts, "every attempt shown or counted");
}
