//! Framing: cutting the client's bytes into whole commands, before any parsing (RFC 3501 §2.2).
//!
//! An IMAP command is one line, unless it carries a literal: a line ending in `{n}` means "n
//! octets follow, then the command goes on". With a synchronizing literal the client waits for
//! the server's `+` before sending the octets, so the server can refuse a literal it will not
//! take before a single octet of it is sent. With LITERAL+ (`{n+}`, RFC 7888) the octets come
//! at once.
//!
//! ```text
//! C: a3 APPEND Sent {11}
//! S: + Ready for 11 octets
//! C: Hello world
//! S: a3 OK [APPENDUID 1795012345 1] APPEND completed
//! ```
//!
//! Limits, each checked before memory is spent: a line is at most [`MAX_LINE`] octets (RFC 7162
//! §4 asks servers to accept at least 8192); a literal at most the `max_message_size` setting
//! after login and [`MAX_LITERAL_BEFORE_LOGIN`] before; the whole command at most that plus one
//! line. What goes wrong is told apart in [`Part`], so
//! the server can answer with the command's own tag.

use std::io::{self, BufRead, Read};

use crate::net::Conn;

/// Longest line (without literals) accepted, in octets including CRLF.
pub const MAX_LINE: usize = 64 * 1024;

/// Largest literal taken before login (8 KiB): enough for any user name and password (the
/// only literals a client needs then: LOGIN, AUTHENTICATE), and small, so that a stranger
/// cannot make the server hold `max_message_size` per connection. Dovecot's login process,
/// too, takes only a few KiB from a client that has not logged in. A larger synchronizing
/// literal gets a tagged `NO [LIMIT]` before any octet of it is sent; a larger LITERAL+ one,
/// already on its way, gets `* BYE` and the connection closes (RFC 7888 §4, choice 2).
pub const MAX_LITERAL_BEFORE_LOGIN: usize = 8 * 1024;

