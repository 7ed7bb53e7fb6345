//! The journey board (`/`), one message's journey (`/journey/ID`) and the live feed behind
//! them (`/events`).
//!
//! The board draws the course's seven flowchart boxes. Each message is a token that moves from
//! box to box as its transcript lines are written; `static/board.js` does the moving, from the
//! server-sent events (HTML Living Standard §9.2, `text/event-stream`) this file streams:
//!
//! ```text
//! event: step
//! data: {"stamp":"2026-11-26 15:20:55.152","session":"s19a…","step":6,"id":"19A3C4F2B8D10","text":"delivered to bob: mail/bob/new/…"}
//! ```
//!
//! Only event lines (those that carry a queue id) are sent: they are what `postlab trace`
//! follows too. The journey page reads the transcript files themselves.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use askama::Template;

use super::http::{Request, Response};
use super::{events, Web};
use crate::ids::QueueId;
use crate::transcript::{Line, Step};

pub const SCRIPT: &str = include_str!("static/board.js");
pub const STYLE: &str = include_str!("static/web.css");

/// The words on the board, in the class's language (`?lang=id`).
pub struct Words {
    pub lang: &'static str,
    pub title: &'static str,
    pub slow: &'static str,
    pub waiting: &'static str,
    pub journey: &'static str,
    pub no_lines: &'static str,
    pub back: &'static str,
    pub webmail: &'static str,
    pub other_lang: &'static str,
    pub other_lang_link: &'static str,
}

pub fn words(request: &Request) -> &'static Words {
    if request.indonesian() {
        &Words {
            lang: "id",
            title: "Perjalanan surat",
            slow: "Gerak lambat",
            waiting: "Menunggu surat… kirim satu, dan lihat ia berjalan.",
            journey: "Perjalanan surat",
            no_lines: "Tidak ada baris transkrip untuk ID ini.",
            back: "Kembali ke papan",
            webmail: "Webmail",
            other_lang: "English",
            other_lang_link: "?lang=en",
        }
    } else {
        &Words {
            lang: "en",
            title: "The journey of mail",
            slow: "Slow motion",
            waiting: "Waiting for mail… send one and watch it travel.",
            journey: "Journey of message",
            no_lines: "No transcript line mentions this id.",
            back: "Back to the board",
            webmail: "Webmail",
            other_lang: "Bahasa Indonesia",
            other_lang_link: "?lang=id",
        }
    }
}

/// What a step is called on the board, in the class's language.
fn meaning(step: Step, indonesian: bool) -> &'static str {
    if !indonesian {
        return step.meaning();
    }
    match step {
        Step::Mua => "program surat terhubung ke server SMTP-nya",
        Step::Mta => "dialog SMTP: pengirim, penerima, isi",
        Step::Mda => "setiap alamat penerima diproses: lokal atau jauh",
        Step::Dns => "pencarian MX untuk server penerima",
        Step::Relay => "klien SMTP kita menyerahkan surat ke server penerima",
        Step::Mailbox => "surat disimpan di kotak surat pengguna",
        Step::Access => "pengguna membaca kotak surat lewat POP3 atau IMAP",
    }
}

pub struct BoxView {
    pub number: u8,
    pub label: &'static str,
    pub meaning: &'static str,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    words: &'static Words,
    boxes: Vec<BoxView>,
}

/// `GET /`: the seven boxes; the tokens come with the events.
pub fn page(request: &Request) -> Response {
    let indonesian = request.indonesian();
    let page = BoardPage {
        words: words(request),
        boxes: Step::ALL
            .into_iter()
            .map(|step| BoxView {
                number: step.number(),
                label: step.label(),
                meaning: meaning(step, indonesian),
            })
            .collect(),
    };
    render(&page)
}

pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Response::html(html),
        Err(e) => Response::error(500, &format!("page failed: {e}")),
    }
}

/// A file built into the binary.
pub fn asset(content_type: &str, text: &'static str) -> Response {
    Response::new(200, &format!("{content_type}; charset=utf-8"), text)
}

pub struct LineView {
    pub stamp: String,
    pub step: u8,
    pub label: &'static str,
    pub text: String,
    /// This line is an event of the message asked for.
    pub ours: bool,
}

pub struct SessionView {
    pub name: String,
    pub lines: Vec<LineView>,
}

#[derive(Template)]
#[template(path = "journey.html")]
struct JourneyPage {
    words: &'static Words,
    id: String,
    sessions: Vec<SessionView>,
}

/// The most transcript lines one journey page shows per session: a long IMAP session is cut.
const MAX_LINES: usize = 2000;

