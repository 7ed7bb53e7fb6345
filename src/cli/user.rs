//! `postlab user`: accounts in DIR/users.

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
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab user add NAME [--password P] | del NAME | passwd NAME [--password P] | list\n\n\
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
            if let Err(e) = Maildir::create(&data.mail().join(&name)) {
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
            if users.remove(name).is_none() {
                return fail(format!("no user {name}"));
            }
            if let Err(e) = save(&users) {
                return fail(e);
            }
            println!(
                "deleted {name}; the mail stays in {}",
                data.mail().join(name.to_ascii_lowercase()).display()
            );
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
