//! Parsing one SMTP command line into a typed [`Command`] (RFC 5321 §4.1.1).
//!
//! Pure: bytes in, `Command` or [`CommandError`] out. The framing layer (`server.rs`) has already
//! cut the line at CRLF and enforced the 512-octet limit; here we check the verb, its arguments
//! and its parameters. Verbs are case-insensitive (RFC 5321 §2.4).
//!
//! ```text
//! C: EHLO laptop.example
//! C: MAIL FROM:<alice@example.org> SIZE=1024 BODY=8BITMIME
//! C: RCPT TO:<bob@localhost>
//! C: DATA
//! ```

use crate::address::{self, Address, AddressError, ReversePath};

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    Mail {
        from: ReversePath,
        params: MailParams,
    },
    Rcpt {
        to: Address,
    },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy(String),
    Expn(String),
    Help(Option<String>),
    /// `STARTTLS` (RFC 3207 §4): switch this connection to TLS. It takes no parameters.
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
}

/// The ESMTP parameters postlab understands on `MAIL FROM` (RFC 5321 §4.1.2 `Mail-parameters`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// RFC 1870: the size the client expects to send. `u64::MAX` stands for "more digits than
    /// fit", which is certainly over any limit.
    pub size: Option<u64>,
    /// RFC 6152: `BODY=8BITMIME` (or the default, `7BIT`).
    pub body_8bit: bool,
    /// RFC 6531: the transaction may carry UTF-8 addresses and headers.
    pub smtputf8: bool,
}

/// Why a line is not a command we can run. Each maps to one reply in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// 500: no such verb.
    Unrecognized,
    /// 502: a real SMTP verb that postlab does not offer (yet), e.g. BDAT, ETRN.
    NotImplemented(String),
    /// 501: wrong arguments; carries the usage line for the reply.
    Syntax(&'static str),
    /// 501 5.5.4: a parameter whose value breaks the grammar.
    BadParameter(&'static str),
    /// 501/553: the address in MAIL or RCPT is not valid.
    BadAddress {
        error: AddressError,
        sender: bool,
        usage: &'static str,
    },
    /// 555: a MAIL or RCPT parameter we do not know.
    UnknownParameter(String),
    /// 500 5.5.2: NUL, other control bytes or invalid UTF-8.
    BadCharacters,
    /// 500 5.5.2: over 512 octets (found by the framing layer, RFC 5321 §4.5.3.1.4).
    LineTooLong,
    /// 500 5.5.2: the line ended in a bare LF (found by the framing layer, RFC 5321 §2.3.8).
    BareLineEnding,
}

pub const USAGE_HELO: &str = "HELO <your-domain>";
pub const USAGE_EHLO: &str = "EHLO <your-domain>";
pub const USAGE_MAIL: &str = "MAIL FROM:<sender@domain>";
pub const USAGE_RCPT: &str = "RCPT TO:<recipient@domain>";
pub const USAGE_VRFY: &str = "VRFY <user>";
pub const USAGE_EXPN: &str = "EXPN <list>";
pub const USAGE_AUTH: &str = "AUTH <mechanism> [initial-response]";

/// Parses one command line, without its CRLF.
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::BadCharacters)?;
    // Tab is the one control character a hand-typed line may reasonably hold; treat it as space.
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CommandError::BadCharacters);
    }
    let (verb, rest) = match line.split_once([' ', '\t']) {
        Some((verb, rest)) => (verb, rest.trim()),
        None => (line, ""),
    };
    let no_args = |command: Command, usage: &'static str| {
        if rest.is_empty() {
            Ok(command)
        } else {
            Err(CommandError::Syntax(usage))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "HELO" => client_name(rest, USAGE_HELO).map(Command::Helo),
        "EHLO" => client_name(rest, USAGE_EHLO).map(Command::Ehlo),
        "MAIL" => parse_mail(rest),
        "RCPT" => parse_rcpt(rest),
        "DATA" => no_args(Command::Data, "DATA"),
        "RSET" => no_args(Command::Rset, "RSET"),
        "QUIT" => no_args(Command::Quit, "QUIT"),
        // RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored.
        "NOOP" => Ok(Command::Noop),
        "VRFY" if rest.is_empty() => Err(CommandError::Syntax(USAGE_VRFY)),
        "VRFY" => Ok(Command::Vrfy(rest.to_string())),
        "EXPN" if rest.is_empty() => Err(CommandError::Syntax(USAGE_EXPN)),
        "EXPN" => Ok(Command::Expn(rest.to_string())),
        "HELP" => Ok(Command::Help((!rest.is_empty()).then(|| rest.to_string()))),
        "AUTH" => parse_auth(rest),
        // RFC 3207 §4: `STARTTLS` CRLF; with parameters the reply is 501.
        "STARTTLS" => no_args(Command::StartTls, "STARTTLS"),
        "BDAT" | "ETRN" | "TURN" | "ATRN" | "SEND" | "SOML" | "SAML" => {
            Err(CommandError::NotImplemented(verb.to_ascii_uppercase()))
        }
        _ => Err(CommandError::Unrecognized),
    }
}

