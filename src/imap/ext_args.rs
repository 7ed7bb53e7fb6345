//! The grammars of issue 17's extensions, each giving its own values (pure, no I/O):
//! LIST-EXTENDED's options and patterns (RFC 5258, 6154, 5819, answered in `list.rs`),
//! STATUS items, QUOTA's commands (RFC 9208, `quota.rs`) and APPEND's messages, one or several
//! (RFC 3502, `append.rs`). `command.rs` turns them into a [`super::command::Command`].

use super::syntax::{expected, Cursor, Parsed};

/// RFC 3501 `status-att`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    /// RFC 8438 STATUS=SIZE: the folder's total size in octets (the sum of RFC822.SIZE).
    Size,
    /// RFC 9051 §6.3.11: how many messages carry `\Deleted`.
    Deleted,
    /// RFC 7162 §3.1.7.
    HighestModSeq,
}

/// `"(" status-att *(SP status-att) ")"` (also in LIST's `RETURN (STATUS (…))`, RFC 5819)
pub fn status_items(c: &mut Cursor) -> Parsed<Vec<StatusItem>> {
    c.expect("(")?;
    let mut items = Vec::new();
    loop {
        let item = match c.atom()?.to_ascii_uppercase().as_str() {
            "MESSAGES" => StatusItem::Messages,
            "RECENT" => StatusItem::Recent,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "SIZE" => StatusItem::Size,
            "DELETED" => StatusItem::Deleted,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            _ => return expected(
                "MESSAGES, RECENT, UIDNEXT, UIDVALIDITY, UNSEEN, SIZE, DELETED or HIGHESTMODSEQ",
            ),
        };
        items.push(item);
        if c.eat(")") {
            return Ok(items);
        }
        c.sp()?;
    }
}

/// What an extended LIST asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    pub patterns: Vec<String>,
    /// Selection SUBSCRIBED: subscribed names only (§3.1).
    pub subscribed: bool,
    /// Selection SPECIAL-USE: folders with a special use only (RFC 6154 §3).
    pub special_use: bool,
    /// RECURSIVEMATCH: also a name whose descendant is selected (§3.1, CHILDINFO).
    pub recursive: bool,
    pub return_children: bool,
    pub return_subscribed: bool,
    /// RFC 5819: a STATUS response after each selectable folder's LIST response.
    pub return_status: Option<Vec<StatusItem>>,
}

/// A LIST's arguments: the plain kind, or the extended (RFC 5258).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListArgs {
    Plain { reference: String, pattern: String },
    Extended { reference: String, query: ListQuery },
}

/// More patterns than any client needs; each is matched against every folder.
pub const MAX_PATTERNS: usize = 16;
/// Options in one list: the few that exist, each perhaps repeated.
const MAX_OPTIONS: usize = 8;

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
/// (RFC 5258 §6). Without any extended part it is the plain RFC 3501 LIST.
pub fn list(c: &mut Cursor) -> Parsed<ListArgs> {
    c.sp()?;
    let mut query = ListQuery::default();
    let mut extended = false;
    if c.peek() == Some(b'(') {
        select_options(c, &mut query)?;
        c.sp()?;
        extended = true;
    }
    // Python's imaplib sends an empty reference as nothing at all (`LIST  *`); read it as "".
    let reference = if c.peek() == Some(b' ') {
        String::new()
    } else {
        c.mailbox()?
    };
    c.sp()?;
    if c.eat("(") {
        extended = true;
        loop {
            query.patterns.push(c.list_mailbox()?);
            if query.patterns.len() > MAX_PATTERNS {
                return expected("at most 16 patterns");
            }
            if c.eat(")") {
                break;
            }
            c.sp()?;
        }
    } else {
        query.patterns.push(c.list_mailbox()?);
    }
    if c.eat(" RETURN ") {
        return_options(c, &mut query)?;
        extended = true;
    }
    if !extended {
        let pattern = query.patterns.remove(0);
        return Ok(ListArgs::Plain { reference, pattern });
    }
    Ok(ListArgs::Extended { reference, query })
}

