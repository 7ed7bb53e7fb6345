//! Faults on purpose (`DIR/faults`, `postlab fault`): each kind of rule, on a running server,
//! marked as injected in the transcript.

use std::fs;

use crate::support::{queue_id, wait_for, Setup, SmtpClient, TestServer};

fn server(domain: &str) -> TestServer {
    TestServer::start_with(Setup {
        args: vec![
            "--hostname".into(),
            format!("mx.{domain}"),
            "--domain".into(),
            domain.into(),
        ],
        config: "queue_retry_min = 1\nqueue_retry_max = 1\n".into(),
        ..Setup::default()
    })
}

fn route(from: &TestServer, domain: &str, to: &TestServer) {
    fs::write(
        from.dir.join("transport"),
        format!("{domain} [{}]:{}\n", to.smtp.ip(), to.smtp.port()),
    )
    .unwrap();
}

fn send(from: &TestServer, to: &str) -> String {
    let mut c = from.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail("alice@a.test", &[to], "Subject: fault lab\r\n\r\nhello\r\n");
    assert_eq!(reply.code, 250, "{reply:?}");
    queue_id(&reply)
}

fn fault(server: &TestServer, rule: &[&str]) {
    let (code, out, err) = server.postlab(&[&["fault", "add"], rule].concat());
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn greylisting_defers_until_the_fault_is_cleared() {
    let (a, b) = (server("a.test"), server("b.test"));
    route(&a, "b.test", &b);
    fault(
        &b,
        &[
            "rcpt",
            "*@b.test",
            "451",
            "4.7.1",
            "greylisted, try again later",
        ],
    );
    let id = send(&a, "bob@b.test");
    wait_for("a deferral", || {
        a.transcripts()
            .contains(&format!("{id}: <bob@b.test> deferred, will retry"))
            .then_some(())
    });
    let b_text = b.transcripts();
    assert!(
        b_text.contains("INJECTED FAULT (faults line 2): answered 451 4.7.1 greylisted"),
        "{b_text}"
    );
    assert!(
        b_text.contains(
            "(hint: this failure was injected on purpose; `postlab fault list` shows the rules)"
        ),
        "{b_text}"
    );
    let (code, out, _) = b.postlab(&["fault", "clear"]);
    assert_eq!(
        (code, out.trim()),
        (0, "faults cleared: the server behaves normally again")
    );
    wait_for("delivery after the retry", || {
        b.new_mail("bob").into_iter().next()
    });
}

#[test]
fn a_550_fault_bounces_and_a_data_fault_refuses_the_content() {
    let (a, b) = (server("a.test"), server("b.test"));
    route(&a, "b.test", &b);
    fault(
        &b,
        &[
            "rcpt",
            "nobody@b.test",
            "550",
            "5.1.1",
            "no such user (injected)",
        ],
    );
    fault(&b, &["data", "bob@b.test", "452", "4.3.1", "disk full"]);
    let id = send(&a, "nobody@b.test");
    let bounce = wait_for("the bounce", || a.new_mail("alice").into_iter().next());
    let text = fs::read_to_string(bounce).unwrap();
    assert!(
        text.contains(&id)
            && text.contains("Status: 5.1.1")
            && text.contains("no such user (injected)"),
        "{text}"
    );

    let mut c = b.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail("alice@a.test", &["bob@b.test"], "Subject: x\r\n\r\ny\r\n");
    assert_eq!(
        (reply.code, reply.text()),
        (
            452,
            "4.3.1 disk full (hint: this failure was injected on purpose; `postlab fault list` shows the rules)".to_string()
        )
    );
    assert!(b.new_mail("bob").is_empty());
}

#[test]
fn a_data_delay_slows_the_answer_but_delivers() {
    let b = server("b.test");
    fault(&b, &["data", "*", "delay", "300ms"]);
    let mut c: SmtpClient = b.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail(
        "alice@a.test",
        &["bob@b.test"],
        "Subject: slow\r\n\r\ny\r\n",
    );
    assert_eq!(reply.code, 250);
    assert!(b
        .transcripts()
        .contains("INJECTED FAULT (faults line 2): waiting 300 ms before answering"));
    assert_eq!(b.new_mail("bob").len(), 1);
}

#[test]
fn dns_and_connect_faults_act_on_the_sending_side() {
    let (a, b) = (server("a.test"), server("b.test"));
    route(&a, "b.test", &b);
    fault(&a, &["dns", "b.test", "timeout"]);
    let first = send(&a, "bob@b.test");
    wait_for("a DNS deferral", || {
        let t = a.transcripts();
        (t.contains(&format!(
            "[4 DNS] {first}: b.test: INJECTED FAULT (faults line 2): the lookup times out"
        )) && t.contains(&format!("{first}: <bob@b.test> deferred")))
        .then_some(())
    });
    fs::write(a.dir.join("faults"), "connect b.test refuse\n").unwrap();
    wait_for("a connect deferral", || {
        a.transcripts()
            .contains("INJECTED FAULT (faults line 1): connections to b.test are refused")
            .then_some(())
    });
    fs::write(a.dir.join("faults"), "dns b.test nxdomain\n").unwrap();
    let bounce = wait_for("an NXDOMAIN bounce", || {
        a.new_mail("alice").into_iter().next()
    });
    assert!(fs::read_to_string(bounce)
        .unwrap()
        .contains("Status: 5.1.2"));
    assert!(b.new_mail("bob").is_empty());
}

#[test]
fn fault_list_and_bad_rules() {
    let b = server("b.test");
    let (_, out, _) = b.postlab(&["fault", "list"]);
    assert_eq!(out.trim(), "no faults: the server behaves normally");
    fault(&b, &["connect", "lab3.test", "refuse"]);
    let (_, out, _) = b.postlab(&["fault", "list"]);
    assert_eq!(out.trim(), "line 2: connect lab3.test refuse");
    let (code, _, err) = b.postlab(&["fault", "add", "rcpt", "*", "250", "2.0.0", "fine"]);
    assert_eq!(code, 1);
    assert!(err.contains("4xx or 5xx"), "{err}");
    assert_eq!(b.postlab(&["fault", "explode"]).0, 2);
}
