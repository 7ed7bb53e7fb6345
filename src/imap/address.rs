//! Address header fields (`From:`, `To:` …) read the way RFC 5322 §3.4 writes them, for
//! ENVELOPE (RFC 3501 §7.4.2) and for SEARCH FROM/TO/CC/BCC (§6.4.4).
//!
//! ```text
//! From: "Alice A" <alice@example.org>       → ("Alice A" NIL "alice" "example.org")
//! From: alice@example.org (Alice A)         → ("Alice A" NIL "alice" "example.org")
//! From: <alice (home)@ (c) example.org>     → (NIL NIL "alice" "example.org")
//! From: <@relay.org:alice@example.org>      → (NIL "@relay.org" "alice" "example.org")
//! To: team: a@x.org, b@y.org;               → (NIL NIL "team" NIL)(…a…)(…b…)(NIL NIL NIL NIL)
//! ```
//!
//! Comments (`(…)`) are not part of an address: inside `<…>` they are dropped, and after a
//! bare `addr-spec` the last one is the display name, as older mail writes it (RFC 822's
//! `user@host (Full Name)`; Dovecot reads it the same way). A source route (`@relay.org:`,
//! obsolete since RFC 2822 §4.4 but still seen) goes to the ENVELOPE's `adl` field. A display
//! name in RFC 2047 encoded words is decoded; `nstring` encodes it again if it is not ASCII.

/// One entry of an address list, in ENVELOPE's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Address {
        name: Option<String>,
        route: Option<String>,
        mailbox: String,
        host: Option<String>,
    },
    /// `group:` starts a group (RFC 3501 §7.4.2: `(NIL NIL "group" NIL)`).
    GroupStart(String),
    /// `;` ends it: `(NIL NIL NIL NIL)`.
    GroupEnd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A run of atom characters and dots (`alice`, `example.org`).
    Word(String),
    Quoted(String),
    Comment(String),
    /// A domain literal, `[192.0.2.1]`, kept with its brackets.
    Literal(String),
    Special(char),
}

/// Splits a header value into tokens. Unbalanced quotes and comments end at the end of the
/// value rather than failing: a damaged header still gives what can be read.
fn tokens(value: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {}
            '"' => {
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => text.extend(chars.next()),
                        '\r' | '\n' => {}
                        c => text.push(c),
                    }
                }
                out.push(Token::Quoted(text));
            }
            '(' => {
                let mut depth = 1;
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        '\\' => {
                            text.extend(chars.next());
                            continue;
                        }
                        _ => {}
                    }
                    text.push(c);
                }
                out.push(Token::Comment(text.trim().to_string()));
            }
            '[' => {
                let mut text = String::from("[");
                for c in chars.by_ref() {
                    text.push(c);
                    if c == ']' {
                        break;
                    }
                }
                out.push(Token::Literal(text));
            }
            '<' | '>' | '@' | ':' | ';' | ',' => out.push(Token::Special(c)),
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if " \t\r\n\"()[]<>@:;,".contains(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    out
}