/// `"AUTH" SP sasl-mech [SP initial-response]` (RFC 4954 §4). The mechanism name is upper-cased;
/// the initial response stays base64 text (`=` stands for an empty one).
fn parse_auth(rest: &str) -> Result<Command, CommandError> {
    let mut words = rest.split(' ').filter(|w| !w.is_empty());
    let mechanism = words.next().ok_or(CommandError::Syntax(USAGE_AUTH))?;
    let initial = words.next().map(str::to_string);
    let mechanism_ok = mechanism.len() <= 20
        && mechanism
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if words.next().is_some() || !mechanism_ok {
        return Err(CommandError::Syntax(USAGE_AUTH));
    }
    Ok(Command::Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial,
    })
}

/// The HELO/EHLO argument: RFC 5321 wants a domain or address literal. Real clients send
/// hostnames with underscores and the like, so any single word of letters, digits and `-._:[]`
/// is accepted; it is written into the `Received:` header, so nothing else is.
fn client_name(text: &str, usage: &'static str) -> Result<String, CommandError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._:[]".contains(c);
    if text.is_empty() || text.len() > address::MAX_DOMAIN || !text.chars().all(allowed) {
        return Err(CommandError::Syntax(usage));
    }
    Ok(text.to_string())
}

/// `"MAIL FROM:" Reverse-path [SP Mail-parameters]` (RFC 5321 §4.1.1.2).
fn parse_mail(rest: &str) -> Result<Command, CommandError> {
    let (path, params) = split_path(rest, "FROM:").ok_or(CommandError::Syntax(USAGE_MAIL))?;
    let params = parse_mail_params(params)?;
    let bad = |error| CommandError::BadAddress {
        error,
        sender: true,
        usage: USAGE_MAIL,
    };
    let from = if path == "<>" {
        ReversePath::Null
    } else {
        let address = address::parse_path(path, true).map_err(bad)?;
        if address.is_bare_postmaster() {
            return Err(bad(AddressError::Syntax));
        }
        ReversePath::Mailbox(address)
    };
    Ok(Command::Mail { from, params })
}

/// `"RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]`
/// (RFC 5321 §4.1.1.3). No RCPT parameters are offered yet (DSN's NOTIFY/ORCPT come later).
fn parse_rcpt(rest: &str) -> Result<Command, CommandError> {
    let (path, params) = split_path(rest, "TO:").ok_or(CommandError::Syntax(USAGE_RCPT))?;
    if let Some(param) = params.split(' ').find(|p| !p.is_empty()) {
        let keyword = param.split('=').next().unwrap_or(param);
        return Err(CommandError::UnknownParameter(keyword.to_ascii_uppercase()));
    }
    let to = address::parse_path(path, true).map_err(|error| CommandError::BadAddress {
        error,
        sender: false,
        usage: USAGE_RCPT,
    })?;
    Ok(Command::Rcpt { to })
}

/// Splits `FROM:<path> params` into the path (with brackets) and the parameter text.
/// Spaces after the colon are tolerated, as most servers do for hand-typed lines.
/// The path ends at the first `>` outside a quoted local part.
fn split_path<'a>(text: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = text.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let text = text[keyword.len()..].trim_start();
    if !text.starts_with('<') {
        return None;
    }
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => {
                let (path, params) = text.split_at(i + 1);
                if !params.is_empty() && !params.starts_with(' ') {
                    return None;
                }
                return Some((path, params.trim()));
            }
            _ => {}
        }
    }
    None
}