/// `GET /journey/ID`: every line of every session that handled the message, labelled.
pub fn journey(web: &Web, request: &Request) -> Response {
    let raw = request.path.trim_start_matches("/journey/");
    // Only a queue id (hex digits) gets as far as the file system; `../x` never does.
    let Some(id) = QueueId::parse(raw) else {
        return Response::error(404, "not a message id");
    };
    let mut sessions = Vec::new();
    for file in transcript_files(&web.shared.data.transcripts()) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if !text.contains(id.as_str()) {
            continue;
        }
        let lines = text
            .lines()
            .filter_map(Line::parse)
            .take(MAX_LINES)
            .map(|line| LineView {
                stamp: line.stamp.to_string(),
                step: line.step.number(),
                label: line.step.label(),
                text: line.text.to_string(),
                ours: line.event().is_some_and(|(event, _)| event == id.as_str()),
            })
            .collect();
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        sessions.push(SessionView { name, lines });
    }
    sessions.sort_by(|a, b| {
        let first = |s: &SessionView| s.lines.first().map(|l| l.stamp.clone());
        first(a).cmp(&first(b))
    });
    render(&JourneyPage {
        words: words(request),
        id: id.as_str().to_string(),
        sessions,
    })
}

/// Every `DIR/transcripts/DATE/*.log`.
fn transcript_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for day in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(day.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "log") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// How often an idle stream says something, so a dead browser is noticed and proxies keep it.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /events`: the stream of event lines, until the browser goes away.
pub fn events(out: &mut impl Write) {
    let Some(subscription) = events::subscribe() else {
        let _ = Response::error(503, "too many boards watching").write(out);
        return;
    };
    let head = Response::new(200, "text/event-stream; charset=utf-8", "").head(None);
    // The browser reconnects by itself after 2 s if the stream breaks.
    if out.write_all(head.as_bytes()).is_err() || out.write_all(b"retry: 2000\n\n").is_err() {
        return;
    }
    loop {
        let mut chunk = match subscription.lines.recv_timeout(KEEP_ALIVE) {
            Ok(line) => event_chunk(&line),
            Err(RecvTimeoutError::Timeout) => ": still here\n\n".to_string(),
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // Whatever else is already waiting goes in the same write: under load one system call
        // carries many lines, and the board's thread takes less of the machine from the mail.
        for line in subscription.lines.try_iter().take(BATCH) {
            chunk.push_str(&event_chunk(&line));
        }
        if chunk.is_empty() {
            continue;
        }
        let dropped = subscription.take_dropped();
        let chunk = if dropped > 0 {
            format!("event: dropped\ndata: {dropped}\n\n{chunk}")
        } else {
            chunk
        };
        // The socket's write timeout cuts a browser that stopped reading.
        if out.write_all(chunk.as_bytes()).is_err() || out.flush().is_err() {
            return;
        }
    }
}

/// Lines written to a board in one go, at most.
const BATCH: usize = 256;

/// One line as a server-sent event, or nothing for a line that is not an event.
fn event_chunk(line: &str) -> String {
    match event_json(line) {
        Some(json) => format!("event: step\ndata: {json}\n\n"),
        None => String::new(),
    }
}

/// One event line as JSON for the board, or `None` for a line that is not an event.
pub fn event_json(raw: &str) -> Option<String> {
    let line = Line::parse(raw)?;
    let (id, text) = line.event()?;
    Some(format!(
        "{{\"stamp\":{},\"session\":{},\"step\":{},\"label\":{},\"id\":{},\"text\":{}}}",
        json(line.stamp),
        json(line.session),
        line.step.number(),
        json(line.step.label()),
        json(id),
        json(text)
    ))
}

/// A JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped.
fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // `<` too, so no `</script>` can ever come out of a string.
            c if (c as u32) < 0x20 || c == '<' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_become_json_and_others_do_not() {
        let line = "2026-11-26 15:20:55.152 s19a3c4f2b8d0f [6 MAILBOX] 19A3C4F2B8D10: delivered to bob: \"x\"<y>";
        assert_eq!(
            event_json(line).unwrap(),
            "{\"stamp\":\"2026-11-26 15:20:55.152\",\"session\":\"s19a3c4f2b8d0f\",\"step\":6,\
             \"label\":\"MAILBOX\",\"id\":\"19A3C4F2B8D10\",\"text\":\"delivered to bob: \\\"x\\\"\\u003cy>\"}"
        );
        let plain = "2026-11-26 15:20:55.101 s19a3c4f2b8d0f [2 MTA] C: MAIL FROM:<a@b>";
        assert_eq!(event_json(plain), None);
    }
}
