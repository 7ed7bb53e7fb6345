//! Parsing one POP3 command line into a typed [`Command`] (RFC 1939 §3, RFC 2449 §4).
//!
//! Pure: bytes in, `Command` or [`CommandError`] out. The framing layer (`server.rs`) has already
//! cut the line at CRLF and enforced the 255-octet limit of RFC 2449 §4. A command is a
//! case-insensitive keyword, then arguments separated by single spaces (RFC 1939 §3):
//!
//! ```text
//! command = keyword *(SP param) CRLF        ; 255 octets maximum (RFC 2449 §4)
//! C: USER bob
//! C: RETR 1
//! C: TOP 1 10
//! C: AUTH PLAIN AGJvYgBib2ItcGFzc3dvcmQ=
//! ```
//!
//! Message numbers are checked here for their *form* (digits only: `-1`, `x` and `1.5` are
//! syntax errors); whether the number names a message is the session's business, since only it
//! knows the maildrop.

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939 §7).
    User(String),
    /// `PASS secret` (RFC 1939 §7). Everything after `PASS ` is the password, spaces included.
    Pass(String),
    /// `APOP name digest` (RFC 1939 §7).
    Apop {
        name: String,
        digest: String,
    },
    /// `AUTH mechanism [initial-response]` (RFC 5034 §4).
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    /// `CAPA` (RFC 2449 §5).
    Capa,
    /// `STLS` (RFC 2595 §4): start TLS, in the AUTHORIZATION state only.
    Stls,
    Stat,
    List(Option<u32>),
    Retr(u32),
    Dele(u32),
    Noop,
    Rset,
    Quit,
    /// `TOP msg n`: the header and the first `n` body lines.
    Top {
        message: u32,
        lines: usize,
    },
    Uidl(Option<u32>),
}

/// Why a line is not a command we can run. Each maps to one `-ERR` in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// No such keyword.
    Unknown,
    /// Wrong arguments; carries the usage line for the reply.
    Syntax(&'static str),
    /// NUL, other control bytes or invalid UTF-8.
    BadCharacters,
    /// Over 255 octets (found by the framing layer, RFC 2449 §4).
    LineTooLong,
}

pub const USAGE_USER: &str = "USER name";
pub const USAGE_PASS: &str = "PASS password";
pub const USAGE_APOP: &str = "APOP name digest";
pub const USAGE_AUTH: &str = "AUTH PLAIN [initial-response]";
pub const USAGE_LIST: &str = "LIST [message-number]";
pub const USAGE_RETR: &str = "RETR message-number";
pub const USAGE_DELE: &str = "DELE message-number";
pub const USAGE_TOP: &str = "TOP message-number lines";
pub const USAGE_UIDL: &str = "UIDL [message-number]";

/// Parses one command line, without its CRLF.
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::BadCharacters)?;
    if line.chars().any(|c| c.is_control()) {
        return Err(CommandError::BadCharacters);
    }
    let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
    let keyword = keyword.to_ascii_uppercase();
    // PASS keeps its argument untouched: a password may hold spaces (RFC 1939 §7 leaves it open,
    // and clients send what the user typed).
    if keyword == "PASS" {
        return match rest {
            "" => Err(CommandError::Syntax(USAGE_PASS)),
            secret => Ok(Command::Pass(secret.to_string())),
        };
    }
    let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
    let none = |command: Command, usage: &'static str| match args.as_slice() {
        [] => Ok(command),
        _ => Err(CommandError::Syntax(usage)),
    };
    match keyword.as_str() {
        "USER" => match args.as_slice() {
            [name] => Ok(Command::User(name.to_string())),
            _ => Err(CommandError::Syntax(USAGE_USER)),
        },
        "APOP" => match args.as_slice() {
            [name, digest] => Ok(Command::Apop {
                name: name.to_string(),
                digest: digest.to_string(),
            }),
            _ => Err(CommandError::Syntax(USAGE_APOP)),
        },
        "AUTH" => match args.as_slice() {
            [mechanism] => Ok(Command::Auth {
                mechanism: mechanism.to_ascii_uppercase(),
                initial: None,
            }),
            [mechanism, initial] => Ok(Command::Auth {
                mechanism: mechanism.to_ascii_uppercase(),
                initial: Some(initial.to_string()),
            }),
            _ => Err(CommandError::Syntax(USAGE_AUTH)),
        },
        "CAPA" => none(Command::Capa, "CAPA"),
        "STLS" => none(Command::Stls, "STLS"),
        "STAT" => none(Command::Stat, "STAT"),
        "NOOP" => none(Command::Noop, "NOOP"),
        "RSET" => none(Command::Rset, "RSET"),
        "QUIT" => none(Command::Quit, "QUIT"),
        "LIST" => optional_number(&args, USAGE_LIST).map(Command::List),
        "UIDL" => optional_number(&args, USAGE_UIDL).map(Command::Uidl),
        "RETR" => one_number(&args, USAGE_RETR).map(Command::Retr),
        "DELE" => one_number(&args, USAGE_DELE).map(Command::Dele),
        "TOP" => match args.as_slice() {
            [message, lines] => Ok(Command::Top {
                message: message_number(message).ok_or(CommandError::Syntax(USAGE_TOP))?,
                lines: digits(lines)
                    .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                    .ok_or(CommandError::Syntax(USAGE_TOP))?,
            }),
            _ => Err(CommandError::Syntax(USAGE_TOP)),
        },
        _ => Err(CommandError::Unknown),
    }
}

