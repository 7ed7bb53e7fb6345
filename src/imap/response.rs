//! Every response the IMAP server sends, and how it is written on the wire and in the
//! transcript (RFC 3501 §7).
//!
//! ```text
//! S: * 3 EXISTS                         untagged data: the server telling the client a fact
//! S: + Ready for the literal            continuation: go on sending
//! S: a5 OK [READ-WRITE] SELECT done     tagged status: this command is finished
//! S: a6 NO [NONEXISTENT] No such folder the command failed; nothing changed
//! S: a7 BAD [CLIENTBUG] Unknown command the command was not understood
//! ```
//!
//! Response codes in brackets are from RFC 3501 §7.1 and RFC 5530; a client acts on the code,
//! a human reads the text. Message contents travel as literals (`{342}` CRLF and 342 octets);
//! the transcript shows their size, not their bytes. A failed command may carry a hint for
//! students (`hints` in postlab.conf, from `src/hints.rs`) after its text.

use std::ops::Range;
use std::rc::Rc;

use crate::hints::{Hint, Hints};
use crate::mailbox::folder::FolderError;

/// A response decided when its command runs and rendered only as it is sent: one message's
/// FETCH response (`fetch::Later`, the one kind there is). A trait here, so that this file,
/// which every IMAP file uses, needs nothing from FETCH.
pub trait Deferred: std::fmt::Debug {
    /// The whole response, `* ` or tag to CRLF, each piece handed to `out` as soon as it is
    /// made, until `out` says to stop (false: the client is gone). It may hand nothing at all
    /// (a message gone by the time its FETCH response is due).
    fn render(&self, out: &mut dyn FnMut(Piece) -> bool);
    /// The tagged end of a command (decided only when sent)?
    fn is_tagged(&self) -> bool {
        false
    }
    fn clone_box(&self) -> Box<dyn Deferred>;
    /// The same response (for tests that compare what a session answered)?
    fn same(&self, other: &dyn Deferred) -> bool;
    fn as_any(&self) -> &dyn std::any::Any;
}

impl Clone for Box<dyn Deferred> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl PartialEq for Box<dyn Deferred> {
    fn eq(&self, other: &Self) -> bool {
        self.same(other.as_ref())
    }
}

impl Eq for Box<dyn Deferred> {}

/// A part of an untagged data response: text, or a literal with its octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Literal(Vec<u8>),
    /// RFC 3516's `literal8` when the octets hold a NUL (`~{n}`), a plain literal otherwise:
    /// decoded BINARY content.
    Literal8(Vec<u8>),
    /// A literal that is a stretch of a message's octets, shared rather than copied: FETCH
    /// `BODY[]` sends the octets it read from the file, and asking for them twice costs nothing
    /// more.
    Shared {
        content: Rc<Vec<u8>>,
        range: Range<usize>,
    },
    /// A student hint at the end of an untagged `BYE`, shown when `hints` is on.
    Hint(Hint),
}

impl Piece {
    /// Hands this piece's octets on the wire to `out`, a literal's octets where they lie.
    pub fn write(&self, out: &mut dyn FnMut(&[u8])) {
        self.write_with(Hints::Off, out)
    }

    /// [`Piece::write`], a hint in the language of `hints`.
    pub fn write_with(&self, hints: Hints, out: &mut dyn FnMut(&[u8])) {
        match self {
            Piece::Text(t) => out(t.as_bytes()),
            Piece::Hint(hint) => {
                if let Some(suffix) = hint.suffix(hints) {
                    out(suffix.as_bytes());
                }
            }
            Piece::Literal(bytes) => {
                out(format!("{{{}}}\r\n", bytes.len()).as_bytes());
                out(bytes);
            }
            Piece::Literal8(bytes) => {
                let tilde = if bytes.contains(&0) { "~" } else { "" };
                out(format!("{tilde}{{{}}}\r\n", bytes.len()).as_bytes());
                out(bytes);
            }
            Piece::Shared { content, range } => {
                let bytes = content.get(range.clone()).unwrap_or_default();
                out(format!("{{{}}}\r\n", bytes.len()).as_bytes());
                out(bytes);
            }
        }
    }

