//! `postlab user`: accounts in DIR/users.
//!
//! An account's mail outlives the account only on purpose. `user del` moves the Maildir aside
//! to `DIR/mail/.deleted/NAME-DATE` (the default), deletes it (`--purge`) or leaves it where it
//! is (`--keep-mail`), and says which. `user add` over a Maildir left behind moves that aside
//! first, so a new account of the same name never starts with someone else's mail (issue 14).
//! `.deleted` can never be an account (names may not start with a dot).

use super::*;

// ---- postlab user ----------------------------------------------------------------------------

pub(super) fn user(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optopt(
        "",
        "password",
        "the password (add: default a generated one; passwd: default read from stdin)",
        "P",
    );
    opts.optflag(
        "",
        "purge",
        "del: delete the account's mail (default: move it to DIR/mail/.deleted/NAME-DATE)",
    );
    opts.optflag(
        "",
        "keep-mail",
        "del: leave the account's mail where it is (a later `user add NAME` moves it aside)",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab user add NAME [--password P] | del NAME [--purge | --keep-mail] | passwd NAME [--password P] | list\n\n\
                 Manage accounts in DIR/users (hashed with Argon2id, Dovecot passwd-file format).";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let path = data.users();
    let mut users = match Users::load(&path) {
        Ok(users) => users,
        Err(e) => return fail(e),
    };
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let save = |users: &Users| {
        std::fs::create_dir_all(data.root())
            .and_then(|()| users.save(&path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    match words.as_slice() {
        ["list"] => {
            for user in users.iter() {
                let scheme = user
                    .password
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('{');
                println!("{:<20} {scheme}", user.name);
            }
            0
        }
        ["add", name] => {
            let name = name.to_ascii_lowercase();
            if let Err(e) = users::check_name(&name) {
                return fail(e);
            }
            if users.contains(&name) {
                return fail(format!(
                    "user {name} exists already (use passwd to change the password)"
                ));
            }
            // A Maildir left by an earlier account of this name is not the new account's mail.
            let maildir = data.mail().join(&name);
            let moved = match move_aside(&data, &name) {
                Ok(moved) => moved,
                Err(e) => {
                    return fail(format!(
                        "{} exists (mail of an earlier {name}) and cannot be moved aside: {e}; the account was not added",
                        maildir.display()
                    ))
                }
            };
            if let Some(to) = &moved {
                println!(
                    "an earlier {name}'s mail was in {}: moved to {}",
                    maildir.display(),
                    to.display()
                );
            }
            let (secret, generated) = match m.opt_str("password") {
                Some(p) => (p, false),
                None => (password::generate(), true),
            };
            let hash = match password::hash(&secret) {
                Ok(hash) => hash,
                Err(e) => return fail(e),
            };
            users.insert(User {
                name: name.clone(),
                password: hash,
                extra: String::new(),
            });
            if let Err(e) = save(&users) {
                return fail(e);
            }
            if let Err(e) = Maildir::create(&maildir) {
                return fail(format!(
                    "account added, but its Maildir could not be made: {e}"
                ));
            }
            if generated {
                println!("added {name}, password: {secret}");
            } else {
                println!("added {name}");
            }
            0
        }
        ["del", name] => {
            if m.opt_present("purge") && m.opt_present("keep-mail") {
                eprintln!("postlab: --purge and --keep-mail contradict each other");
                return 2;
            }
            let name = name.to_ascii_lowercase();
            if let Err(e) = users::check_name(&name) {
                return fail(e);
            }
            if users.remove(&name).is_none() {
                return fail(format!("no user {name}"));
            }
            if let Err(e) = save(&users) {
                return fail(e);
            }
            let maildir = data.mail().join(&name);
            let said = if m.opt_present("keep-mail") {
                format!("the mail stays in {} (--keep-mail)", maildir.display())
            } else if !maildir.exists() {
                "there was no mail".to_string()
            } else if m.opt_present("purge") {
                match std::fs::remove_dir_all(&maildir) {
                    Ok(()) => format!(
                        "its mail is deleted ({} removed, --purge)",
                        maildir.display()
                    ),
                    Err(e) => {
                        return fail(format!(
                            "deleted {name}, but its mail could not be deleted: {e}"
                        ))
                    }
                }
            } else {
                match move_aside(&data, &name) {
                    Ok(Some(to)) => format!("its mail is moved to {}", to.display()),
                    Ok(None) => "there was no mail".to_string(),
                    Err(e) => {
                        return fail(format!(
                            "deleted {name}, but its mail could not be moved aside: {e}"
                        ))
                    }
                }
            };
            println!("deleted {name}; {said}");
            0
        }
        ["passwd", name] => {
            let Some(existing) = users.get(name).cloned() else {
                return fail(format!("no user {name}"));
            };
            let secret = match m.opt_str("password") {
                Some(p) => p,
                None => {
                    eprint!("new password for {name}: ");
                    let mut line = String::new();
                    if std::io::stdin().read_line(&mut line).is_err()
                        || line.trim_end_matches(['\r', '\n']).is_empty()
                    {
                        return fail("no password given");
                    }
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let hash = match password::hash(&secret) {
                Ok(hash) => hash,
                Err(e) => return fail(e),
            };
            users.insert(User {
                password: hash,
                ..existing
            });
            if let Err(e) = save(&users) {
                return fail(e);
            }
            println!("password changed for {name}");
            0
        }
        _ => {
            eprint!("{}", opts.usage(brief));
            2
        }
    }
}

/// Moves `DIR/mail/NAME` to `DIR/mail/.deleted/NAME-DATE` if it exists; gives where it went.
fn move_aside(data: &DataDir, name: &str) -> std::io::Result<Option<std::path::PathBuf>> {
    let from = data.mail().join(name);
    if !from.exists() {
        return Ok(None);
    }
    let attic = data.mail().join(".deleted");
    crate::mailbox::durable::create_dir_all_durably(&attic)?;
    // `2026-12-07 13:45:10.123` → `2026-12-07T134510`: sorts by date, safe in a file name.
    let stamp: String = crate::clock::now()
        .stamp()
        .replace(' ', "T")
        .split('.')
        .next()
        .unwrap_or("")
        .replace(':', "");
    let mut to = attic.join(format!("{name}-{stamp}"));
    let mut n = 1;
    while to.exists() {
        n += 1;
        to = attic.join(format!("{name}-{stamp}-{n}"));
    }
    std::fs::rename(&from, &to)?;
    crate::mailbox::durable::sync_dir(&data.mail())?;
    crate::mailbox::durable::sync_dir(&attic)?;
    Ok(Some(to))
}
