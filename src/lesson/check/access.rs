//! The checks of lessons 1–4, one server in `var`: a conversation typed by hand, where mail
//! lives, reading it over POP3 and over IMAP.

use super::{item, Item, Mail, Work};

pub(super) fn items(number: usize, work: &Work) -> Option<Vec<Item>> {
    let var = work.a();
    let said = &var.said;
    let bob = var.mail("bob");
    let items = match number {
        1 => vec![
            item(
                "step 3: a message with Subject: my first message in bob's mailbox",
                bob.any(|text| text.contains("Subject: my first message")),
            ),
            item(
                "step 2: a recipient refused on purpose (550 for nobody@localhost)",
                said.smtp.contains("S: 550 5.1.1 <nobody@localhost>"),
            ),
            item(
                "mistakes on purpose: MAIL before HELO (503) and a MAIL FROM without <> (501)",
                said.smtp.contains("S: 503 5.5.1") && said.smtp.contains("S: 501 5.5.4"),
            ),
        ],
        2 => vec![
            item(
                "step 1: a message with Subject: where do you live? in bob's mailbox",
                bob.any(|text| text.contains("Subject: where do you live?")),
            ),
            item(
                "step 4: read over IMAP and marked \\Seen and \\Flagged (a file in cur/ ending :2,FS)",
                bob.flagged_in_cur("FS"),
            ),
            item(
                "step 5: a message for another domain went into the queue",
                var.queued() || said.smtp.contains("C: RCPT TO:<someone@b.test>"),
            ),
        ],
        3 => vec![
            item("step 2: logged in by POP3 as bob", said.pop3.contains("C: USER bob")),
            item("step 2: read a message with RETR", said.pop3.contains("C: RETR 1")),
            item(
                "step 3: deleted with DELE and ended with QUIT: bob's mailbox is empty again",
                said.pop3.contains("C: DELE 1") && said.pop3.contains("C: QUIT") && bob.count() == 0,
            ),
        ],
        4 => {
            let work_folder = Mail::read(&var.path.join("mail/bob/.Work"));
            vec![
                item("step 3: folder Work with one message", work_folder.count() == 1),
                item(
                    "step 3: the copy in Work kept its \\Flagged flag",
                    work_folder.flagged_in_cur("F"),
                ),
                item(
                    "step 4: a failed login on purpose ([AUTHENTICATIONFAILED])",
                    said.imap.contains("AUTHENTICATIONFAILED"),
                ),
                item("step 5: an IDLE session", said.imap.contains("S: + idling")),
            ]
        }
        _ => return None,
    };
    Some(items)
}
