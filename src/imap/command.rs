//! One framed IMAP command → a typed [`Command`], or a typed syntax error. Pure: no I/O.
//!
//! ```text
//! C: a1 LOGIN alice alice-password
//! C: a2 SELECT INBOX
//! C: a3 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])
//! ```
//!
//! `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`
//! (RFC 3501 §9). Which state allows which command is the session's business, not the parser's.
//! The FETCH and SEARCH arguments have grammars of their own in `fetch_args.rs` and
//! `search.rs`.

use super::condstore_args::{self as condstore, FetchModifiers, SelectParams};
use super::esearch::{self, ReturnOptions};
pub use super::ext_args::StatusItem;
use super::ext_args::{self, AppendMessage, ListArgs, ListQuery};
use super::fetch_args::{self, FetchItem};
use super::search::{self, SearchKey};
use super::sort::{self as sorting, Criterion};
use super::syntax::{expected, Cursor, Parsed, SequenceSet};
use super::thread::Algorithm;

/// A command and the tag the client gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    pub tag: String,
    pub command: Command,
}

/// `STORE` modes: `FLAGS`, `+FLAGS`, `-FLAGS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    // Any state (RFC 3501 §6.1).
    Capability,
    /// `STARTTLS` (RFC 3501 §6.2.1): start TLS before logging in.
    StartTls,
    Noop,
    Logout,
    /// RFC 2971.
    Id,
    // Not Authenticated (§6.2).
    Login {
        user: String,
        password: String,
    },
    Authenticate {
        mechanism: String,
        /// RFC 4959 SASL-IR: the first response on the command line.
        initial: Option<String>,
    },
    // Authenticated (§6.3).
    Select(String),
    Examine(String),
    /// SELECT or EXAMINE with RFC 7162 parameters: `(CONDSTORE)`, `(QRESYNC (…))`.
    SelectWith {
        mailbox: String,
        read_only: bool,
        params: SelectParams,
    },
    Create(String),
    /// RFC 6154 §3 CREATE-SPECIAL-USE: `CREATE name (USE (\Drafts))`.
    CreateSpecialUse {
        name: String,
        uses: Vec<String>,
    },
    Delete(String),
    Rename(String, String),
    Subscribe(String),
    Unsubscribe(String),
    List {
        reference: String,
        pattern: String,
    },
    /// RFC 5258 LIST with selection or return options, or several patterns.
    ListExtended {
        reference: String,
        query: ListQuery,
    },
    Lsub {
        reference: String,
        pattern: String,
    },
    Status(String, Vec<StatusItem>),
    Append {
        mailbox: String,
        flags: Vec<String>,
        /// Seconds since 1970, if the client gave an internal date.
        date: Option<i64>,
        message: Vec<u8>,
    },
    /// RFC 3502: several messages in one APPEND, stored all or none.
    MultiAppend {
        mailbox: String,
        messages: Vec<AppendMessage>,
    },
    /// RFC 2342.
    Namespace,
    /// RFC 5161.
    Enable(Vec<String>),
    /// RFC 2177.
    Idle,
    /// RFC 9208 GETQUOTA, with the quota root's name.
    GetQuota(String),
    /// RFC 9208 GETQUOTAROOT, with a folder's name.
    GetQuotaRoot(String),
    /// RFC 9208 SETQUOTA, with the quota root's name (always refused).
    SetQuota(String),
    // Selected (§6.4).
    Check,
    Close,
    /// RFC 3691.
    Unselect,
    Expunge,
    /// RFC 4315 `UID EXPUNGE`.
    UidExpunge(SequenceSet),
    Search {
        uid: bool,
        key: SearchKey,
        /// RFC 4731 `RETURN (…)`: answer with ESEARCH instead of SEARCH.
        ret: Option<ReturnOptions>,
    },
    /// A SEARCH in a charset postlab does not know: `NO [BADCHARSET]` (RFC 3501 §6.4.4), not
    /// BAD; with SAVE it still empties `$` (RFC 9051 §6.4.4.1, RFC 5182 example 5).
    SearchBadCharset {
        save: bool,
    },
    /// RFC 5256 SORT, with RFC 5267's RETURN options (ESORT).
    Sort {
        uid: bool,
        criteria: Vec<Criterion>,
        charset: String,
        key: SearchKey,
        ret: Option<ReturnOptions>,
    },
    /// RFC 5256 THREAD.
    Thread {
        uid: bool,
        algorithm: Algorithm,
        charset: String,
        key: SearchKey,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        items: Vec<FetchItem>,
        /// RFC 7162 `(CHANGEDSINCE n [VANISHED])`.
        modifiers: FetchModifiers,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
        /// RFC 7162 `(UNCHANGEDSINCE n)`.
        unchanged_since: Option<u64>,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
    },
    /// RFC 6851.
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
    },
}