/// `esmtp-param *(SP esmtp-param)`, with `esmtp-keyword ["=" esmtp-value]` (RFC 5321 §4.1.2).
fn parse_mail_params(text: &str) -> Result<MailParams, CommandError> {
    let mut params = MailParams::default();
    let mut seen: Vec<String> = Vec::new();
    for param in text.split(' ').filter(|p| !p.is_empty()) {
        let (keyword, value) = match param.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (param, None),
        };
        let keyword = keyword.to_ascii_uppercase();
        let keyword_ok = keyword
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && keyword
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        // esmtp-value = 1*(%d33-60 / %d62-126): printable ASCII except '='.
        let value_ok = value.is_none_or(|v| {
            !v.is_empty() && v.bytes().all(|b| (33..=126).contains(&b) && b != b'=')
        });
        if !keyword_ok || !value_ok {
            return Err(CommandError::BadParameter("Bad MAIL FROM parameter syntax"));
        }
        if seen.contains(&keyword) {
            return Err(CommandError::BadParameter(
                "A MAIL FROM parameter is repeated",
            ));
        }
        seen.push(keyword.clone());
        match (keyword.as_str(), value) {
            // RFC 1870 §3: size-value = 1*20DIGIT. More digits than a u64 holds is "too big".
            ("SIZE", Some(v)) if v.bytes().all(|b| b.is_ascii_digit()) => {
                params.size = Some(v.parse().unwrap_or(u64::MAX));
            }
            ("SIZE", _) => {
                return Err(CommandError::BadParameter(
                    "SIZE needs a number of octets: SIZE=1024",
                ))
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => params.body_8bit = false,
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => params.body_8bit = true,
            ("BODY", _) => {
                return Err(CommandError::UnknownParameter(format!(
                    "BODY={}",
                    value.unwrap_or("")
                )))
            }
            ("SMTPUTF8", None) => params.smtputf8 = true,
            ("SMTPUTF8", Some(_)) => {
                return Err(CommandError::BadParameter("SMTPUTF8 takes no value"))
            }
            // RFC 4954 §5: AUTH=<> or AUTH=xtext(address). postlab trusts only its own AUTH, so
            // the value is checked (never a CR, LF or control character once decoded) and dropped.
            ("AUTH", Some(v)) if xtext_is_clean(v) => {}
            ("AUTH", _) => {
                return Err(CommandError::BadParameter(
                    "AUTH= needs <> or an xtext address without control characters",
                ))
            }
            _ => return Err(CommandError::UnknownParameter(keyword)),
        }
    }
    Ok(params)
}