    /// Adds this piece to a transcript line: a literal by its size only.
    pub fn log(&self, line: &mut String) {
        self.log_with(Hints::Off, line)
    }

    /// [`Piece::log`], a hint in the language of `hints`.
    pub fn log_with(&self, hints: Hints, line: &mut String) {
        let size = match self {
            Piece::Text(t) => return line.push_str(t),
            Piece::Hint(hint) => return line.push_str(&hint.suffix(hints).unwrap_or_default()),
            Piece::Literal(bytes) | Piece::Literal8(bytes) => bytes.len(),
            Piece::Shared { content, range } => content.get(range.clone()).map_or(0, <[u8]>::len),
        };
        line.push_str(&format!("{{{size}}} <{size} octets>"));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `* ` followed by the pieces.
    Untagged(Vec<Piece>),
    /// `* n FETCH (…)` for one message, or FETCH's tagged end, made only as it is sent (see
    /// [`Deferred`]).
    Fetch(Box<dyn Deferred>),
    /// `+ text`
    Continue(String),
    /// `TAG OK|NO|BAD [CODE] text`; the tag `*` for an untagged status.
    Status {
        tag: String,
        status: Status,
        code: Option<String>,
        text: String,
        /// A student hint, written after the text when `hints` is on.
        hint: Option<Hint>,
    },
}

impl Response {
    /// `* TEXT` without literals.
    pub fn data(text: impl Into<String>) -> Response {
        Response::Untagged(vec![Piece::Text(text.into())])
    }

    pub fn status(tag: &str, status: Status, code: Option<&str>, text: &str) -> Response {
        Response::Status {
            tag: tag.to_string(),
            status,
            code: code.map(str::to_string),
            text: text.to_string(),
            hint: None,
        }
    }

    /// The same status response with a student hint (a `BYE` gets it after its text too).
    pub fn hint(mut self, new: Hint) -> Response {
        match &mut self {
            Response::Status { hint, .. } => *hint = Some(new),
            Response::Untagged(pieces) => pieces.push(Piece::Hint(new)),
            _ => {}
        }
        self
    }

    pub fn ok(tag: &str, text: &str) -> Response {
        Response::status(tag, Status::Ok, None, text)
    }

    pub fn no(tag: &str, code: &str, text: &str) -> Response {
        Response::status(tag, Status::No, Some(code), text)
    }

    pub fn bad(tag: &str, text: &str) -> Response {
        Response::status(tag, Status::Bad, Some("CLIENTBUG"), text)
    }

    /// Is this the tagged end of a command (not `*` and not `+`)?
    pub fn is_tagged(&self) -> bool {
        match self {
            Response::Fetch(deferred) => deferred.is_tagged(),
            Response::Status { tag, .. } => tag != "*",
            _ => false,
        }
    }

    /// The octets sent to the client.
    pub fn wire(&self) -> Vec<u8> {
        self.wire_with(Hints::Off)
    }

    /// The octets sent to the client, with the hint in the language of `hints`.
    pub fn wire_with(&self, hints: Hints) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_with(hints, &mut |bytes| out.extend_from_slice(bytes));
        out
    }

    /// Hands the octets on the wire to `out` piece by piece, as they are made: a FETCH response
    /// is rendered now, and each literal goes out from where it lies, never copied whole.
    pub fn write(&self, out: &mut dyn FnMut(&[u8])) {
        self.write_with(Hints::Off, out)
    }

    /// [`Response::write`], with the hint (if any) in the language of `hints`.
    pub fn write_with(&self, hints: Hints, out: &mut dyn FnMut(&[u8])) {
        match self {
            Response::Untagged(pieces) => {
                out(b"* ");
                for piece in pieces {
                    piece.write_with(hints, out);
                }
            }
            Response::Fetch(later) => {
                return later.render(&mut |piece| {
                    piece.write(out);
                    true
                });
            }
            _ => out(self.log_line_with(hints).as_bytes()),
        }
        out(b"\r\n");
    }