/// Why a command could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Not even a tag: the reply is an untagged `* BAD`.
    NoTag,
    /// A tag, but a command name we do not know.
    Unknown { tag: String, name: String },
    /// A known command with bad arguments; the text says what was expected.
    Syntax { tag: String, message: String },
}

/// `command = tag SP (…) CRLF` — the CRLF already removed by the framing layer.
pub fn parse(input: &[u8]) -> Result<Tagged, CommandError> {
    let mut c = Cursor::new(input);
    let tag = c.tag().map_err(|_| CommandError::NoTag)?;
    if c.sp().is_err() {
        return Err(CommandError::Syntax {
            tag,
            message: "expected a space and a command after the tag".into(),
        });
    }
    let name = c.atom().unwrap_or_default().to_ascii_uppercase();
    let result = match name.as_str() {
        "UID" => uid_command(&mut c),
        _ => match command_body(&name, &mut c) {
            Some(parsed) => parsed,
            None => return Err(CommandError::Unknown { tag, name }),
        },
    };
    match result.and_then(|command| c.end().map(|()| command)) {
        Ok(command) => Ok(Tagged { tag, command }),
        Err(e) => Err(CommandError::Syntax {
            tag,
            message: format!("{name}: {}", e.0),
        }),
    }
}

/// The arguments of the command called `name`; `None` for a name we do not know.
fn command_body(name: &str, c: &mut Cursor) -> Option<Parsed<Command>> {
    let mailbox_arg = |c: &mut Cursor| -> Parsed<String> {
        c.sp()?;
        c.mailbox()
    };
    Some(match name {
        "CAPABILITY" => Ok(Command::Capability),
        "STARTTLS" => Ok(Command::StartTls),
        "NOOP" => Ok(Command::Noop),
        "LOGOUT" => Ok(Command::Logout),
        "ID" => id(c),
        "LOGIN" => login(c),
        "AUTHENTICATE" => authenticate(c),
        "SELECT" => select(c, false),
        "EXAMINE" => select(c, true),
        "CREATE" => create(c),
        "DELETE" => mailbox_arg(c).map(Command::Delete),
        "RENAME" => mailbox_arg(c).and_then(|from| Ok(Command::Rename(from, mailbox_arg(c)?))),
        "SUBSCRIBE" => mailbox_arg(c).map(Command::Subscribe),
        "UNSUBSCRIBE" => mailbox_arg(c).map(Command::Unsubscribe),
        "LIST" => ext_args::list(c).map(|args| match args {
            ListArgs::Plain { reference, pattern } => Command::List { reference, pattern },
            ListArgs::Extended { reference, query } => Command::ListExtended { reference, query },
        }),
        "LSUB" => list(c).map(|(reference, pattern)| Command::Lsub { reference, pattern }),
        "STATUS" => status(c),
        "APPEND" => ext_args::append(c).map(append),
        "NAMESPACE" => Ok(Command::Namespace),
        "ENABLE" => enable(c),
        "IDLE" => Ok(Command::Idle),
        "GETQUOTA" => ext_args::get_quota(c).map(Command::GetQuota),
        "GETQUOTAROOT" => ext_args::get_quota_root(c).map(Command::GetQuotaRoot),
        "SETQUOTA" => ext_args::set_quota(c).map(Command::SetQuota),
        "CHECK" => Ok(Command::Check),
        "CLOSE" => Ok(Command::Close),
        "UNSELECT" => Ok(Command::Unselect),
        "EXPUNGE" => Ok(Command::Expunge),
        "SEARCH" => search(c, false),
        "SORT" => sort(c, false),
        "THREAD" => thread(c, false),
        "FETCH" => fetch(c, false),
        "STORE" => store(c, false),
        "COPY" => copy(c, false, false),
        "MOVE" => copy(c, false, true),
        _ => return None,
    })
}