/// `list-select-opts = "(" [list-select-opt *(SP list-select-opt)] ")"`; RECURSIVEMATCH
/// needs a base option beside it (§6: `(RECURSIVEMATCH)` alone is not allowed).
fn select_options(c: &mut Cursor, query: &mut ListQuery) -> Parsed<()> {
    parenthesised(c, MAX_OPTIONS, "at most 8 selection options", |c| {
        match c.atom()?.to_ascii_uppercase().as_str() {
            "SUBSCRIBED" => query.subscribed = true,
            // §3.1: there are no remote folders here, so REMOTE changes nothing.
            "REMOTE" => {}
            "RECURSIVEMATCH" => query.recursive = true,
            "SPECIAL-USE" => query.special_use = true,
            _ => return expected("SUBSCRIBED, REMOTE, RECURSIVEMATCH or SPECIAL-USE"),
        }
        Ok(())
    })?;
    if query.recursive && !query.subscribed && !query.special_use {
        return expected("RECURSIVEMATCH together with SUBSCRIBED or SPECIAL-USE");
    }
    Ok(())
}

/// `list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"`, with RFC
/// 5819's `"STATUS" SP "(" status-att *(SP status-att) ")"`.
fn return_options(c: &mut Cursor, query: &mut ListQuery) -> Parsed<()> {
    parenthesised(c, MAX_OPTIONS, "at most 8 return options", |c| {
        match c.atom()?.to_ascii_uppercase().as_str() {
            "CHILDREN" => query.return_children = true,
            "SUBSCRIBED" => query.return_subscribed = true,
            // Special-use attributes are always returned.
            "SPECIAL-USE" => {}
            "STATUS" => {
                c.sp()?;
                let items = status_items(c)?;
                if items.len() > MAX_OPTIONS {
                    return expected("at most 8 STATUS items");
                }
                query.return_status = Some(items);
            }
            _ => return expected("CHILDREN, SUBSCRIBED, SPECIAL-USE or STATUS (…)"),
        }
        Ok(())
    })
}

/// `"(" [item *(SP item)] ")"`: each item read by `item`, at most `max` of them (past that,
/// BAD with `too_many`), so a list of thousands costs no more than a few.
fn parenthesised(
    c: &mut Cursor,
    max: usize,
    too_many: &str,
    mut item: impl FnMut(&mut Cursor) -> Parsed<()>,
) -> Parsed<()> {
    c.expect("(")?;
    let mut count = 0;
    while !c.eat(")") {
        if count > 0 {
            c.sp()?;
        }
        count += 1;
        if count > max {
            return expected(too_many);
        }
        item(c)?;
    }
    Ok(())
}

/// `getquota = "GETQUOTA" SP quota-root-name`; `quota-root-name = astring`
pub fn get_quota(c: &mut Cursor) -> Parsed<String> {
    c.sp()?;
    c.astring()
}

/// `getquotaroot = "GETQUOTAROOT" SP mailbox`
pub fn get_quota_root(c: &mut Cursor) -> Parsed<String> {
    c.sp()?;
    c.mailbox()
}

/// Resources in one SETQUOTA: more than there are kinds is not a client asking for them.
const MAX_RESOURCES: usize = 8;

/// `setquota = "SETQUOTA" SP quota-root-name SP setquota-list`;
/// `setquota-list = "(" [resource-name SP resource-limit *(SP …)] ")"`, `resource-limit =
/// number64`. Read whole, so that a malformed one gets BAD and a good one the NO.
pub fn set_quota(c: &mut Cursor) -> Parsed<String> {
    c.sp()?;
    let root = c.astring()?;
    c.sp()?;
    parenthesised(c, MAX_RESOURCES, "at most 8 resources", |c| {
        c.atom()?;
        c.sp()?;
        number64(c).map(|_| ())
    })?;
    Ok(root)
}

/// `number64 = 1*DIGIT` up to 2^63-1 (RFC 9051 §9).
fn number64(c: &mut Cursor) -> Parsed<u64> {
    let mut digits = String::new();
    while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
        digits.push(b as char);
        c.eat(&(b as char).to_string());
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= i64::MAX as u64 => Ok(n),
        _ => expected("a limit (a number below 2^63)"),
    }
}

/// Messages in one APPEND. Each is a file and a rename under the folder's lock; a client
/// uploading a folder sends them in batches (Dovecot takes any number, bounded by size).
pub const MAX_MESSAGES: usize = 256;

/// One message of an APPEND: its flags (keywords included), internal date and octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<String>,
    /// Seconds since 1970, if the client gave an internal date.
    pub date: Option<i64>,
    pub message: Vec<u8>,
}

