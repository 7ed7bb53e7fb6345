//! QUOTA (RFC 9208): the client may ask how much of the account's quota is used. The quota
//! is the one postlab already enforces on every writer (`mailbox::quota`): octets over all
//! folders, set by the administrator with `postlab user quota bob 10M`.
//!
//! ```text
//! C: a1 GETQUOTAROOT INBOX
//! S: * QUOTAROOT INBOX ""
//! S: * QUOTA "" (STORAGE 20 10240)
//! S: a1 OK GETQUOTAROOT completed
//! ```
//!
//! One quota root, `""`, covers every folder of the account (§3.2: a root may cover many
//! folders). STORAGE counts units of 1024 octets (§5.1); the usage is rounded up and the
//! limit down, so a client is never told there is room that is not there. An account without
//! a quota has no quota root (§4.2.2: `* QUOTAROOT INBOX` with none). Only STORAGE is
//! reported: postlab limits no other resource (§4.2.1: a resource not named is not limited),
//! and SETQUOTA is refused, as QUOTASET is not offered (§4.1.3). The grammar is in
//! `ext_args.rs`.

use super::command::Command;
use super::response::{quote, Response};
use super::session::Session;
use crate::mailbox::quota;

/// The one quota root.
const ROOT: &str = "";

impl Session {
    /// The account's `* QUOTA "" (STORAGE used limit)`, or `None` without a quota.
    fn quota_response(&self) -> std::io::Result<Option<Response>> {
        let Some(account) = self.account.as_deref() else {
            return Ok(None);
        };
        let Some(limit) = self.directory.users.get(account).and_then(quota::limit) else {
            return Ok(None);
        };
        let root = crate::mda::maildir_path(&self.mail_root, account);
        let used = quota::usage(&root)?;
        Ok(Some(Response::data(format!(
            "QUOTA {} (STORAGE {} {})",
            quote(ROOT),
            used.div_ceil(1024),
            limit / 1024
        ))))
    }

    /// RFC 9208 §4.1.1 GETQUOTA and §4.1.2 GETQUOTAROOT, §4.1.3 SETQUOTA (refused).
    pub(super) fn quota_command(&self, tag: &str, command: Command) -> Vec<Response> {
        let quota = match self.quota_response() {
            Ok(quota) => quota,
            Err(e) => return vec![super::response::disk_error(tag, &e)],
        };
        match command {
            Command::GetQuotaRoot(mailbox) => {
                let name = match self.folders.as_ref().map(|f| f.maildir(&mailbox)) {
                    Some(Ok((name, _))) => name,
                    Some(Err(e)) => return vec![super::response::folder_error(tag, e)],
                    None => return vec![Response::bad(tag, "No folders")],
                };
                let mut out = match quota {
                    Some(quota) => vec![
                        Response::data(format!("QUOTAROOT {} {}", quote(&name), quote(ROOT))),
                        quota,
                    ],
                    None => vec![Response::data(format!("QUOTAROOT {}", quote(&name)))],
                };
                out.push(Response::ok(tag, "GETQUOTAROOT completed"));
                out
            }
            Command::GetQuota(root) => match quota {
                Some(quota) if root == ROOT => {
                    vec![quota, Response::ok(tag, "GETQUOTA completed")]
                }
                _ => vec![Response::no(tag, "NONEXISTENT", "No such quota root")],
            },
            _ => vec![Response::no(
                tag,
                "NOPERM",
                "Quotas are set by the administrator: postlab user quota NAME SIZE",
            )],
        }
    }
}