/// `select = "SELECT" SP mailbox [select-params]` (EXAMINE the same; RFC 4466 §2.1 params,
/// RFC 7162's CONDSTORE and QRESYNC among them: `condstore.rs`)
fn select(c: &mut Cursor, read_only: bool) -> Parsed<Command> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    if !c.eat(" ") {
        return Ok(if read_only {
            Command::Examine(mailbox)
        } else {
            Command::Select(mailbox)
        });
    }
    let params = condstore::select_params(c)?;
    Ok(Command::SelectWith {
        mailbox,
        read_only,
        params,
    })
}

/// `uid = "UID" SP ("COPY" / "MOVE" / "FETCH" / "SEARCH" / "STORE" / "EXPUNGE" / "SORT" /
/// "THREAD") …` (RFC 3501 §6.4.8, RFC 6851, RFC 4315 §2.1, RFC 5256 §5)
fn uid_command(c: &mut Cursor) -> Parsed<Command> {
    c.sp()?;
    let name = c.atom()?.to_ascii_uppercase();
    match name.as_str() {
        "FETCH" => fetch(c, true),
        "SEARCH" => search(c, true),
        "SORT" => sort(c, true),
        "THREAD" => thread(c, true),
        "STORE" => store(c, true),
        "COPY" => copy(c, true, false),
        "MOVE" => copy(c, true, true),
        "EXPUNGE" => {
            c.sp()?;
            Ok(Command::UidExpunge(c.sequence_set()?))
        }
        _ => expected("FETCH, SEARCH, SORT, THREAD, STORE, COPY, MOVE or EXPUNGE after UID"),
    }
}

/// `login = "LOGIN" SP userid SP password`; `userid = astring`; `password = astring`
fn login(c: &mut Cursor) -> Parsed<Command> {
    c.sp()?;
    let user = c.astring()?;
    c.sp()?;
    let password = c.astring()?;
    Ok(Command::Login { user, password })
}

/// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]` (RFC 4959 adds the
/// initial response)
fn authenticate(c: &mut Cursor) -> Parsed<Command> {
    c.sp()?;
    let mechanism = c.atom()?.to_ascii_uppercase();
    let initial = if c.eat(" ") { Some(c.atom()?) } else { None };
    Ok(Command::Authenticate { mechanism, initial })
}

/// Use attributes in one CREATE: six exist (RFC 6154 §2).
const MAX_USES: usize = 8;

/// `create = "CREATE" SP mailbox [create-params]`; `create-params = SP "(" create-param *(SP
/// create-param) ")"`; `create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")"` (RFC 4466
/// §2.2, RFC 6154 §6). USE is the one parameter there is.
fn create(c: &mut Cursor) -> Parsed<Command> {
    c.sp()?;
    let name = c.mailbox()?;
    if !c.eat(" (") {
        return Ok(Command::Create(name));
    }
    let mut uses = Vec::new();
    loop {
        if !c.atom()?.eq_ignore_ascii_case("USE") {
            return expected("USE (…) as the CREATE parameter");
        }
        c.sp()?;
        uses.extend(c.flag_list()?);
        if uses.len() > MAX_USES {
            return expected("at most 8 special uses");
        }
        if c.eat(")") {
            return Ok(Command::CreateSpecialUse { name, uses });
        }
        c.sp()?;
    }
}

/// `list = "LIST" SP mailbox SP list-mailbox` (LSUB the same)
fn list(c: &mut Cursor) -> Parsed<(String, String)> {
    c.sp()?;
    // Python's imaplib sends an empty reference as nothing at all (`LIST  *`); read it as "".
    let reference = if c.peek() == Some(b' ') {
        String::new()
    } else {
        c.mailbox()?
    };
    c.sp()?;
    let pattern = c.list_mailbox()?;
    Ok((reference, pattern))
}

/// `status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"`
fn status(c: &mut Cursor) -> Parsed<Command> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    c.sp()?;
    Ok(Command::Status(mailbox, ext_args::status_items(c)?))
}

/// One message is the plain APPEND (RFC 3501 §6.3.11), several a MULTIAPPEND (RFC 3502).
fn append((mailbox, mut messages): (String, Vec<AppendMessage>)) -> Command {
    match (messages.pop(), messages.is_empty()) {
        (Some(one), true) => Command::Append {
            mailbox,
            flags: one.flags,
            date: one.date,
            message: one.message,
        },
        (last, _) => {
            messages.extend(last);
            Command::MultiAppend { mailbox, messages }
        }
    }
}

