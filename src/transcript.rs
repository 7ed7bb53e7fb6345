//! The transcript: every line a session reads or writes, labelled with its flowchart step.
//!
//! ```text
//! 2026-11-26 15:20:55.101 s19a3c4f2b8d0f [1 MUA] connect from 127.0.0.1:53422 to smtp 127.0.0.1:10025
//! 2026-11-26 15:20:55.101 s19a3c4f2b8d0f [2 MTA] S: 220 mx.test ESMTP postlab ready (type HELP for the commands)
//! 2026-11-26 15:20:55.130 s19a3c4f2b8d0f [2 MTA] C: MAIL FROM:<alice@localhost>
//! 2026-11-26 15:20:55.131 s19a3c4f2b8d0f [2 MTA] 19A3C4F2B8D10: queue id given to the message from <alice@localhost>
//! 2026-11-26 15:20:55.140 s19a3c4f2b8d0f [3 MDA] 19A3C4F2B8D10: <bob@localhost> is local: account bob
//! 2026-11-26 15:20:55.152 s19a3c4f2b8d0f [6 MAILBOX] 19A3C4F2B8D10: delivered to bob: mail/bob/new/1795…
//! ```
//!
//! Each line goes to the log (target `transcript`, shown at the default level; `RUST_LOG`
//! changes it) and to the session's own file, `DIR/transcripts/DATE/SESSION-PROTOCOL.log`.
//! `C:` is the client, `S:` the server; a line with a queue id after the label is an event in
//! one message's journey, which is what `postlab trace` collects.
//!
//! This is the one place transcript lines are written. It does not know about secrets: each
//! protocol's own door (for SMTP, `smtp::server::Chat`, with the pure functions of
//! `src/redact.rs`) redacts before it calls in here.
//!
//! It does know that a line may come from a hostile client. Control characters (C0, DEL, C1)
//! are written as visible escapes (`\r`, `\x1b`, `\u{9b}`) by [`escape_controls`]: a raw CR
//! or LF would forge a second transcript line (and `postlab status` or `postlab trace` would
//! believe it), and a raw ESC would drive the terminal of whoever runs `postlab watch` or
//! `tail -f serve.log`. Doing it here, at the door every protocol uses, covers them all.
//!
//! And it bounds what one session can make it write. A client that sends NOOP after NOOP for
//! hours would otherwise fill the disk with its dialogue: after [`MAX_DIALOGUE`] octets of
//! `C:` and `S:` lines, one note says so and further dialogue lines are not written. Events and
//! notes still are (they are what `postlab trace` and `postlab status` read, and a client
//! cannot make many of them without making the server deliver mail, which has limits of its own).

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::clock;
use crate::ids::{QueueId, SessionId};

/// The course's flowchart steps (DESIGN.md). Every transcript line carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// 1: a mail client composes and connects.
    Mua,
    /// 2: the SMTP dialogue.
    Mta,
    /// 3: address processing, local or remote.
    Mda,
    /// 4: DNS lookup of the receiving server.
    Dns,
    /// 5: handing the message to another server.
    Relay,
    /// 6: storing it in the mailbox.
    Mailbox,
    /// 7: the user reads it over POP3 or IMAP.
    Access,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Mua,
        Step::Mta,
        Step::Mda,
        Step::Dns,
        Step::Relay,
        Step::Mailbox,
        Step::Access,
    ];

    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    pub fn label(self) -> &'static str {
        match self {
            Step::Mua => "MUA",
            Step::Mta => "MTA",
            Step::Mda => "MDA",
            Step::Dns => "DNS",
            Step::Relay => "RELAY",
            Step::Mailbox => "MAILBOX",
            Step::Access => "ACCESS",
        }
    }

    /// What happens at this step, in the course's words.
    pub fn meaning(self) -> &'static str {
        match self {
            Step::Mua => "a mail client connects to its SMTP server",
            Step::Mta => "the SMTP dialogue: sender, recipients, content",
            Step::Mda => "each recipient address is processed: local or remote",
            Step::Dns => "MX lookup for the receiving server",
            Step::Relay => "our SMTP client hands the message to the receiving server",
            Step::Mailbox => "the message is stored in the user's mailbox",
            Step::Access => "the user reads the mailbox over POP3 or IMAP",
        }
    }

    /// Reads a label as written in a transcript (`MTA`).
    pub fn from_label(label: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.label() == label)
    }
}