    /// The line written to the transcript: literals shown by their size only.
    pub fn log_line(&self) -> String {
        self.log_line_with(Hints::Off)
    }

    /// [`Response::log_line`], with the hint (if any) in the language of `hints`.
    pub fn log_line_with(&self, hints: Hints) -> String {
        match self {
            Response::Untagged(pieces) => {
                let mut line = String::from("* ");
                for piece in pieces {
                    piece.log_with(hints, &mut line);
                }
                line
            }
            Response::Fetch(later) => {
                let mut line = String::new();
                later.render(&mut |piece| {
                    piece.log(&mut line);
                    true
                });
                line.trim_end_matches("\r\n").to_string()
            }
            Response::Continue(text) => format!("+ {text}"),
            Response::Status {
                tag,
                status,
                code,
                text,
                hint,
            } => {
                let word = match status {
                    Status::Ok => "OK",
                    Status::No => "NO",
                    Status::Bad => "BAD",
                };
                let hint = hint.and_then(|h| h.suffix(hints)).unwrap_or_default();
                match code {
                    Some(code) => format!("{tag} {word} [{code}] {text}{hint}"),
                    None => format!("{tag} {word} {text}{hint}"),
                }
            }
        }
    }
}

/// The capabilities (RFC 3501 §7.2.1). Before login, AUTH=PLAIN or LOGINDISABLED tells the
/// client whether a password may be sent here (RFC 3501 §6.2.3, RFC 2595 §3.2).
pub fn capabilities(before_login: bool, plaintext_allowed: bool) -> String {
    let mut caps = String::from(
        "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE ESEARCH LIST-EXTENDED LIST-STATUS QUOTA QUOTA=RES-STORAGE MULTIAPPEND UTF8=ACCEPT STATUS=SIZE SEARCHRES CONDSTORE QRESYNC SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT BINARY CREATE-SPECIAL-USE",
    );
    if before_login {
        caps.push_str(if plaintext_allowed {
            " AUTH=PLAIN"
        } else {
            " LOGINDISABLED"
        });
    }
    caps
}

pub fn greeting(caps: &str) -> Response {
    Response::status(
        "*",
        Status::Ok,
        Some(&format!("CAPABILITY {caps}")),
        "postlab IMAP4rev1 ready (flowchart step 7: read your mail)",
    )
}

pub fn bye(text: &str) -> Response {
    Response::data(format!("BYE {text}"))
}

/// A client spoke plain text (or waited for a greeting) on the IMAPS port, which starts in
/// TLS (RFC 8314 §3.3); RFC 3501 §7.1.5 greets a client the server will not serve with BYE.
pub fn plain_text_on_tls_port(starttls_port: &str) -> Response {
    bye(&format!(
        "This port speaks TLS from the first octet (IMAPS); for plain text and STARTTLS use port {starttls_port}"
    ))
    .hint(Hint::TlsClientNeeded)
}

/// The administrator stopped the server (SIGTERM): RFC 3501 §7.1.5, BYE "the server is
/// shutting down"; RFC 5530 §3 UNAVAILABLE, try again later.
pub fn shutting_down() -> Response {
    bye("[UNAVAILABLE] Server shutting down")
}

// The failures several commands share, each with its RFC 5530 code.

/// RFC 5530 §3 PRIVACYREQUIRED: a password may not travel here in the clear.
pub fn privacy_required(tag: &str) -> Response {
    Response::no(
        tag,
        "PRIVACYREQUIRED",
        "Passwords are accepted only over TLS or from this machine",
    )
    .hint(Hint::ImapPrivacy)
}

/// RFC 5530 §3 AUTHENTICATIONFAILED: the same words whether the user or the password was wrong.
pub fn authentication_failed(tag: &str) -> Response {
    Response::no(tag, "AUTHENTICATIONFAILED", "Wrong user name or password")
}

/// A change asked for in a folder opened with EXAMINE.
pub fn read_only(tag: &str) -> Response {
    Response::no(tag, "CANNOT", "The folder is read-only (EXAMINE)")
}

