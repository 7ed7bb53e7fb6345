//! Reading the message after `354`: the DATA byte state machine (RFC 5321 §4.1.1.4, §4.5.2).
//!
//! The client sends lines ending in CRLF; the message ends with a line holding only a dot,
//! i.e. the five octets `CRLF . CRLF` (the first CRLF ends the last content line). A content
//! line that begins with a dot was sent with one extra dot ("dot-stuffing", §4.5.2), which we
//! remove.
//!
//! Safety rules, each with a reason:
//! - **Only `CRLF . CRLF` ends the message.** `LF . LF`, `CR . CR` and the other mixtures are
//!   content. If two servers disagree about where a message ends, an attacker can hide a second
//!   message inside the first ("SMTP smuggling", CVE-2023-51764/51765/51766).
//! - **A bare CR or LF, or a NUL, refuses the message** — read to its real end and answered with
//!   550, never "repaired": repairing is how the servers above came to disagree.
//! - **Lines are bounded**: at most 1000 octets with CRLF (§4.5.3.1.6). A longer line is read
//!   and thrown away byte by byte, so memory stays bounded even for a megabyte with no newline.
//! - **The message is bounded**: past `max_size` octets we stop storing and only look for the end.
//! - **All messages arriving at once are bounded too**: each reserves what it stores from a
//!   budget every session shares (`src/budget.rs`, `max_data_memory`); when it is spent, the
//!   message stops being stored and is answered `452 4.3.1` at its end.
//!
//! Whatever goes wrong, the reader always consumes up to the real end of the data, so the next
//! thing read is the client's next command, not the rest of a refused message.

use std::io::{self, BufRead};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::budget::{Budget, Reservation};

/// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.
pub const MAX_TEXT_LINE: usize = 1000;

/// Why a complete message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataError {
    /// Over the size limit (552 5.3.4).
    TooBig,
    /// A line over 1000 octets (550 5.6.0).
    LineTooLong,
    /// A bare CR, bare LF or NUL in the content (550 5.6.0).
    BadLineEnding,
    /// Too many messages arriving at once: the shared memory budget was spent (452 4.3.1).
    NoRoom,
}

/// A message as read, before it is judged.
#[derive(Debug, PartialEq, Eq)]
pub struct Data {
    /// The unstuffed content, every line ending in CRLF (empty when refused).
    pub content: Vec<u8>,
    /// Octets received after unstuffing, even those not stored.
    pub size: usize,
    pub lines: usize,
    /// The first problem found, if any.
    pub error: Option<DataError>,
    /// What `content` holds of the shared budget (given back when the message is dropped).
    pub reservation: Option<Reservation>,
}

/// Reads up to and including the `CRLF . CRLF` that ends the data. With `line_deadline`, each
/// line must arrive whole within that time from its first octet (a slowloris defence).
/// An `io::Error` means the connection failed or timed out before the end.
/// With `budget`, what is stored is reserved from it as it grows.
pub fn read_data<R: BufRead>(
    reader: &mut R,
    max_size: usize,
    line_deadline: Option<Duration>,
    budget: Option<&Arc<Budget>>,
) -> io::Result<Data> {
    let mut data = Data {
        content: Vec::new(),
        size: 0,
        lines: 0,
        error: None,
        reservation: budget.map(|b| b.reservation()),
    };
    // Room for the longest legal line: 1000 octets, plus a stuffed dot.
    let mut line = Vec::with_capacity(MAX_TEXT_LINE + 1);
    // The start of the data counts as "just after a CRLF": `DATA` itself ended with one.
    let mut after_crlf = true;
    loop {
        line.clear();
        let (overflow, proper_end) =
            read_line_bounded(reader, &mut line, MAX_TEXT_LINE + 1, line_deadline)?;
        if !overflow && after_crlf && line == b".\r\n" {
            return Ok(data);
        }
        let text_end = if proper_end {
            line.len() - 2
        } else {
            line.len().saturating_sub(1)
        };
        let bad =
            !overflow && (!proper_end || line[..text_end].iter().any(|&b| b == b'\r' || b == 0));
        after_crlf = proper_end;

        // §4.5.2: remove the transparency dot.
        let text: &[u8] = if line.first() == Some(&b'.') {
            &line[1..]
        } else {
            &line
        };
        data.lines += 1;
        data.size += text.len();
        let problem = if overflow || text.len() > MAX_TEXT_LINE {
            Some(DataError::LineTooLong)
        } else if bad {
            Some(DataError::BadLineEnding)
        } else if data.size > max_size {
            Some(DataError::TooBig)
        } else {
            None
        };
        if let Some(problem) = problem {
            if data.error.is_none() {
                data.error = Some(problem);
                data.content = Vec::new();
            }
        }
        let room = match &mut data.reservation {
            Some(reservation) if data.error.is_none() => reservation.grow(text.len()),
            _ => true,
        };
        if !room {
            data.error = Some(DataError::NoRoom);
            data.content = Vec::new();
            // Give the octets back now: the rest of this message is only read, not kept.
            data.reservation = budget.map(|b| b.reservation());
        }
        if data.error.is_none() {
            data.content.extend_from_slice(text);
        }
    }
}