/// `enable = "ENABLE" 1*(SP capability)` (RFC 5161 §4)
fn enable(c: &mut Cursor) -> Parsed<Command> {
    let mut names = Vec::new();
    while c.eat(" ") {
        names.push(c.atom()?.to_ascii_uppercase());
    }
    if names.is_empty() {
        return expected("a capability to enable");
    }
    Ok(Command::Enable(names))
}

/// `id = "ID" SP id-params-list`; `id-params-list = "(" *(string SP nstring) ")" / nil`
/// (RFC 2971 §4). The client's values are read and not used.
fn id(c: &mut Cursor) -> Parsed<Command> {
    c.sp()?;
    if c.eat("NIL") {
        return Ok(Command::Id);
    }
    c.expect("(")?;
    while !c.eat(")") {
        c.eat(" ");
        c.string()?;
        c.sp()?;
        if !c.eat("NIL") {
            c.string()?;
        }
    }
    Ok(Command::Id)
}

/// `search = "SEARCH" [search-return-opts] SP ["CHARSET" SP astring SP] search-key
/// *(SP search-key)` (RFC 4466 §2.6, with RFC 4731's options)
fn search(c: &mut Cursor, uid: bool) -> Parsed<Command> {
    c.sp()?;
    let ret = esearch::parse_return(c)?;
    let mut known_charset = true;
    if c.eat("CHARSET ") {
        let charset = c.astring()?;
        // RFC 3501 §6.4.4: US-ASCII must be supported; UTF-8 is its superset and harmless.
        known_charset =
            charset.eq_ignore_ascii_case("US-ASCII") || charset.eq_ignore_ascii_case("UTF-8");
        c.sp()?;
    }
    let key = search::parse_keys(c)?;
    if !known_charset {
        let save = ret.is_some_and(|options| options.save);
        return Ok(Command::SearchBadCharset { save });
    }
    Ok(Command::Search { uid, key, ret })
}

/// `sort = ["UID" SP] "SORT" [sort-return-opts] SP sort-criteria SP search-criteria`;
/// `search-criteria = charset 1*(SP search-key)` (RFC 5256 §5, RFC 5267 §3.2)
fn sort(c: &mut Cursor, uid: bool) -> Parsed<Command> {
    c.sp()?;
    let ret = esearch::parse_return(c)?;
    let criteria = sorting::parse_criteria(c)?;
    c.sp()?;
    let charset = sorting::parse_charset(c)?;
    c.sp()?;
    let key = search::parse_keys(c)?;
    Ok(Command::Sort {
        uid,
        criteria,
        charset,
        key,
        ret,
    })
}

/// `thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria`;
/// `thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext` (RFC 5256 §5)
fn thread(c: &mut Cursor, uid: bool) -> Parsed<Command> {
    c.sp()?;
    let algorithm = match c.atom()?.to_ascii_uppercase().as_str() {
        "ORDEREDSUBJECT" => Algorithm::OrderedSubject,
        "REFERENCES" => Algorithm::References,
        _ => return expected("a threading algorithm: ORDEREDSUBJECT or REFERENCES"),
    };
    c.sp()?;
    let charset = sorting::parse_charset(c)?;
    c.sp()?;
    let key = search::parse_keys(c)?;
    Ok(Command::Thread {
        uid,
        algorithm,
        charset,
        key,
    })
}

/// `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
/// "(" fetch-att *(SP fetch-att) ")")`
fn fetch(c: &mut Cursor, uid: bool) -> Parsed<Command> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let items = fetch_args::parse_items(c)?;
    let modifiers = condstore::fetch_modifiers(c, uid)?;
    Ok(Command::Fetch {
        uid,
        set,
        items,
        modifiers,
    })
}

