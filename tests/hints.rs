//! The student hints (`hints` in postlab.conf, catalogue in `src/hints.rs`) over real sockets:
//! `hints = id` gives them in Bahasa Indonesia on SMTP, POP3 and IMAP; `yes` and `en` give the
//! English of before; SIGHUP switches the language for new sessions.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;

use crate::support::*;

/// Sends `lines` (each ended by `end`) to `service` after reading its greeting, and returns
/// the first line of the answer to each, without its CRLF.
fn answers(server: &TestServer, service: &str, lines: &[&str], end: &str) -> Vec<String> {
    let stream = TcpStream::connect(server.addr(service)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    lines
        .iter()
        .map(|line| {
            writer.write_all(format!("{line}{end}").as_bytes()).unwrap();
            let mut answer = String::new();
            reader.read_line(&mut answer).unwrap();
            answer.trim_end_matches("\r\n").to_string()
        })
        .collect()
}

fn server_with(hints: &str) -> TestServer {
    TestServer::start_with(Setup {
        config: format!("hints = {hints}\n"),
        ..Setup::default()
    })
}

#[test]
fn hints_id_speaks_bahasa_indonesia_on_smtp_pop3_and_imap() {
    let server = server_with("id");
    let smtp = answers(&server, "smtp", &["FROB"], "\r\n");
    assert_eq!(
        smtp[0],
        "500 5.5.1 Command unrecognized (petunjuk: ketik HELP untuk melihat daftar perintah)"
    );
    // A bare LF, as nc without -C sends it: the hint says so in Indonesian.
    let smtp = answers(&server, "smtp", &["NOOP"], "\n");
    assert_eq!(
        smtp[0],
        "500 5.5.2 Syntax error: lines must end with CRLF (petunjuk: klien Anda mengirim LF tanpa \
         CR; nc mengirim LF tanpa CR kecuali dijalankan sebagai nc -C, sedangkan telnet mengirim CRLF)"
    );
    let pop3 = answers(&server, "pop3", &["STAT"], "\r\n");
    assert_eq!(
        pop3[0],
        "-ERR not logged in yet (petunjuk: kirim USER nama-anda, lalu PASS kata-sandi-anda)"
    );
    let imap = answers(&server, "imap", &["a1 FROB"], "\r\n");
    assert_eq!(
        imap[0],
        "a1 BAD [CLIENTBUG] Unknown command FROB (petunjuk: CAPABILITY menampilkan apa saja yang \
         ditawarkan server ini)"
    );
    // The transcript holds what was said, hint and all.
    let transcripts = server.transcripts();
    assert!(
        transcripts.contains("(petunjuk: ketik HELP untuk melihat daftar perintah)"),
        "{transcripts}"
    );
    assert!(transcripts.contains("Unknown command FROB (petunjuk: "));
}

#[test]
fn hints_yes_and_en_give_the_english_of_before() {
    for setting in ["yes", "en"] {
        let server = server_with(setting);
        let smtp = answers(
            &server,
            "smtp",
            &["FROB", "MAIL FROM:<alice@localhost>"],
            "\r\n",
        );
        assert_eq!(
            smtp,
            [
                "500 5.5.1 Command unrecognized (hint: type HELP for the list of commands)",
                "503 5.5.1 Bad sequence of commands: send HELO or EHLO first (hint: introduce \
                 yourself: EHLO your-name)"
            ],
            "hints = {setting}"
        );
        let pop3 = answers(&server, "pop3", &["STAT"], "\r\n");
        assert_eq!(
            pop3[0],
            "-ERR not logged in yet (hint: USER your-name, then PASS your-password)"
        );
        let imap = answers(&server, "imap", &["a1 FROB"], "\r\n");
        assert_eq!(
            imap[0],
            "a1 BAD [CLIENTBUG] Unknown command FROB (hint: CAPABILITY lists what this server offers)"
        );
    }
}

#[test]
fn sighup_switches_the_language_of_the_hints_for_new_sessions() {
    let server = server_with("en");
    let conf = server.dir.join("postlab.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("hints = id\n");
    std::fs::write(&conf, text).unwrap();
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    wait_for("a new SMTP session to get Indonesian hints", || {
        let reply = answers(&server, "smtp", &["FROB"], "\r\n").remove(0);
        reply.contains("(petunjuk: ").then_some(())
    });
    let pop3 = answers(&server, "pop3", &["STAT"], "\r\n");
    assert!(pop3[0].contains("(petunjuk: "), "{pop3:?}");
}

#[test]
fn a_hints_setting_that_is_no_language_is_refused_at_start() {
    let dir = temp_dir("hints-fr");
    let mut text = postlab::config::default_file_text();
    text.push_str("hints = fr\n");
    std::fs::write(dir.join("postlab.conf"), text).unwrap();
    let (code, out, err) = postlab_in(&dir, &["check"]);
    let said = format!("{out}{err}");
    assert_ne!(code, 0, "{said}");
    assert!(
        said.contains("hints: say yes, no, en or id, not 'fr'"),
        "{said}"
    );
}