impl fmt::Display for Step {
    /// `[2 MTA]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} {}]", self.number(), self.label())
    }
}

/// How many octets of `C:` and `S:` lines one session may write (16 MiB: a whole 25 MiB
/// message is logged as one line of its size, so only a hostile or broken client gets near).
pub const MAX_DIALOGUE: u64 = 16 * 1024 * 1024;

/// One session's transcript.
pub struct Transcript {
    session: SessionId,
    file: Option<File>,
    path: Option<PathBuf>,
    /// Octets of dialogue (`C:`/`S:` lines) written so far, against [`MAX_DIALOGUE`].
    dialogue: u64,
}

impl Transcript {
    /// Opens `DIR/transcripts/DATE/SESSION-PROTOCOL.log`. If the file cannot be created the
    /// session goes on with the log alone (a full disk must not stop mail that can still be
    /// refused cleanly), and the failure is logged once.
    pub fn create(transcripts: &Path, session: &SessionId, protocol: &str) -> Transcript {
        let dir = transcripts.join(clock::now().date());
        let path = dir.join(format!("{session}-{protocol}.log"));
        let file = crate::mailbox::durable::create_dir_all_durably(&dir).and_then(|()| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(crate::datadir::FILE_MODE)
                .open(&path)
        });
        match file {
            Ok(file) => Transcript {
                session: session.clone(),
                file: Some(file),
                path: Some(path),
                dialogue: 0,
            },
            Err(e) => {
                log::warn!("{session}: no transcript file {}: {e}", path.display());
                Transcript {
                    session: session.clone(),
                    file: None,
                    path: None,
                    dialogue: 0,
                }
            }
        }
    }

    /// A transcript that only logs (for tools and tests that keep no files).
    pub fn log_only(session: SessionId) -> Transcript {
        Transcript {
            session,
            file: None,
            path: None,
            dialogue: 0,
        }
    }

    pub fn session(&self) -> &SessionId {
        &self.session
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// `C: line` — what the client sent (already redacted by the protocol's door).
    pub fn client(&mut self, step: Step, line: &str) {
        self.dialogue(step, &format!("C: {line}"));
    }

    /// `S: line` — what the server sent.
    pub fn server(&mut self, step: Step, line: &str) {
        self.dialogue(step, &format!("S: {line}"));
    }

    /// Writes a dialogue line while the session is under [`MAX_DIALOGUE`]; the line that
    /// crosses it is followed by one note, and later ones are dropped.
    fn dialogue(&mut self, step: Step, text: &str) {
        if self.dialogue > MAX_DIALOGUE {
            return;
        }
        self.dialogue += self.write(step, text) as u64;
        if self.dialogue > MAX_DIALOGUE {
            self.write(
                step,
                &format!(
                    "the dialogue passed {} MiB: its further lines are not written (events are)",
                    MAX_DIALOGUE >> 20
                ),
            );
        }
    }

    /// A remark about the session (connect, close, TLS, …).
    pub fn note(&mut self, step: Step, text: &str) {
        self.write(step, text);
    }

    /// An event in one message's journey; `postlab trace ID` finds these.
    pub fn event(&mut self, step: Step, id: &QueueId, text: &str) {
        self.write(step, &format!("{id}: {text}"));
    }

    /// The events of one step of a session at once: each line as [`Transcript::event`] writes
    /// it, and all of them reaching the file in one write. A message from another server brings
    /// half a dozen (what SPF, DKIM and DMARC found), and one write each would cost as many
    /// system calls.
    pub fn events<'e>(&mut self, events: impl IntoIterator<Item = (Step, &'e QueueId, &'e str)>) {
        let events = events.into_iter();
        // Room for lines of a usual length, so the buffer is not grown line by line.
        let mut bytes = Vec::with_capacity(events.size_hint().0 * 160);
        for (step, id, text) in events {
            bytes.extend_from_slice(self.line(step, &format!("{id}: {text}")).as_bytes());
            bytes.push(b'\n');
        }
        if !bytes.is_empty() {
            self.append(&bytes);
        }
    }

    /// Writes one line; gives its length in octets.
    fn write(&mut self, step: Step, text: &str) -> usize {
        let mut line = self.line(step, text);
        line.push('\n');
        self.append(line.as_bytes());
        line.len()
    }

    /// One line, stamped and labelled, also logged and sent to the journey board's live feed.
    fn line(&self, step: Step, text: &str) -> String {
        let text = escape_controls(text);
        let stamp = clock::now().stamp();
        // Sized once: `format!` would grow the string a few times on every line.
        let mut line = String::with_capacity(stamp.len() + text.len() + 48);
        let _ = write!(line, "{stamp} {} {step} {text}", self.session);
        log::info!(target: "transcript", "{line}");
        // The journey board's live feed; never waits (src/web/events.rs).
        crate::web::events::publish(&line);
        line
    }

    /// Appends whole lines to the file in one write, so a reader (`tail -f`, `postlab trace`)
    /// never sees half a line.
    fn append(&mut self, bytes: &[u8]) {
        if let Some(file) = &mut self.file {
            if let Err(e) = file.write_all(bytes) {
                log::warn!(
                    "{}: transcript file write failed, logging only from now on: {e}",
                    self.session
                );
                self.file = None;
            }
        }
    }
}