/// RFC 3501 §6.3.11, §6.4.7: the target folder does not exist, and CREATE would help.
pub fn try_create(tag: &str) -> Response {
    Response::no(tag, "TRYCREATE", "No such folder; CREATE it first")
}

/// RFC 3501 §6.4.4 (and §7.1 BADCHARSET): a SEARCH charset we cannot read; the code lists
/// the ones we can.
pub fn bad_charset(tag: &str) -> Response {
    Response::no(
        tag,
        "BADCHARSET (US-ASCII UTF-8)",
        "Only US-ASCII and UTF-8 can be searched",
    )
}

/// RFC 5530 §3 SERVERBUG: the disk failed us, not the client.
/// RFC 2180 §4.1 and RFC 5530 EXPUNGEISSUED: another session expunged some of the messages a
/// command named; the others were answered, these were not.
pub fn expunge_issued(tag: &str, what: &str) -> Response {
    Response::no(
        tag,
        "EXPUNGEISSUED",
        // In words testers and people recognise: Dovecot says "no longer exist", and imaptest
        // takes "have been deleted" as the same news for STORE.
        &format!(
            "{what}: some of the messages no longer exist, they have been deleted by another session"
        ),
    )
}

pub fn disk_error(tag: &str, error: &std::io::Error) -> Response {
    Response::no(tag, "SERVERBUG", &format!("Disk error: {error}"))
}

/// A folder error as a tagged `NO` with its RFC 5530 code.
pub fn folder_error(tag: &str, error: FolderError) -> Response {
    match error {
        FolderError::BadName(why) => {
            Response::no(tag, "CANNOT", &format!("Bad folder name: {why}"))
        }
        FolderError::NotFound => Response::no(tag, "NONEXISTENT", "No such folder"),
        FolderError::AlreadyExists => {
            Response::no(tag, "ALREADYEXISTS", "The folder already exists")
        }
        FolderError::Cannot(why) => Response::no(tag, "CANNOT", why),
        FolderError::Io(e) => disk_error(tag, &e),
    }
}

pub const BYE_LOGOUT: &str = "postlab logging out";
pub const BYE_IDLE: &str = "Autologout: idle for too long";
/// A line, a literal or the TLS handshake came too slowly (`src/pace.rs`).
pub const BYE_SLOW: &str = "Too slow, closing connection";
/// Every place was taken, and this connection gave its place to a newcomer (`src/pace.rs`).
pub const BYE_MADE_ROOM: &str =
    "[UNAVAILABLE] Server full: this connection made room for a new client";

/// `"text"` with `\` and `"` escaped.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `nstring`: NIL or a quoted string. A quoted string is 7-bit (RFC 3501 §9 `QUOTED-CHAR`),
/// so text with other characters (a display name the MIME parser decoded, a raw 8-bit
/// header) is sent as an RFC 2047 encoded word, which every mail client decodes.
pub fn nstring(text: Option<&str>) -> String {
    match text {
        Some(t) if t.is_ascii() => quote(&t.replace(['\r', '\n'], " ")),
        Some(t) => quote(&format!("=?utf-8?b?{}?=", base64(t.as_bytes()))),
        None => "NIL".to_string(),
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_go_on_the_wire_but_only_their_size_in_the_log() {
        let r = Response::Untagged(vec![
            Piece::Text("1 FETCH (BODY[] ".into()),
            Piece::Literal(b"Hi\r\n".to_vec()),
            Piece::Text(")".into()),
        ]);
        assert_eq!(r.wire(), b"* 1 FETCH (BODY[] {4}\r\nHi\r\n)\r\n");
        assert_eq!(r.log_line(), "* 1 FETCH (BODY[] {4} <4 octets>)");
        assert_eq!(
            Response::no("a1", "NONEXISTENT", "No such folder").log_line(),
            "a1 NO [NONEXISTENT] No such folder"
        );
        assert_eq!(quote("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(nstring(Some("Renée")), "\"=?utf-8?b?UmVuw6ll?=\"");
        assert_eq!(nstring(None), "NIL");
    }
}
