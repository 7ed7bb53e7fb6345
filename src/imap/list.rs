//! LIST-EXTENDED (RFC 5258) with RFC 6154's SPECIAL-USE options and LIST-STATUS (RFC 5819):
//! selection options that choose which names are listed, return options that say what is
//! told about each, and several patterns in one command.
//!
//! ```text
//! C: a1 LIST (SUBSCRIBED) "" ("INBOX" "Sent") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))
//! S: * LIST (\HasNoChildren \Subscribed) "." "INBOX"
//! S: * STATUS "INBOX" (MESSAGES 3 UNSEEN 1)
//! S: * LIST (\HasNoChildren \Sent \Subscribed) "." "Sent"
//! S: * STATUS "Sent" (MESSAGES 0 UNSEEN 0)
//! S: a1 OK LIST completed
//! ```
//!
//! A LIST with none of these is the plain RFC 3501 LIST (`folders.rs`), answered as before.
//! Here the attributes are the ones asked for: `\HasChildren`/`\HasNoChildren` only with
//! `RETURN (CHILDREN)`, `\Subscribed` with SUBSCRIBED (either kind), and a name that is not a
//! folder says `\NonExistent` (§3: it implies `\Noselect`). Special-use attributes are always
//! given, as in plain LIST (RFC 6154 §2 allows it).

use super::command::{status_items, Command, StatusItem};
use super::folders::matches;
use super::response::{quote, Response};
use super::session::Session;
use super::syntax::{expected, Cursor, Parsed};
use crate::mailbox::folder::{special_use, FolderError, DELIMITER};

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

/// More patterns than any client needs; each is matched against every folder.
pub const MAX_PATTERNS: usize = 16;
/// Options in one list: the few that exist, each perhaps repeated.
const MAX_OPTIONS: usize = 8;

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
/// (RFC 5258 §6). Without any extended part it is the plain [`Command::List`].
pub fn parse(c: &mut Cursor) -> Parsed<Command> {
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
        return Ok(Command::List { reference, pattern });
    }
    Ok(Command::ListExtended { reference, query })
}

/// `list-select-opts = "(" [list-select-opt *(SP list-select-opt)] ")"`; RECURSIVEMATCH
/// needs a base option beside it (§6: `(RECURSIVEMATCH)` alone is not allowed).
fn select_options(c: &mut Cursor, query: &mut ListQuery) -> Parsed<()> {
    c.expect("(")?;
    let mut count = 0;
    while !c.eat(")") {
        if count > 0 {
            c.sp()?;
        }
        count += 1;
        if count > MAX_OPTIONS {
            return expected("at most 8 selection options");
        }
        match c.atom()?.to_ascii_uppercase().as_str() {
            "SUBSCRIBED" => query.subscribed = true,
            // §3.1: there are no remote folders here, so REMOTE changes nothing.
            "REMOTE" => {}
            "RECURSIVEMATCH" => query.recursive = true,
            "SPECIAL-USE" => query.special_use = true,
            _ => return expected("SUBSCRIBED, REMOTE, RECURSIVEMATCH or SPECIAL-USE"),
        }
    }
    if query.recursive && !query.subscribed && !query.special_use {
        return expected("RECURSIVEMATCH together with SUBSCRIBED or SPECIAL-USE");
    }
    Ok(())
}

/// `list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"`, with RFC
/// 5819's `"STATUS" SP "(" status-att *(SP status-att) ")"`.
fn return_options(c: &mut Cursor, query: &mut ListQuery) -> Parsed<()> {
    c.expect("(")?;
    let mut count = 0;
    while !c.eat(")") {
        if count > 0 {
            c.sp()?;
        }
        count += 1;
        if count > MAX_OPTIONS {
            return expected("at most 8 return options");
        }
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
    }
    Ok(())
}

