//! Per-account switches kept in `DIR/users` as Dovecot "extra fields", so the file stays one
//! Dovecot can read as it is.
//!
//! ```text
//! # name:password:uid:gid:gecos:home:shell:extra fields (space separated)
//! carol:{ARGON2ID}$argon2id$…::::::nologin=y
//! ```
//!
//! `nologin=y` is Dovecot's own switch for "the password is right, but this account may not
//! log in"; postlab reads it the same way for SMTP AUTH and POP3. A disabled account still
//! *receives* mail: disabling is for "this person left, keep the mailbox until it is handed
//! over", and bouncing their mail would lose it.

use super::users::User;

/// Dovecot passwd-file: the password is followed by uid, gid, gecos, home and shell, then the
/// extra fields. `User::extra` holds everything after the password.
const FIELDS_BEFORE_EXTRA: usize = 5;

/// The extra fields of `user`, as `key=value` words.
pub fn fields(user: &User) -> Vec<String> {
    user.extra
        .splitn(FIELDS_BEFORE_EXTRA + 1, ':')
        .nth(FIELDS_BEFORE_EXTRA)
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The value of extra field `key`, if set.
pub fn get(user: &User, key: &str) -> Option<String> {
    fields(user).into_iter().find_map(|field| {
        let (k, v) = field.split_once('=').unwrap_or((&field, ""));
        (k == key).then(|| v.to_string())
    })
}

/// Sets (or with `None` removes) extra field `key`, keeping the other fields and the
/// uid/gid/home columns as they were.
pub fn set(user: &mut User, key: &str, value: Option<&str>) {
    let mut columns: Vec<String> = user
        .extra
        .splitn(FIELDS_BEFORE_EXTRA + 1, ':')
        .map(str::to_string)
        .collect();
    columns.resize(FIELDS_BEFORE_EXTRA + 1, String::new());
    let mut words: Vec<String> = fields(user)
        .into_iter()
        .filter(|w| w.split_once('=').map_or(w.as_str(), |(k, _)| k) != key)
        .collect();
    if let Some(value) = value {
        words.push(format!("{key}={value}"));
    }
    columns[FIELDS_BEFORE_EXTRA] = words.join(" ");
    user.extra = if columns.iter().all(String::is_empty) {
        String::new()
    } else {
        columns.join(":")
    };
}

/// May this account log in? (`postlab user disable NAME` says no.)
pub fn is_disabled(user: &User) -> bool {
    get(user, "nologin").is_some_and(|v| v != "n" && v != "no")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(extra: &str) -> User {
        User {
            name: "carol".into(),
            password: "{PLAIN}x".into(),
            extra: extra.into(),
        }
    }

    #[test]
    fn set_and_clear_keep_the_other_columns() {
        let mut carol = user("1000:1000::/home/carol:");
        set(&mut carol, "nologin", Some("y"));
        assert_eq!(carol.extra, "1000:1000::/home/carol::nologin=y");
        assert!(is_disabled(&carol));
        set(&mut carol, "userdb_quota_rule", Some("*:storage=10M"));
        assert_eq!(
            get(&carol, "userdb_quota_rule").as_deref(),
            Some("*:storage=10M")
        );
        set(&mut carol, "nologin", None);
        assert!(!is_disabled(&carol));
        assert_eq!(
            carol.extra,
            "1000:1000::/home/carol::userdb_quota_rule=*:storage=10M"
        );
        let mut plain = user("");
        set(&mut plain, "nologin", Some("y"));
        set(&mut plain, "nologin", None);
        assert_eq!(plain.extra, "");
    }
}
