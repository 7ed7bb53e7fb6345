//! Composing a message the way a mail program does, with the `mail-builder` crate.
//!
//! What the builder takes care of, so a student can see the rules applied in the output:
//! - a UTF-8 subject becomes an RFC 2047 encoded word (`=?utf-8?…?=`), because header fields
//!   must be ASCII;
//! - a UTF-8 body gets `Content-Type: text/plain; charset="utf-8"` and a transfer encoding
//!   (RFC 2045);
//! - attachments make the message `multipart/mixed`, each file in base64 (RFC 2046 §5.1.3);
//! - `Date:` and `Message-ID:` are set (RFC 5322 §3.6).

use mail_builder::headers::address::Address;
use mail_builder::MessageBuilder;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body: String,
    /// (file name, content type, bytes)
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// Builds the message text (CRLF line ends), with a fresh Message-ID under `domain`.
pub fn compose(draft: &Draft) -> std::io::Result<Vec<u8>> {
    let id = crate::ids::QueueId::new();
    let domain = draft
        .from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    fn list(addresses: &[String]) -> Address<'_> {
        Address::new_list(
            addresses
                .iter()
                .map(|a| Address::from(a.as_str()))
                .collect(),
        )
    }
    let mut builder = MessageBuilder::new()
        .from(draft.from.as_str())
        .to(list(&draft.to))
        .subject(draft.subject.as_str())
        .message_id(format!("{id}.postlab-send@{domain}"))
        .date(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
        .header(
            "User-Agent",
            mail_builder::headers::raw::Raw::new("postlab send"),
        )
        .text_body(draft.body.as_str());
    if !draft.cc.is_empty() {
        builder = builder.cc(list(&draft.cc));
    }
    for (name, content_type, bytes) in &draft.attachments {
        builder = builder.attachment(content_type.as_str(), name.as_str(), bytes.as_slice());
    }
    builder.write_to_vec()
}

/// A content type for a file name, for the common cases a class will attach.
pub fn content_type_for(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let extension = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match extension {
        "txt" | "md" => "text/plain",
        "html" | "htm" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_subjects_are_encoded_and_attachments_make_multipart() {
        let draft = Draft {
            from: "alice@localhost".into(),
            to: vec!["bob@localhost".into(), "carol@localhost".into()],
            subject: "Selamat pagi ☀".into(),
            body: "Halo Bob, apa kabar?\n".into(),
            attachments: vec![("notes.txt".into(), "text/plain".into(), b"hello".to_vec())],
            ..Draft::default()
        };
        let text = String::from_utf8(compose(&draft).unwrap()).unwrap();
        assert!(text.contains("Subject: =?utf-8?"), "{text}");
        assert!(text.contains("multipart/mixed"), "{text}");
        assert!(text.contains("notes.txt"), "{text}");
        assert!(
            text.contains("Message-ID: <") && text.contains("@localhost>"),
            "{text}"
        );
        assert!(text.contains("Date: "), "{text}");
        assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
        assert_eq!(content_type_for("photo.JPG"), "image/jpeg");
    }
}