/// Is `c` a character a terminal or a line-based reader acts on rather than shows: C0 (tab,
/// CR, LF and ESC among them), DEL, or C1 (U+0080–U+009F; U+009B is a one-character CSI)?
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// The text with every control character made visible: `\t`, `\r`, `\n`, `\x1b` (`\xNN` for the
/// rest of C0 and DEL), `\u{NN}` for C1. Everything else, backslash included, is unchanged, so
/// an ordinary line reads as it was sent.
///
/// ```text
/// "NOOP \r\n...[6 MAILBOX] delivered"  (raw CR LF inside)  →  NOOP \r\n...[6 MAILBOX] delivered
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x80 && is_control(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A transcript line taken apart again (for `postlab trace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub stamp: &'a str,
    pub session: &'a str,
    pub step: Step,
    /// Everything after the label.
    pub text: &'a str,
}

impl<'a> Line<'a> {
    pub fn parse(line: &'a str) -> Option<Line<'a>> {
        // "2026-11-26 15:20:55.101 s19a3c4f2b8d0f [2 MTA] text"
        let stamp = line.get(..23)?;
        let rest = line.get(24..)?;
        let (session, rest) = rest.split_once(' ')?;
        let rest = rest.strip_prefix('[')?;
        let (label, text) = rest
            .split_once("] ")
            .or_else(|| rest.strip_suffix(']').map(|l| (l, "")))?;
        let (_, name) = label.split_once(' ')?;
        Some(Line {
            stamp,
            session,
            step: Step::from_label(name)?,
            text,
        })
    }

    /// For an event line, the queue id and the event text.
    pub fn event(&self) -> Option<(&'a str, &'a str)> {
        let (id, text) = self.text.split_once(": ")?;
        QueueId::parse(id).map(|_| (id, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_the_flowchart() {
        let labels: Vec<String> = Step::ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            labels,
            [
                "[1 MUA]",
                "[2 MTA]",
                "[3 MDA]",
                "[4 DNS]",
                "[5 RELAY]",
                "[6 MAILBOX]",
                "[7 ACCESS]"
            ]
        );
    }

    #[test]
    fn control_characters_are_made_visible() {
        let table = [
            ("MAIL FROM:<a@b>", "MAIL FROM:<a@b>"),
            ("a\tb", "a\\tb"),
            ("NOOP\r\n2026 [6 MAILBOX] x", "NOOP\\r\\n2026 [6 MAILBOX] x"),
            ("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),
            ("\0 \x7f", "\\x00 \\x7f"),
            ("\u{9b}31m \u{85}", "\\u{9b}31m \\u{85}"),
            ("\\Seen é ☃", "\\Seen é ☃"),
        ];
        for (raw, shown) in table {
            assert_eq!(escape_controls(raw), shown, "{raw:?}");
            assert!(!escape_controls(raw).chars().any(is_control));
        }
    }

    #[test]
    fn a_client_line_cannot_make_a_second_line() {
        let dir =
            std::env::temp_dir().join(format!("postlab-transcript-cr-{}", std::process::id()));
        let mut t = Transcript::create(&dir, &SessionId::new(), "smtp");
        t.client(
            Step::Mta,
            "NOOP\r\n2026-01-01 00:00:00.000 s1 [6 MAILBOX] X: delivered\x1b[31m",
        );
        let text = std::fs::read_to_string(t.path().unwrap()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            !text.trim_end_matches('\n').chars().any(is_control),
            "{text:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_session_writes_at_most_max_dialogue() {
        let dir =
            std::env::temp_dir().join(format!("postlab-transcript-max-{}", std::process::id()));
        let mut t = Transcript::create(&dir, &SessionId::new(), "smtp");
        let line = "NOOP ".repeat(1000);
        for _ in 0..(MAX_DIALOGUE / 5000 + 100) {
            t.client(Step::Mta, &line);
            t.server(Step::Mta, "250 2.0.0 Ok");
        }
        t.event(
            Step::Mailbox,
            &QueueId::new(),
            "delivered to bob: still written",
        );
        let text = std::fs::read_to_string(t.path().unwrap()).unwrap();
        assert!(text.len() as u64 <= MAX_DIALOGUE + 20_000, "{}", text.len());
        assert_eq!(text.matches("the dialogue passed 16 MiB").count(), 1);
        assert!(text.ends_with("delivered to bob: still written\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn events_written_together_are_whole_lines_in_order() {
        let dir = std::env::temp_dir().join(format!("postlab-events-{}", std::process::id()));
        let session = SessionId::new();
        let id = QueueId::new();
        let mut t = Transcript::create(&dir, &session, "smtp");
        t.events([
            (Step::Mda, &id, "SPF pass for HELO mx.a.test"),
            (Step::Mda, &id, "DKIM pass: d=a.test\r\n[6 MAILBOX] forged"),
            (Step::Dns, &id, "TXT? a.test"),
        ]);
        t.events([]);
        t.client(Step::Mta, "QUIT");
        let text = std::fs::read_to_string(t.path().unwrap()).unwrap();
        let lines: Vec<Line> = text.lines().map(|l| Line::parse(l).unwrap()).collect();
        assert_eq!(lines.len(), 4, "{text}");
        let events: Vec<_> = lines[..3].iter().map(|l| (l.step, l.event())).collect();
        assert_eq!(
            events,
            [
                (
                    Step::Mda,
                    Some((id.as_str(), "SPF pass for HELO mx.a.test"))
                ),
                (
                    Step::Mda,
                    Some((id.as_str(), "DKIM pass: d=a.test\\r\\n[6 MAILBOX] forged"))
                ),
                (Step::Dns, Some((id.as_str(), "TXT? a.test"))),
            ]
        );
        assert_eq!(lines[3].text, "C: QUIT");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn written_lines_parse_back() {
        let dir = std::env::temp_dir().join(format!("postlab-transcript-{}", std::process::id()));
        let session = SessionId::new();
        let id = QueueId::new();
        let mut t = Transcript::create(&dir, &session, "smtp");
        t.client(Step::Mta, "MAIL FROM:<a@b.example>");
        t.event(Step::Mda, &id, "<bob@localhost> is local");
        let text = std::fs::read_to_string(t.path().unwrap()).unwrap();
        let lines: Vec<Line> = text.lines().map(|l| Line::parse(l).unwrap()).collect();
        assert_eq!(lines[0].step, Step::Mta);
        assert_eq!(lines[0].text, "C: MAIL FROM:<a@b.example>");
        assert_eq!(lines[0].event(), None);
        assert_eq!(
            lines[1].event(),
            Some((id.as_str(), "<bob@localhost> is local"))
        );
        assert_eq!(lines[1].session, session.as_str());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
