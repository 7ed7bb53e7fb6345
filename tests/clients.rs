//! Real SMTP clients against the server: Python's smtplib and swaks.

use std::process::Command;

use crate::support::TestServer;

#[test]
fn python_smtplib_sends_mail() {
    let server = TestServer::start();
    let script = format!(
        r#"
import smtplib
from email.message import EmailMessage
msg = EmailMessage()
msg["From"] = "alice@localhost"
msg["To"] = "bob@localhost"
msg["Subject"] = "from smtplib"
msg.set_content("Hello from Python\n.starts with a dot\n")
with smtplib.SMTP("{}", {}) as s:
    s.ehlo("python.test")
    assert s.has_extn("pipelining") and s.has_extn("size")
    refused = s.send_message(msg, to_addrs=["bob@localhost", "alice@localhost"])
    assert refused == {{}}, refused
    try:
        s.sendmail("alice@localhost", ["nobody@localhost"], "Subject: x\r\n\r\ny\r\n")
        raise SystemExit("unknown user was accepted")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["nobody@localhost"][0] == 550
"#,
        server.smtp.ip(),
        server.smtp.port()
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for account in ["bob", "alice"] {
        let mail = server.new_mail(account);
        assert_eq!(mail.len(), 1, "{account}");
        let text = std::fs::read_to_string(&mail[0]).unwrap();
        assert!(
            text.contains("Subject: from smtplib\r\n")
                && text.contains("\r\n.starts with a dot\r\n"),
            "{text}"
        );
    }
}

#[test]
fn swaks_sends_mail() {
    let available = Command::new("swaks")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        available,
        "swaks is needed for this test: apt-get install swaks (.ci/run installs it)"
    );
    let server = TestServer::start();
    let output = Command::new("swaks")
        .args([
            "--server",
            &server.smtp.ip().to_string(),
            "--port",
            &server.smtp.port().to_string(),
        ])
        .args([
            "--from",
            "alice@localhost",
            "--to",
            "bob@localhost",
            "--helo",
            "swaks.test",
        ])
        .args([
            "--header",
            "Subject: from swaks",
            "--body",
            "Hello from swaks",
        ])
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{transcript}");
    assert!(
        transcript.contains("<-  250 2.0.0 Ok: queued as"),
        "{transcript}"
    );
    let mail = server.new_mail("bob");
    assert_eq!(mail.len(), 1);
    assert!(std::fs::read_to_string(&mail[0])
        .unwrap()
        .contains("Subject: from swaks"));
}