/// Parses an address list (`address-list` of RFC 5322 §3.4, groups included).
pub fn parse(value: &str) -> Vec<Item> {
    let tokens = tokens(value);
    let mut items = Vec::new();
    let mut start = 0;
    let mut in_group = false;
    let mut i = 0;
    while i <= tokens.len() {
        let token = tokens.get(i);
        // Find the end of this mailbox: a `,` or `;` outside `<…>`, or a group's `:`.
        match token {
            Some(Token::Special(':')) if !in_group && !inside_angle(&tokens[start..i]) => {
                let name = phrase(&tokens[start..i]);
                items.push(Item::GroupStart(name.unwrap_or_default()));
                in_group = true;
                start = i + 1;
            }
            // The end of the value ends the last mailbox even inside an unclosed `<`.
            Some(Token::Special(',')) | Some(Token::Special(';')) | None
                if token.is_none() || !inside_angle(&tokens[start..i]) =>
            {
                if let Some(item) = mailbox(&tokens[start..i]) {
                    items.push(item);
                }
                if token == Some(&Token::Special(';')) && in_group {
                    items.push(Item::GroupEnd);
                    in_group = false;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if in_group {
        items.push(Item::GroupEnd);
    }
    items
}

/// Is a `<` open at the end of these tokens (so a `,` or `:` here belongs to a route)?
fn inside_angle(tokens: &[Token]) -> bool {
    let opened = tokens.iter().filter(|t| **t == Token::Special('<')).count();
    let closed = tokens.iter().filter(|t| **t == Token::Special('>')).count();
    opened > closed
}

/// `display-name`: the words and quoted strings, one space apart; encoded words decoded.
fn phrase(tokens: &[Token]) -> Option<String> {
    let words: Vec<&str> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Word(w) | Token::Quoted(w) => Some(w.as_str()),
            _ => None,
        })
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(decode_words(&words.join(" ")))
}

/// One `mailbox` (`name-addr` or `addr-spec`); `None` for an empty one (`a@b,,c@d`).
fn mailbox(tokens: &[Token]) -> Option<Item> {
    if let Some(open) = tokens.iter().position(|t| *t == Token::Special('<')) {
        let close = tokens
            .iter()
            .rposition(|t| *t == Token::Special('>'))
            .filter(|&c| c > open)
            .unwrap_or(tokens.len());
        let inner: Vec<&Token> = tokens[open + 1..close]
            .iter()
            .filter(|t| !matches!(t, Token::Comment(_)))
            .collect();
        // obs-route: `@a,@b:` before the addr-spec.
        let (route, spec) = match inner.iter().position(|t| **t == Token::Special(':')) {
            Some(colon) if inner.first() == Some(&&Token::Special('@')) => {
                (Some(joined(&inner[..colon])), &inner[colon + 1..])
            }
            _ => (None, &inner[..]),
        };
        let (mailbox, host) = addr_spec(spec);
        return Some(Item::Address {
            name: phrase(&tokens[..open]),
            route,
            mailbox,
            host,
        });
    }
    let spec: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .collect();
    if spec.is_empty() {
        return None;
    }
    let (mailbox, host) = addr_spec(&spec);
    // RFC 822 style: `user@host (Full Name)`, the last comment names the owner.
    let name = tokens.iter().rev().find_map(|t| match t {
        Token::Comment(c) if !c.is_empty() => Some(decode_words(c)),
        _ => None,
    });
    Some(Item::Address {
        name,
        route: None,
        mailbox,
        host,
    })
}

/// `local-part "@" domain`, whitespace and comments already gone: split at the last `@`.
fn addr_spec(tokens: &[&Token]) -> (String, Option<String>) {
    match tokens.iter().rposition(|t| **t == Token::Special('@')) {
        Some(at) => {
            let host = joined(&tokens[at + 1..]);
            let host = (!host.is_empty()).then_some(host);
            (joined(&tokens[..at]), host)
        }
        None => (joined(tokens), None),
    }
}

/// Tokens written back together without spaces (`john . doe` → `john.doe`).
fn joined(tokens: &[&Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Word(w) | Token::Literal(w) => w.clone(),
            Token::Quoted(q) => q.clone(),
            Token::Comment(_) => String::new(),
            Token::Special(c) => c.to_string(),
        })
        .collect()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?q?Ren=C3=A9e?=`) with the MIME parser, which
/// knows the charsets; text without them is returned as it is.
fn decode_words(text: &str) -> String {
    if !text.contains("=?") {
        return text.to_string();
    }
    let header = format!("Subject: {text}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse_headers(header.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| text.to_string())
}

/// What SEARCH FROM/TO/CC/BCC look in (RFC 3501 §6.4.4: "the envelope structure's field"):
/// each address as `Name <mailbox@host>`, and each group's name. Comments are not in it.
pub fn searchable(value: &str) -> Vec<String> {
    parse(value)
        .into_iter()
        .filter_map(|item| match item {
            Item::Address {
                name,
                mailbox,
                host,
                ..
            } => {
                let address = match host {
                    Some(host) => format!("{mailbox}@{host}"),
                    None => mailbox,
                };
                Some(match name {
                    Some(name) => format!("{name} <{address}>"),
                    None => address,
                })
            }
            Item::GroupStart(name) => Some(name),
            Item::GroupEnd => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(name: Option<&str>, route: Option<&str>, mailbox: &str, host: &str) -> Item {
        Item::Address {
            name: name.map(str::to_string),
            route: route.map(str::to_string),
            mailbox: mailbox.to_string(),
            host: Some(host.to_string()),
        }
    }

    #[test]
    fn the_forms_of_rfc_5322_and_its_obsolete_ones() {
        let table: &[(&str, Vec<Item>)] = &[
            (
                "\"Alice A\" <alice@example.org>",
                vec![address(Some("Alice A"), None, "alice", "example.org")],
            ),
            (
                "Alice A <alice@example.org>",
                vec![address(Some("Alice A"), None, "alice", "example.org")],
            ),
            (
                "alice@example.org (Alice A)",
                vec![address(Some("Alice A"), None, "alice", "example.org")],
            ),
            (
                "<user (c)@ (c) domain.org>",
                vec![address(None, None, "user", "domain.org")],
            ),
            (
                "<@route:user@domain>",
                vec![address(None, Some("@route"), "user", "domain")],
            ),
            (
                "<@a,@b:user@domain>",
                vec![address(None, Some("@a,@b"), "user", "domain")],
            ),
            (
                "=?utf-8?q?Ren=C3=A9e?= <renee@example.org>",
                vec![address(Some("Renée"), None, "renee", "example.org")],
            ),
            (
                "group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;",
                vec![
                    Item::GroupStart("group".into()),
                    address(None, None, "g1", "d1.org"),
                    address(None, None, "g2", "d2.org"),
                    Item::GroupEnd,
                    Item::GroupStart("group2".into()),
                    address(None, None, "g3", "d3.org"),
                    Item::GroupEnd,
                ],
            ),
            (
                "a@x.org, \"Doe, John\" <john@y.org>",
                vec![
                    address(None, None, "a", "x.org"),
                    address(Some("Doe, John"), None, "john", "y.org"),
                ],
            ),
            ("", vec![]),
        ];
        for (value, expected) in table {
            assert_eq!(&parse(value), expected, "{value}");
        }
        assert_eq!(
            searchable("<user-from (comment)@ (comment) domain.org>"),
            ["user-from@domain.org"]
        );
    }

    #[test]
    fn damaged_values_never_panic() {
        for value in ["<", ">", "\"", "(", "@", ":", ";", "<@:>", "a:b:c;;", "((("] {
            let _ = parse(value);
        }
        // An unclosed `<` still gives the address.
        assert_eq!(
            parse("Bob <bob@example.org"),
            [address(Some("Bob"), None, "bob", "example.org")]
        );
    }
}