/// `append = "APPEND" SP mailbox 1*append-message`; `append-message = append-opts SP
/// append-data`; `append-opts = [SP flag-list] [SP date-time]` (RFC 3502 §6.3.11). One
/// message is the plain APPEND, several a MULTIAPPEND.
pub fn append(c: &mut Cursor) -> Parsed<(String, Vec<AppendMessage>)> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    let mut messages = Vec::new();
    while c.eat(" ") {
        if messages.len() == MAX_MESSAGES {
            return expected("at most 256 messages in one APPEND");
        }
        messages.push(message(c)?);
    }
    if messages.is_empty() {
        return expected("a space and the message");
    }
    Ok((mailbox, messages))
}

/// `[flag-list SP] [date-time SP] (literal / literal8)`; `literal8 = "~{" number ["+"] "}"
/// CRLF *OCTET` (RFC 3516 §4.4, RFC 7888): the octets may hold NUL.
fn message(c: &mut Cursor) -> Parsed<AppendMessage> {
    let flags = if c.peek() == Some(b'(') {
        let flags = c.flag_list()?;
        c.sp()?;
        flags
    } else {
        Vec::new()
    };
    let date = if c.peek() == Some(b'"') {
        let date = c.date_time()?;
        c.sp()?;
        Some(date)
    } else {
        None
    };
    c.eat("~");
    if c.peek() != Some(b'{') {
        return expected("the message as a literal, {size} then the octets");
    }
    let message = c.string()?;
    Ok(AppendMessage {
        flags,
        date,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed_list(line: &str) -> Parsed<ListArgs> {
        let mut c = Cursor::new(line.as_bytes());
        let args = list(&mut c)?;
        c.end()?;
        Ok(args)
    }

    #[test]
    fn extended_lists_parse() {
        assert!(matches!(parsed_list(" \"\" *"), Ok(ListArgs::Plain { .. })));
        let Ok(ListArgs::Extended { query, .. }) = parsed_list(
            " (SUBSCRIBED RECURSIVEMATCH remote) \"\" (INBOX \"Sent\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))",
        ) else {
            panic!("not extended");
        };
        assert!(query.subscribed && query.recursive && query.return_children);
        assert_eq!(query.patterns, ["INBOX", "Sent"]);
        assert_eq!(
            query.return_status,
            Some(vec![StatusItem::Messages, StatusItem::Unseen])
        );
        for bad in [
            " (RECURSIVEMATCH) \"\" *",
            " (REMOTE RECURSIVEMATCH) \"\" *",
            " (BOGUS) \"\" *",
            " \"\" (a b",
            " \"\" *  RETURN (CHILDREN)",
            " \"\" * RETURN (STATUS (BOGUS))",
            " \"\" * RETURN ((CHILDREN))",
        ] {
            assert!(parsed_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn setquota_is_read_whole() {
        let parse = |s: &str| {
            let mut c = Cursor::new(s.as_bytes());
            set_quota(&mut c).and_then(|root| c.end().map(|()| root))
        };
        assert_eq!(parse(" \"\" (STORAGE 512 MESSAGE 1000)"), Ok(String::new()));
        assert_eq!(parse(" \"\" ()"), Ok(String::new()));
        for bad in [
            " \"\" (STORAGE 9223372036854775808)",
            " \"\" (STORAGE)",
            " \"\" ((STORAGE 1))",
            " \"\" (STORAGE 1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_or_many_messages() {
        let parsed = |line: &str| {
            let mut c = Cursor::new(line.as_bytes());
            append(&mut c).and_then(|args| c.end().map(|()| args))
        };
        assert_eq!(
            parsed(" Sent (\\Seen) {2+}\r\nhi").map(|(_, m)| m.len()),
            Ok(1)
        );
        let (_, messages) = parsed(
            " Sent (\\Seen) {2+}\r\nhi (\\Flagged $Work) \" 7-Feb-1994 22:43:04 -0800\" {3+}\r\nyou {0+}\r\n",
        )
        .expect("three messages");
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1].flags, ["\\Flagged", "$Work"]);
        assert_eq!(messages[1].message, b"you");
        for bad in [" Sent", " Sent {2+}\r\nhi ", " Sent {2+}\r\nhi (\\Seen)"] {
            assert!(parsed(bad).is_err(), "{bad:?}");
        }
        let many = format!(" Sent{}", " {1+}\r\nx".repeat(MAX_MESSAGES + 1));
        assert!(parsed(&many).is_err());
    }
}