/// Reads one line (through its LF) into `line`, storing at most `limit` octets. Returns
/// (the line was longer than `limit`, the line ended in CRLF); the rest of a long line is
/// consumed and dropped. End of input before an LF is an error.
fn read_line_bounded<R: BufRead>(
    reader: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
    deadline: Option<Duration>,
) -> io::Result<(bool, bool)> {
    let mut overflow = false;
    // The octet before the current chunk, to see a CR that came in an earlier chunk.
    let mut previous = None;
    let mut started: Option<Instant> = None;
    loop {
        // A line that trickles in (slowloris) must still end within the deadline.
        if let (Some(deadline), Some(start)) = (deadline, started) {
            if start.elapsed() > deadline {
                return Err(crate::pace::Cut::SlowLine(deadline).into_error());
            }
        }
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            // Interrupted by a signal, not a failure of the client: read again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed during DATA",
            ));
        }
        started.get_or_insert_with(Instant::now);
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let room = limit.saturating_sub(line.len());
        if chunk.len() > room {
            overflow = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let crlf = done
            && (chunk.len() >= 2 && chunk[chunk.len() - 2] == b'\r'
                || chunk.len() == 1 && previous == Some(b'\r'));
        previous = chunk.last().copied();
        let used = chunk.len();
        reader.consume(used);
        if done {
            return Ok((overflow, crlf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8], max: usize) -> (Data, Vec<u8>) {
        let mut reader = io::BufReader::with_capacity(64, input);
        let data = read_data(&mut reader, max, None, None).unwrap();
        let mut rest = Vec::new();
        io::Read::read_to_end(&mut reader, &mut rest).unwrap();
        (data, rest)
    }

    #[test]
    fn ends_at_crlf_dot_crlf_and_unstuffs() {
        let (data, rest) = read(b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n", 1000);
        assert_eq!(data.error, None);
        assert_eq!(data.content, b"Subject: x\r\n\r\n.leading dot\r\n");
        assert_eq!(data.lines, 3);
        assert_eq!(
            rest, b"QUIT\r\n",
            "what follows the end is left for the command reader"
        );
    }

    #[test]
    fn empty_message() {
        let (data, _) = read(b".\r\n", 1000);
        assert_eq!((data.content.len(), data.error), (0, None));
    }

    #[test]
    fn smuggling_endings_do_not_end_the_data() {
        let endings: [&[u8]; 9] = [
            b"\n.\n",
            b"\n.\r\n",
            b"\r.\r",
            b"\r.\n",
            b"\n.\r",
            b"\r\n.\n",
            b"\r.\r\n",
            b"\r\n.\r",
            b"\r\n\x00.\r\n",
        ];
        for ending in endings {
            let mut input = b"Subject: x\r\n\r\nhello".to_vec();
            input.extend_from_slice(ending);
            input.extend_from_slice(b"MAIL FROM:<evil@example.org>\r\n\r\n.\r\nNOOP\r\n");
            let (data, rest) = read(&input, 10_000);
            assert_eq!(data.error, Some(DataError::BadLineEnding), "{ending:?}");
            assert_eq!(
                rest, b"NOOP\r\n",
                "{ending:?}: the smuggled MAIL stayed inside the data"
            );
        }
    }

    #[test]
    fn long_lines_and_big_messages_are_refused_after_reading_to_the_end() {
        let mut input = vec![b'a'; MAX_TEXT_LINE - 2];
        input.extend_from_slice(b"\r\n.");
        input.extend_from_slice(&[b'b'; MAX_TEXT_LINE - 2]);
        input.extend_from_slice(b"\r\n.\r\n");
        let (data, _) = read(&input, 10_000);
        assert_eq!(
            data.error, None,
            "exactly 1000 octets, and a stuffed line of 1000 after unstuffing"
        );

        let mut input = vec![b'a'; 1 << 20];
        input.extend_from_slice(b"\r\n.\r\nRSET\r\n");
        let (data, rest) = read(&input, 10 << 20);
        assert_eq!(data.error, Some(DataError::LineTooLong));
        assert_eq!(rest, b"RSET\r\n");

        let (data, _) = read(b"0123456789\r\n0123456789\r\n.\r\n", 20);
        assert_eq!((data.error, data.size), (Some(DataError::TooBig), 24));
        assert!(data.content.is_empty());
    }

    #[test]
    fn eof_inside_data_is_an_error() {
        let mut reader = io::BufReader::new(&b"partial\r\n"[..]);
        assert!(read_data(&mut reader, 100, None, None).is_err());
    }
}