/// One line of a command, as read by [`read_part`].
#[derive(Debug, PartialEq, Eq)]
pub enum Part {
    /// A line (without CRLF). `literal` is the announced literal at its end, if any.
    Line {
        text: Vec<u8>,
        literal: Option<Literal>,
    },
    /// Over [`MAX_LINE`]: dropped, but its first octets kept to find the tag.
    TooLong {
        start: Vec<u8>,
    },
    /// The line ends in `{…}` that is not a literal we will take.
    BadLiteral {
        text: Vec<u8>,
        problem: LiteralProblem,
    },
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Literal {
    pub size: usize,
    /// `{n}`: the client waits for `+` (false for LITERAL+ `{n+}`).
    pub synchronizing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralProblem {
    /// Not `{digits}` or `{digits+}`, e.g. `{abc}`.
    Malformed,
    /// Larger than the limit (or than any number we can hold).
    TooLarge { synchronizing: bool },
}

/// Reads one line of at most [`MAX_LINE`] octets and looks for a literal announcement at its
/// end. Memory stays bounded whatever the client sends.
pub fn read_part(conn: &mut Conn, max_literal: usize) -> io::Result<Part> {
    let deadline = conn.line_deadline();
    read_part_from(conn.reader(), max_literal, deadline)
}

/// [`read_part`] on any buffered reader (the fuzz target `imap_framing` feeds it bytes). With
/// a `deadline`, a line must be whole within that time from its first octet.
pub fn read_part_from<R: BufRead>(
    reader: &mut R,
    max_literal: usize,
    deadline: Option<std::time::Duration>,
) -> io::Result<Part> {
    let mut line = Vec::new();
    let mut too_long = false;
    let mut started: Option<std::time::Instant> = None;
    loop {
        // A line that trickles in (slowloris) must still end within the deadline.
        if let (Some(deadline), Some(start)) = (deadline, started) {
            if start.elapsed() > deadline {
                return Err(crate::pace::Cut::SlowLine(deadline).into_error());
            }
        }
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            // A signal interrupted the read (a debugger attaching, SIGSTOP/SIGCONT): retry.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(Part::Closed);
        }
        started.get_or_insert_with(std::time::Instant::now);
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        if chunk.len() > room {
            // Keep the start (for the tag), drop the rest.
            if !too_long {
                line.extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
            too_long = true;
        } else if !too_long {
            line.extend_from_slice(chunk);
        }
        let used = chunk.len();
        reader.consume(used);
        if done {
            break;
        }
    }
    if too_long {
        line.truncate(64);
        return Ok(Part::TooLong { start: line });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(match literal_at_end(&line, max_literal) {
        Ok(literal) => Part::Line {
            text: line,
            literal,
        },
        Err(problem) => Part::BadLiteral {
            text: line,
            problem,
        },
    })
}

/// `literal = "{" number ["+"] "}" CRLF` at the end of a line.
fn literal_at_end(line: &[u8], max: usize) -> Result<Option<Literal>, LiteralProblem> {
    if line.last() != Some(&b'}') {
        return Ok(None);
    }
    let Some(open) = line.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let inside = &line[open + 1..line.len() - 1];
    // A `{…}` inside a quoted string is text, not a literal.
    let quotes = line[..open].iter().filter(|&&b| b == b'"').count();
    if quotes % 2 == 1 {
        return Ok(None);
    }
    let (digits, synchronizing) = match inside.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (inside, true),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(LiteralProblem::Malformed);
    }
    // Too many digits to be a number we hold is simply "too large".
    let size = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|&n| n <= max)
        .ok_or(LiteralProblem::TooLarge { synchronizing })?;
    Ok(Some(Literal {
        size,
        synchronizing,
    }))
}

/// Reads exactly `size` octets of a literal: a transfer, held to `min_data_rate` while the
/// server is busy (`src/pace.rs`).
pub fn read_literal(conn: &mut Conn, size: usize) -> io::Result<Vec<u8>> {
    conn.begin_transfer();
    let read = read_literal_from(conn.reader(), size);
    conn.end_transfer();
    read
}

/// [`read_literal`] on any reader.
pub fn read_literal_from<R: Read>(reader: &mut R, size: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(size.min(1 << 20));
    reader.take(size as u64).read_to_end(&mut bytes)?;
    if bytes.len() < size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside a literal",
        ));
    }
    Ok(bytes)
}

/// The tag at the start of a line, if it has one (for answering a refused command).
pub fn tag_of(line: &[u8]) -> Option<String> {
    let end = line.iter().position(|&b| b == b' ')?;
    let tag = &line[..end];
    if tag.is_empty()
        || !tag
            .iter()
            .all(|&b| super::syntax::is_astring_char(b) && b != b'+')
    {
        return None;
    }
    Some(String::from_utf8_lossy(tag).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_announcements() {
        let max = 1000;
        assert_eq!(literal_at_end(b"a LOGIN x", max), Ok(None));
        assert_eq!(
            literal_at_end(b"a APPEND x {12}", max),
            Ok(Some(Literal {
                size: 12,
                synchronizing: true
            }))
        );
        assert_eq!(
            literal_at_end(b"a APPEND x {12+}", max),
            Ok(Some(Literal {
                size: 12,
                synchronizing: false
            }))
        );
        assert_eq!(
            literal_at_end(b"a APPEND x {abc}", max),
            Err(LiteralProblem::Malformed)
        );
        for huge in [
            "{4294967295}",
            "{18446744073709551616}",
            "{99999999999999999999999}",
        ] {
            assert_eq!(
                literal_at_end(format!("a APPEND x {huge}").as_bytes(), max),
                Err(LiteralProblem::TooLarge {
                    synchronizing: true
                })
            );
        }
        assert_eq!(literal_at_end(b"a SEARCH SUBJECT \"{x}\"", max), Ok(None));
        assert_eq!(tag_of(b"a1 APPEND"), Some("a1".into()));
    }
}
