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
//! A LIST with none of these is the plain RFC 3501 LIST (`folders.rs`), answered as before;
//! the grammar is in `ext_args.rs`.
//! Here the attributes are the ones asked for: `\HasChildren`/`\HasNoChildren` only with
//! `RETURN (CHILDREN)`, `\Subscribed` with SUBSCRIBED (either kind), and a name that is not a
//! folder says `\NonExistent` (§3: it implies `\Noselect`). Special-use attributes are always
//! given, as in plain LIST (RFC 6154 §2 allows it).

use super::ext_args::ListQuery;
use super::folders::matches;
use super::response::{quote, Response};
use super::session::Session;
use crate::mailbox::folder::{FolderError, DELIMITER};
use crate::mailbox::special_use::assignable;

impl Session {
    /// RFC 6154 §3 CREATE-SPECIAL-USE: a folder made with its special uses, or not at all.
    /// `\All` and `\Flagged` (virtual folders) and names RFC 6154 does not define are
    /// refused with `NO [USEATTR]`.
    pub(super) fn create_special_use(
        &self,
        tag: &str,
        name: &str,
        uses: &[String],
    ) -> Result<Vec<Response>, FolderError> {
        let Some(folders) = self.folders.as_ref() else {
            return Ok(vec![Response::bad(tag, "No folders")]);
        };
        let mut known = Vec::new();
        for wanted in uses {
            match assignable(wanted) {
                Some(attribute) => known.push(attribute),
                None => {
                    return Ok(vec![Response::no(
                        tag,
                        "USEATTR",
                        "Special uses a folder can have: \\Archive \\Drafts \\Junk \\Sent \\Trash",
                    )])
                }
            }
        }
        folders.create_special(name, &known)?;
        Ok(vec![Response::ok(tag, "CREATE completed")])
    }

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
                    self.name_matches(f, name)
                }
            })
        };
        let exists = |name: &str| names.iter().any(|n| n == name);
        let is_subscribed = |name: &str| subscribed.iter().any(|n| n == name);
        let selected = |name: &str| {
            (!query.subscribed || is_subscribed(name))
                && (!query.special_use || (exists(name) && !folders.uses_of(name).is_empty()))
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
                attributes.extend(folders.uses_of(name));
            }
            if (query.subscribed || query.return_subscribed) && is_subscribed(name) {
                attributes.push("\\Subscribed");
            }
            let mut line = format!(
                "LIST ({}) \"{DELIMITER}\" {}",
                attributes.join(" "),
                quote(&self.wire_name(name))
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