/// Decodes RFC 3461 §4 xtext (`+` followed by two hex digits stands for one octet) and checks
/// that the result is printable ASCII: `+0D+0A` must never smuggle a line break anywhere.
fn xtext_is_clean(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octet = if bytes[i] == b'+' {
            let Some(hex) = value.get(i + 1..i + 3) else {
                return false;
            };
            let Ok(octet) = u8::from_str_radix(hex, 16) else {
                return false;
            };
            i += 3;
            octet
        } else {
            i += 1;
            bytes[i - 1]
        };
        if !(33..=126).contains(&octet) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(local: &str, domain: &str) -> Address {
        Address {
            local_part: local.into(),
            domain: domain.into(),
        }
    }

    #[test]
    fn parses_each_command() {
        let cases: Vec<(&str, Command)> = vec![
            ("HELO laptop", Command::Helo("laptop".into())),
            ("ehlo [127.0.0.1]", Command::Ehlo("[127.0.0.1]".into())),
            (
                "MAIL FROM:<alice@example.org>",
                Command::Mail {
                    from: ReversePath::Mailbox(addr("alice", "example.org")),
                    params: MailParams::default(),
                },
            ),
            (
                "mail from: <>",
                Command::Mail {
                    from: ReversePath::Null,
                    params: MailParams::default(),
                },
            ),
            (
                "MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8",
                Command::Mail {
                    from: ReversePath::Mailbox(addr("a", "b.example")),
                    params: MailParams {
                        size: Some(1000),
                        body_8bit: true,
                        smtputf8: true,
                    },
                },
            ),
            (
                "RCPT TO:<bob@localhost>",
                Command::Rcpt {
                    to: addr("bob", "localhost"),
                },
            ),
            (
                "RCPT TO:<Postmaster>",
                Command::Rcpt {
                    to: addr("Postmaster", ""),
                },
            ),
            (
                "RCPT TO:<\"odd>name\"@localhost>",
                Command::Rcpt {
                    to: addr("\"odd>name\"", "localhost"),
                },
            ),
            ("DATA", Command::Data),
            ("rset", Command::Rset),
            ("NOOP anything", Command::Noop),
            ("QUIT", Command::Quit),
            ("VRFY bob", Command::Vrfy("bob".into())),
            ("EXPN staff", Command::Expn("staff".into())),
            ("HELP", Command::Help(None)),
            ("HELP mail", Command::Help(Some("mail".into()))),
            (
                "AUTH plain",
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: None,
                },
            ),
            (
                "AUTH PLAIN AGEAYg==",
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: Some("AGEAYg==".into()),
                },
            ),
            (
                "MAIL FROM:<a@b.example> AUTH=<>",
                Command::Mail {
                    from: ReversePath::Mailbox(addr("a", "b.example")),
                    params: MailParams::default(),
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
                "AUTH PLAIN AGEAYg==",
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: Some("AGEAYg==".into()),
                },
            ),
            (
                "MAIL FROM:<a@b.example> AUTH=<>",
                Command::Mail {
                    from: ReversePath::Mailbox(addr("a", "b.example")),
                    params: MailParams::default(),
                },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line.as_bytes()), Ok(want), "{line}");
        }
    }

    #[test]
    fn refuses_bad_lines_with_the_right_error() {
        use CommandError::*;
        let cases: Vec<(&[u8], CommandError)> = vec![
            (b"FOO", Unrecognized),
            (b"", Unrecognized),
            (b"AUTH", Syntax(USAGE_AUTH)),
            (b"AUTH PLAIN a b", Syntax(USAGE_AUTH)),
            (b"STARTTLS now", Syntax("STARTTLS")),
            (b"BDAT 10", NotImplemented("BDAT".into())),
            (
                b"MAIL FROM:<a@b.example> AUTH=x+0D+0Ay",
                BadParameter("AUTH= needs <> or an xtext address without control characters"),
            ),
            (
                b"MAIL FROM:<a@b.example> AUTH=x+0",
                BadParameter("AUTH= needs <> or an xtext address without control characters"),
            ),
            (b"HELO", Syntax(USAGE_HELO)),
            (b"HELO my laptop", Syntax(USAGE_HELO)),
            (b"HELO a(b)", Syntax(USAGE_HELO)),
            (b"MAIL alice@example.org", Syntax(USAGE_MAIL)),
            (b"MAIL FROM:alice@example.org", Syntax(USAGE_MAIL)),
            (b"MAIL FROM:<alice@example.org>SIZE=1", Syntax(USAGE_MAIL)),
            (
                b"RCPT TO:<bob@localhost> NOTIFY=NEVER",
                UnknownParameter("NOTIFY".into()),
            ),
            (
                b"MAIL FROM:<a@b.example> FOO=bar",
                UnknownParameter("FOO".into()),
            ),
            (
                b"MAIL FROM:<a@b.example> BODY=BINARYMIME",
                UnknownParameter("BODY=BINARYMIME".into()),
            ),
            (
                b"MAIL FROM:<a@b.example> SIZE=big",
                BadParameter("SIZE needs a number of octets: SIZE=1024"),
            ),
            (
                b"MAIL FROM:<a@b.example> SIZE=1 SIZE=2",
                BadParameter("A MAIL FROM parameter is repeated"),
            ),
            (b"MAIL FROM:<a@b.example> AUTH=\x01", BadCharacters),
            (b"DATA now", Syntax("DATA")),
            (b"NO\x00OP", BadCharacters),
            (b"HELO caf\xe9", BadCharacters),
            (
                b"MAIL FROM:<Postmaster>",
                BadAddress {
                    error: AddressError::Syntax,
                    sender: true,
                    usage: USAGE_MAIL,
                },
            ),
            (
                b"RCPT TO:<bob@@x>",
                BadAddress {
                    error: AddressError::Syntax,
                    sender: false,
                    usage: USAGE_RCPT,
                },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line), Err(want), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn size_with_thirty_digits_is_too_big_not_an_error() {
        let line = format!("MAIL FROM:<a@b.example> SIZE={}", "9".repeat(30));
        let Ok(Command::Mail { params, .. }) = parse(line.as_bytes()) else {
            panic!()
        };
        assert_eq!(params.size, Some(u64::MAX));
    }
}
