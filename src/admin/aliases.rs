//! `postlab alias add | del | list` and `postlab user disable | enable | quota`: account changes an
//! administrator makes while the server runs.
//!
//! Both files are rewritten atomically (a reader sees the old or the new file, never half);
//! the server notices the new modification time at the next connection, so no restart is
//! needed. `alias del` keeps every other line of `DIR/aliases`, comments included, as written.

use crate::accounts::aliases::{self, Aliases};
use crate::accounts::{extra, Users};
use crate::datadir::DataDir;
use crate::mailbox::{durable, quota};

use super::fail;

/// `postlab alias add ALIAS TARGET… | del ALIAS | list [--data DIR]`
pub fn main(args: &[String]) -> i32 {
    let opts = super::options();
    let brief = "usage: postlab alias add ALIAS TARGET... | del ALIAS | list [--data DIR]\n\n\
                 Other names for accounts, in DIR/aliases. A TARGET is an account, another\n\
                 alias, or a full address. Takes effect at the server's next connection.";
    let m = match super::parse(&opts, args, brief, 2) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let path = data.aliases();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
    };
    let aliases = match Aliases::parse(&text) {
        Ok(aliases) => aliases,
        Err(e) => return fail(format!("{}: {e} (fix it by hand first)", path.display())),
    };
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["list"] => {
            for (name, targets) in aliases.iter() {
                println!("{name}: {}", targets.join(", "));
            }
            return 0;
        }
        ["add", alias, targets @ ..] if !targets.is_empty() => {
            add(&data, &aliases, &text, alias, targets)
        }
        ["del", alias] => match aliases.get(alias) {
            None => Err(format!("no alias {alias}")),
            Some(_) => Ok((without(&text, alias), format!("deleted alias {alias}"))),
        },
        _ => {
            eprint!("{}", opts.usage(brief));
            return 2;
        }
    };
    match result.and_then(|(new_text, said)| {
        durable::write_atomically(&path, new_text.as_bytes())
            .map(|()| said)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }) {
        Ok(said) => {
            println!("{said}");
            0
        }
        Err(e) => fail(e),
    }
}

/// Checks the new alias and gives the new file text: the old one without `alias`'s lines, then
/// `alias: targets` (so `add` on an existing alias replaces its targets).
fn add(
    data: &DataDir,
    aliases: &Aliases,
    text: &str,
    alias: &str,
    targets: &[&str],
) -> Result<(String, String), String> {
    let alias = alias.to_ascii_lowercase();
    // Everything written into DIR/aliases is checked first: a line break in an argument would
    // add a line of its own (issue 14: `staff $'bob\nbob: evil@…'` redirected bob's mail).
    aliases::check_name(&alias)?;
    let users = Users::load(&data.users()).map_err(|e| e.to_string())?;
    if users.contains(&alias) {
        return Err(format!(
            "{alias} is an account; an alias cannot have its name"
        ));
    }
    let targets: Vec<String> = targets
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    for target in &targets {
        aliases::check_target(target)?;
        let known = target.contains('@')
            || users.contains(target)
            || (aliases.get(target).is_some() && !target.eq_ignore_ascii_case(&alias));
        if !known {
            return Err(format!(
                "{target} is neither an account, an alias nor an address: mail would go nowhere"
            ));
        }
    }
    let mut new_text = without(text, &alias);
    if !new_text.is_empty() && !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    new_text.push_str(&format!("{alias}: {}\n", targets.join(", ")));
    Ok((new_text, format!("{alias} -> {}", targets.join(", "))))
}

/// The aliases file text without `alias`'s line and its continuation lines.
fn without(text: &str, alias: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let continuation = line.starts_with([' ', '\t']) && !line.trim().is_empty();
        if continuation && skipping {
            continue;
        }
        skipping = !continuation
            && line
                .split_once(':')
                .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case(alias));
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `postlab user disable NAME | enable NAME | quota NAME SIZE [--data DIR]`
pub fn user_switch(args: &[String]) -> i32 {
    let opts = super::options();
    let brief = "usage: postlab user disable NAME | enable NAME | quota NAME SIZE [--data DIR]\n\n\
                 A disabled account cannot log in (SMTP AUTH, POP3) but still receives mail.\n\
                 SIZE is like 10M, 512K or 1G; 0 removes the quota.";
    let m = match super::parse(&opts, args, brief, 2) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    enum Change {
        Disable,
        Enable,
        Quota(u64),
    }
    let (change, name) = match words.as_slice() {
        ["disable", name] => (Change::Disable, *name),
        ["enable", name] => (Change::Enable, *name),
        ["quota", name, size] => match quota::parse_size(size) {
            Ok(octets) => (Change::Quota(octets), *name),
            Err(e) => {
                eprintln!("postlab: {e}");
                return 2;
            }
        },
        _ => {
            eprint!("{}", opts.usage(brief));
            return 2;
        }
    };
    let path = data.users();
    let mut all = match Users::load(&path) {
        Ok(all) => all,
        Err(e) => return fail(e),
    };
    let Some(mut user) = all.get(name).cloned() else {
        return fail(format!("no user {name}"));
    };
    match change {
        Change::Disable => extra::set(&mut user, "nologin", Some("y")),
        Change::Enable => extra::set(&mut user, "nologin", None),
        Change::Quota(octets) => quota::set_limit(&mut user, octets),
    }
    let name = user.name.clone();
    all.insert(user);
    if let Err(e) = all.save(&path) {
        return fail(format!("cannot write {}: {e}", path.display()));
    }
    match change {
        Change::Disable => println!("{name} is disabled: no logins; mail is still received"),
        Change::Enable => println!("{name} is enabled"),
        Change::Quota(0) => println!("{name} has no quota"),
        Change::Quota(octets) => println!(
            "{name} may keep {} of mail (now {} octets)",
            quota::format_size(octets),
            quota::usage(&crate::mda::maildir_path(&data.mail(), &name)).unwrap_or(0)
        ),
    }
    0
}

#[cfg(test)]
mod tests {
    use super::without;

    #[test]
    fn without_drops_the_alias_and_its_continuations_only() {
        let text = "# c\nstaff: alice,\n  bob\npostmaster: alice\n";
        assert_eq!(without(text, "STAFF"), "# c\npostmaster: alice\n");
    }
}