impl Session {
    /// RFC 5258 §3 extended LIST: the names matching any pattern that meet the selection, and
    /// with RECURSIVEMATCH the ones with a selected descendant the patterns miss (§3.5).
    pub(super) fn list_extended(
        &self,
        tag: &str,
        reference: &str,
        query: &ListQuery,
    ) -> Result<Vec<Response>, FolderError> {
        let Some(folders) = self.folders.as_ref() else {
            return Ok(vec![Response::bad(tag, "No folders")]);
        };
        if query.patterns.len() == 1 && query.patterns[0].is_empty() {
            // RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root.
            return Ok(vec![
                Response::data(format!("LIST (\\Noselect) \"{DELIMITER}\" \"\"")),
                Response::ok(tag, "LIST completed"),
            ]);
        }
        let fulls: Vec<String> = query
            .patterns
            .iter()
            .map(|p| format!("{reference}{p}"))
            .collect();
        // The matcher backtracks on each wildcard; a handful is all a real client sends.
        if fulls
            .iter()
            .any(|f| f.bytes().filter(|b| *b == b'*' || *b == b'%').count() > 8)
        {
            return Ok(vec![Response::no(
                tag,
                "LIMIT",
                "At most 8 wildcards in a pattern",
            )]);
        }
        let names = folders.names()?;
        let subscribed = folders.subscriptions()?;
        let matching = |name: &str| {
            fulls.iter().any(|f| {
                if name == "INBOX" {
                    matches(f.to_ascii_uppercase().as_bytes(), b"INBOX")
                } else {
                    matches(f.as_bytes(), name.as_bytes())
                }
            })
        };
        let exists = |name: &str| names.iter().any(|n| n == name);
        let is_subscribed = |name: &str| subscribed.iter().any(|n| n == name);
        let selected = |name: &str| {
            (!query.subscribed || is_subscribed(name))
                && (!query.special_use || (exists(name) && special_use(name).is_some()))
        };
        // Every name there is to speak of: folders, subscriptions, and the levels above them.
        let mut base: Vec<String> = names.clone();
        if query.subscribed {
            base.extend(subscribed.iter().filter(|s| !exists(s)).cloned());
        }
        let mut universe = base.clone();
        for name in &base {
            let mut end = 0;
            while let Some(dot) = name[end..].find(DELIMITER) {
                end += dot;
                let parent = &name[..end];
                if !universe.iter().any(|u| u == parent) {
                    universe.push(parent.to_string());
                }
                end += 1;
            }
        }
        universe.sort_by(|a, b| (a != "INBOX", a).cmp(&(b != "INBOX", b)));
        let childinfo: Vec<&str> = [
            (query.subscribed, "\"SUBSCRIBED\""),
            (query.special_use, "\"SPECIAL-USE\""),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, word)| *word)
        .collect();
        let mut out = Vec::new();
        for name in &universe {
            if !matching(name) {
                continue;
            }
            let prefix = format!("{name}{DELIMITER}");
            let chosen_below = |missed_only: bool| {
                base.iter()
                    .any(|d| d.starts_with(&prefix) && selected(d) && !(missed_only && matching(d)))
            };
            let this_selected = if query.subscribed || query.special_use {
                selected(name)
            } else {
                // No selection: every folder, and the levels above them (§6.3.8's parents).
                true
            };
            // §3 condition b: listed for a descendant only if the patterns do not reach it.
            if !(this_selected || query.recursive && chosen_below(true)) {
                continue;
            }
            let mut attributes: Vec<&str> = Vec::new();
            if !exists(name) {
                attributes.push("\\NonExistent");
            }
            if query.return_children {
                let children = names.iter().any(|n| n.starts_with(&prefix));
                attributes.push(if children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                });
            }
            if exists(name) {
                attributes.extend(special_use(name));
            }
            if (query.subscribed || query.return_subscribed) && is_subscribed(name) {
                attributes.push("\\Subscribed");
            }
            let mut line = format!(
                "LIST ({}) \"{DELIMITER}\" {}",
                attributes.join(" "),
                quote(name)
            );
            if query.recursive && chosen_below(false) {
                line.push_str(&format!(" (\"CHILDINFO\" ({}))", childinfo.join(" ")));
            }
            out.push(Response::data(line));
            // RFC 5819 §2: STATUS for each selectable folder listed that meets the selection
            // (not one listed only for CHILDINFO), right after its LIST; one that cannot be
            // read now is left without (§2 allows dropping it).
            if let Some(items) = &query.return_status {
                if exists(name) && this_selected {
                    if let Ok(status) = self.status_line(name, items) {
                        out.push(status);
                    }
                }
            }
        }
        out.push(Response::ok(tag, "LIST completed"));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Parsed<Command> {
        let mut c = Cursor::new(line.as_bytes());
        let command = parse(&mut c)?;
        c.end()?;
        Ok(command)
    }

    #[test]
    fn extended_lists_parse() {
        assert!(matches!(parsed(" \"\" *"), Ok(Command::List { .. })));
        let Ok(Command::ListExtended { query, .. }) = parsed(
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
            assert!(parsed(bad).is_err(), "{bad}");
        }
    }
}