fn one_number(args: &[&str], usage: &'static str) -> Result<u32, CommandError> {
    match args {
        [n] => message_number(n).ok_or(CommandError::Syntax(usage)),
        _ => Err(CommandError::Syntax(usage)),
    }
}

fn optional_number(args: &[&str], usage: &'static str) -> Result<Option<u32>, CommandError> {
    match args {
        [] => Ok(None),
        [n] => message_number(n)
            .map(Some)
            .ok_or(CommandError::Syntax(usage)),
        _ => Err(CommandError::Syntax(usage)),
    }
}

/// `msg = 1*DIGIT` as RFC 1939 writes it. A number too big for any maildrop becomes
/// `u32::MAX`, which the session reports as "no such message" like any other.
fn message_number(text: &str) -> Option<u32> {
    digits(text).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// Decimal digits only (no sign, no spaces); saturates instead of overflowing.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        let table: &[(&str, Command)] = &[
            ("USER bob", Command::User("bob".into())),
            ("user bob", Command::User("bob".into())),
            ("PASS two words", Command::Pass("two words".into())),
            (
                "APOP bob c4c9334bac560ecc979e58001b3e22fb",
                Command::Apop {
                    name: "bob".into(),
                    digest: "c4c9334bac560ecc979e58001b3e22fb".into(),
                },
            ),
            (
                "AUTH plain",
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: None,
                },
            ),
            (
                "AUTH PLAIN AGJvYgB4",
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: Some("AGJvYgB4".into()),
                },
            ),
            ("CAPA", Command::Capa),
            ("STAT", Command::Stat),
            ("LIST", Command::List(None)),
            ("LIST 2", Command::List(Some(2))),
            ("RETR 1", Command::Retr(1)),
            ("DELE 0", Command::Dele(0)),
            ("RETR 99999999999", Command::Retr(u32::MAX)),
            ("NOOP", Command::Noop),
            ("RSET", Command::Rset),
            ("QUIT", Command::Quit),
            (
                "TOP 1 0",
                Command::Top {
                    message: 1,
                    lines: 0,
                },
            ),
            ("UIDL", Command::Uidl(None)),
            ("uidl 3", Command::Uidl(Some(3))),
        ];
        for (line, command) in table {
            assert_eq!(parse(line.as_bytes()), Ok(command.clone()), "{line}");
        }
    }

    #[test]
    fn bad_lines_are_typed_errors() {
        let table: &[(&[u8], CommandError)] = &[
            (b"HELO x", CommandError::Unknown),
            (b"", CommandError::Unknown),
            (b"RETR", CommandError::Syntax(USAGE_RETR)),
            (b"RETR -1", CommandError::Syntax(USAGE_RETR)),
            (b"RETR one", CommandError::Syntax(USAGE_RETR)),
            (b"RETR 1 2", CommandError::Syntax(USAGE_RETR)),
            (b"DELE +1", CommandError::Syntax(USAGE_DELE)),
            (b"LIST 1.5", CommandError::Syntax(USAGE_LIST)),
            (b"TOP 1", CommandError::Syntax(USAGE_TOP)),
            (b"TOP 1 -2", CommandError::Syntax(USAGE_TOP)),
            (b"STAT now", CommandError::Syntax("STAT")),
            (b"USER", CommandError::Syntax(USAGE_USER)),
            (b"PASS", CommandError::Syntax(USAGE_PASS)),
            (b"AUTH", CommandError::Syntax(USAGE_AUTH)),
            (b"USER b\0b", CommandError::BadCharacters),
            (b"USER \xff", CommandError::BadCharacters),
        ];
        for (line, error) in table {
            assert_eq!(
                parse(line),
                Err(error.clone()),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