/// `store = "STORE" SP sequence-set SP store-att-flags`;
/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))`
fn store(c: &mut Cursor, uid: bool) -> Parsed<Command> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let unchanged_since = condstore::store_modifier(c)?;
    let mode = if c.eat("+") {
        StoreMode::Add
    } else if c.eat("-") {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    c.expect("FLAGS")?;
    let silent = c.eat(".SILENT");
    c.sp()?;
    let flags = if c.peek() == Some(b'(') {
        c.flag_list()?
    } else {
        let mut flags = vec![c.flag()?];
        while c.eat(" ") {
            flags.push(c.flag()?);
        }
        flags
    };
    Ok(Command::Store {
        uid,
        set,
        mode,
        silent,
        flags,
        unchanged_since,
    })
}

/// `copy = "COPY" SP sequence-set SP mailbox` (MOVE, RFC 6851 §3, the same)
fn copy(c: &mut Cursor, uid: bool, is_move: bool) -> Parsed<Command> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let mailbox = c.mailbox()?;
    Ok(if is_move {
        Command::Move { uid, set, mailbox }
    } else {
        Command::Copy { uid, set, mailbox }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::syntax::SeqNumber;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line}: {e:?}"))
            .command
    }

    #[test]
    fn commands_parse() {
        let table: Vec<(&str, Command)> = vec![
            ("a CAPABILITY", Command::Capability),
            ("a noop", Command::Noop),
            (
                "a LOGIN alice \"pass word\"",
                Command::Login {
                    user: "alice".into(),
                    password: "pass word".into(),
                },
            ),
            ("a SELECT inbox", Command::Select("inbox".into())),
            (
                "a RENAME \"Old\" New",
                Command::Rename("Old".into(), "New".into()),
            ),
            (
                "a LIST \"\" *",
                Command::List {
                    reference: "".into(),
                    pattern: "*".into(),
                },
            ),
            (
                "a UID EXPUNGE 3:*",
                Command::UidExpunge(SequenceSet::new(vec![(
                    SeqNumber::Value(3),
                    SeqNumber::Star,
                )])),
            ),
            (
                "a STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)",
                Command::Store {
                    uid: false,
                    set: SequenceSet::new(vec![(SeqNumber::Value(1), SeqNumber::Value(1))]),
                    mode: StoreMode::Add,
                    silent: true,
                    flags: vec!["\\Seen".into(), "\\Deleted".into()],
                    unchanged_since: None,
                },
            ),
            (
                "a APPEND Sent (\\Seen) {2+}\r\nhi",
                Command::Append {
                    mailbox: "Sent".into(),
                    flags: vec!["\\Seen".into()],
                    date: None,
                    message: b"hi".to_vec(),
                },
            ),
            ("a ID (\"name\" \"mutt\" \"version\" NIL)", Command::Id),
            (
                "a SEARCH RETURN (SAVE) CHARSET KOI8-R TEXT {2+}\r\nXX",
                Command::SearchBadCharset { save: true },
            ),
            (
                "a UID COPY $ Trash",
                Command::Copy {
                    uid: true,
                    set: SequenceSet::saved_result(),
                    mailbox: "Trash".into(),
                },
            ),
        ];
        for (line, want) in table {
            assert_eq!(ok(line), want, "{line}");
        }
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(parse(b""), Err(CommandError::NoTag));
        assert!(matches!(
            parse(b"a FROB"),
            Err(CommandError::Unknown { name, .. }) if name == "FROB"
        ));
        for bad in [
            "a LOGIN alice",
            "a SELECT",
            "a FETCH 0 FLAGS",
            "a STORE 1 FLAGZ x",
            "a NOOP extra",
            "a STATUS INBOX (BOGUS)",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(CommandError::Syntax { .. })),
                "{bad}"
            );
        }
    }

    /// Whatever a peer sends, the parser answers with a value, never a panic: random
    /// octets and random splices of real commands (a small xorshift generator, fixed seed).
    #[test]
    fn random_input_never_panics() {
        let seeds = [
            "a UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.10>)",
            "a SEARCH OR (FROM \"x\" SINCE 1-Jan-2026) NOT UID 1:3,5 LARGER 10",
            "a APPEND Sent (\\Seen) \"01-Jan-2026 00:00:00 +0000\" {3+}\r\nabc",
            "a STORE 1 +FLAGS.SILENT (\\Deleted $Junk)",
            "a SEARCH RETURN (SAVE MIN) CHARSET KOI8-R OR $ NOT UID $ TEXT {2+}\r\nXX",
            "a UID MOVE $ Trash",
            "a SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500 15000,22500)))",
            "a UID FETCH 300:500 (FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)",
            "a STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)",
            "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let seed = seeds[(next() % seeds.len() as u64) as usize].as_bytes();
            let mut input = seed.to_vec();
            for _ in 0..(next() % 4) {
                let at = (next() % (input.len() as u64 + 1)) as usize;
                match next() % 3 {
                    0 => input.truncate(at),
                    1 => input.insert(at.min(input.len()), (next() % 256) as u8),
                    _ => {
                        if at < input.len() {
                            input.remove(at);
                        }
                    }
                }
            }
            let _ = parse(&input);
        }
    }
}
