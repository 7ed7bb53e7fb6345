//! Taking responsibility for a message: the moment before "250 Ok".
//!
//! A message may have local recipients (step 6: their Maildirs) and remote ones (the queue,
//! for steps 4 and 5). Both kinds are written and synced before either is made visible, so the
//! reply is all-or-nothing: 250 when every copy is safe, 451/452 with nothing kept otherwise.
//!
//! ```text
//! stage local copies (tmp/, fsync) ─► stage queue files (fsync) ─► commit queue ─► commit local ─► 250
//!          │ fails                          │ fails
//!          ▼                                ▼
//!       451/452                    abort local copies, 451/452
//! ```

use std::path::PathBuf;

use super::message::Message;
use super::queue::{Entry, Queue};
use crate::address::Address;
use crate::context::Shared;
use crate::mailauth;
use crate::mda::{self, Failure};
use crate::transcript::Step;

/// What became of the message.
#[derive(Debug)]
pub enum Outcome {
    /// Safe on disk: delivered to these mailboxes, queued for these remote recipients; what
    /// SPF, DKIM and DMARC found, or that it was signed (`notes`, for the transcript).
    Accepted {
        delivered: Vec<(String, PathBuf)>,
        queued: Vec<Address>,
        notes: Vec<(Step, String)>,
    },
    /// Refused for good: DMARC failed and the sender's domain asks for p=reject
    /// (`dmarc_policy = enforce`). Nothing was kept.
    Refused(Vec<(Step, String)>),
    /// Not kept; the client should try again later.
    Transient(Failure),
}

/// Delivers the local copies and queues the remote ones, as one step.
pub fn accept(shared: &Shared, message: &Message) -> Outcome {
    // Signed if it is ours, checked (SPF, DKIM, DMARC) if another server sent it.
    let mailauth::Examined { message, notes } = mailauth::examine(shared, message);
    let Some(message) = message else {
        return Outcome::Refused(notes);
    };
    if let Err(failure) =
        mda::check_quotas(&shared.data.mail(), &shared.accounts.current(), &message)
    {
        return Outcome::Transient(failure);
    }
    match store(
        &shared.data.mail(),
        &shared.queue,
        &shared.config.hostname,
        &message,
        || shared.wake_queue(),
    ) {
        Outcome::Accepted {
            delivered, queued, ..
        } => Outcome::Accepted {
            delivered,
            queued,
            notes,
        },
        other => other,
    }
}

/// The same, with its parts given separately (bounces use it without a running server).
pub fn store(
    mail_root: &std::path::Path,
    queue: &Queue,
    hostname: &str,
    message: &Message,
    wake: impl FnOnce(),
) -> Outcome {
    let remote: Vec<Address> = message.envelope.remote_addresses();
    let local = if message.envelope.local_accounts().is_empty() {
        Vec::new()
    } else {
        match mda::stage(mail_root, hostname, message) {
            Ok(staged) => staged,
            Err(failure) => return Outcome::Transient(failure),
        }
    };
    if !remote.is_empty() {
        let entry = Entry::new(
            message.envelope.id.clone(),
            message.envelope.from.clone(),
            remote.clone(),
        );
        let staged = queue
            .stage(&entry, &[message.received.as_bytes(), &message.content])
            .and_then(|s| s.commit());
        if let Err(e) = staged {
            mda::abort(local);
            let text = format!("queue: {e}");
            return Outcome::Transient(match e.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                    Failure::StorageFull(text)
                }
                _ => Failure::Io(text),
            });
        }
        wake();
    }
    match mda::commit(local) {
        Ok(delivered) => Outcome::Accepted {
            delivered,
            queued: remote,
            notes: Vec::new(),
        },
        Err(failure) => Outcome::Transient(failure),
    }
}
