//! Interoperability with a real peer: Postfix relays mail to postlab, and postlab relays mail
//! to Postfix (issue: the outbound MTA). A private Postfix instance runs on loopback
//! (`tests/peers/postfix.sh`); `.ci/run` installs the Debian package.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{queue_id, temp_dir, wait_for, Setup, SmtpClient, TestServer};

struct Postfix {
    dir: PathBuf,
    port: u16,
}

impl Postfix {
    fn start(postlab_port: u16) -> Postfix {
        Postfix::start_with(postlab_port, &[])
    }

    /// `extra`: the postlab binary and a data directory, for the `postlab deliver` transport.
    fn start_with(postlab_port: u16, extra: &[&Path]) -> Postfix {
        let dir = temp_dir("postfix");
        // A free port: bind, read, release. Postfix binds it a moment later.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/postfix.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .arg(port.to_string())
            .arg(postlab_port.to_string())
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "Postfix did not start (is it installed? .ci/run installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Postfix { dir, port }
    }

    fn maildir_new(&self) -> Vec<PathBuf> {
        fs::read_dir(self.dir.join("mail/bob/new"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/postfix.sh");
        let _ = Command::new("bash")
            .arg(&script)
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

#[test]
fn postlab_and_postfix_relay_to_each_other() {
    let a = TestServer::start_with(Setup {
        args: vec![
            "--hostname".into(),
            "mx.a.test".into(),
            "--domain".into(),
            "a.test".into(),
        ],
        config: "queue_retry_min = 1\nqueue_retry_max = 2\n".into(),
        ..Setup::default()
    });
    let postfix = Postfix::start(a.smtp.port());
    fs::write(
        a.dir.join("transport"),
        format!("pf.test [127.0.0.1]:{}\n", postfix.port),
    )
    .unwrap();

    // postlab → Postfix.
    let mut c = SmtpClient::connect(a.addr("submission"));
    c.expect("EHLO laptop", 250);
    c.expect("AUTH PLAIN AGFsaWNlAGFsaWNlLXBhc3N3b3Jk", 235);
    let reply = c.send_mail(
        "alice@a.test",
        &["bob@pf.test"],
        "Subject: to Postfix\r\n\r\nHello Postfix\r\n..dotted line\r\n",
    );
    let id = queue_id(&reply);
    let file = wait_for("Postfix to deliver into its Maildir", || {
        postfix.maildir_new().into_iter().next()
    });
    let text = fs::read_to_string(file).unwrap();
    assert!(
        text.contains("Subject: to Postfix") && text.contains("\n.dotted line"),
        "{text}"
    );
    assert!(
        text.contains(&format!("with ESMTPA id {id}")),
        "postlab's Received: line travelled: {text}"
    );
    // Postfix offered STARTTLS and postlab's relay client (relay_tls = may) took it.
    assert!(
        text.contains("(Postfix) with ESMTPS"),
        "TLS from postlab to Postfix: {text}"
    );
    assert!(
        a.transcripts().contains("[5 RELAY] TLS established with"),
        "{}",
        a.transcripts()
    );

    // Postfix → postlab.
    let mut p = SmtpClient::connect(format!("127.0.0.1:{}", postfix.port).parse().unwrap());
    p.expect("EHLO laptop", 250);
    let reply = p.send_mail(
        "carol@pf.test",
        &["bob@a.test"],
        "Subject: from Postfix\r\n\r\nHello postlab\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let file = wait_for("postlab to receive from Postfix", || {
        a.new_mail("bob").into_iter().next()
    });
    let text = fs::read_to_string(file).unwrap();
    assert!(
        text.starts_with("Return-Path: <carol@pf.test>\r\nReceived: from mx.pf.test ([127.0.0.1])"),
        "{text}"
    );
    assert!(text.contains("Subject: from Postfix"));
    // And Postfix used postlab's STARTTLS (smtp_tls_security_level = may).
    assert!(
        text.contains(") with ESMTPS id "),
        "TLS from Postfix to postlab: {text}"
    );
}

/// `postlab deliver` as Postfix's delivery agent: a pipe(8) transport runs it as nobody for
/// mail to lda.test, and the message lands in postlab's Maildir with its envelope sender.
#[test]
fn postfix_delivers_through_postlab_deliver() {
    let data = temp_dir("lda-data");
    fs::write(data.join("users"), "bob:{PLAIN}bob-password\n").unwrap();
    let bin = Path::new(crate::support::BIN);
    let postfix = Postfix::start_with(1, &[bin, &data]);
    let mut p = SmtpClient::connect(format!("127.0.0.1:{}", postfix.port).parse().unwrap());
    p.expect("EHLO laptop", 250);
    let reply = p.send_mail(
        "carol@pf.test",
        &["bob@lda.test"],
        "Subject: through the pipe\r\n\r\nHello postlab deliver\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let new = data.join("mail/bob/new");
    let file = wait_for("postlab deliver to write into bob's Maildir", || {
        fs::read_dir(&new).ok()?.flatten().next().map(|e| e.path())
    });
    let text = fs::read_to_string(file).unwrap();
    assert!(
        text.starts_with("Return-Path: <carol@pf.test>\r\nDelivered-To: bob@"),
        "{text}"
    );
    assert!(
        text.contains("Subject: through the pipe\r\n")
            && text.contains("Hello postlab deliver\r\n"),
        "{text}"
    );
    drop(postfix);
    let _ = fs::remove_dir_all(&data);
}
