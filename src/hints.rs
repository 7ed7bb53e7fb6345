//! The student hints: one catalogue, every hint in English and in Bahasa Indonesia side by side.
//!
//! An error reply may end with a hint for the person typing at the server (`hints` in
//! postlab.conf): what to type instead, or why the server said no.
//!
//! ```text
//! hints = en   500 5.5.1 Command unrecognized (hint: type HELP for the list of commands)
//! hints = id   500 5.5.1 Command unrecognized (petunjuk: ketik HELP untuk melihat daftar perintah)
//! hints = no   500 5.5.1 Command unrecognized
//! ```
//!
//! Only the hint is translated: the reply code and its text are the protocol's (RFC 5321 §4.2,
//! RFC 1939 §3, RFC 3501 §7), and clients or peers read only those. A hint is a [`Hint`], never
//! a string, so a reply cannot carry a hint that exists in one language only: the catalogue
//! below takes exactly two texts for each name, and `.hint(…)` in the reply catalogues of
//! `smtp`, `pop3` and `imap` takes only a `Hint`. Free text does not compile:
//!
//! ```compile_fail
//! use postlab::imap::response::Response;
//! Response::bad("a1", "Unknown command").hint("a hint in one language only");
//! ```
//!
//! while a name from the catalogue does:
//!
//! ```
//! use postlab::imap::response::Response;
//! Response::bad("a1", "Unknown command").hint(postlab::hints::Hint::ImapCapability);
//! ```
//!
//! Indonesian style (the glossary of `lessons/id/README.md`): formal "Anda"; kotak surat,
//! pengguna, kata sandi, klien, antrean, perintah, balasan; protocol words (`MAIL FROM`,
//! `RCPT TO`, `STARTTLS`, `EHLO`, …) stay as the RFC spells them; no Indonesian affix on an
//! English word.

/// The `hints` setting: whether error replies carry a hint, and in which language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hints {
    Off,
    English,
    Indonesian,
}

impl Hints {
    /// `yes | no | en | id` (and the other yes/no words postlab.conf accepts). `yes` is
    /// English, as it was before there was a choice, so old files keep working.
    pub fn parse(value: &str) -> Option<Hints> {
        match value.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "en" => Some(Hints::English),
            "no" | "false" | "off" => Some(Hints::Off),
            "id" => Some(Hints::Indonesian),
            _ => None,
        }
    }
}

/// The words that open a hint on the wire, per language; a bounce strips what follows them.
const MARKERS: [&str; 2] = [" (hint: ", " (petunjuk: "];

/// Declares [`Hint`] from a table of `Name => "English", "Indonesian";` rows, so adding a
/// hint without both texts does not compile.
macro_rules! catalogue {
    ($( $(#[$doc:meta])* $name:ident => $en:literal, $id:literal; )*) => {
        /// One student hint of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Hint { $( $(#[$doc])* $name, )* }

        impl Hint {
            /// Every hint, in the order of the catalogue.
            pub const ALL: &'static [Hint] = &[ $( Hint::$name, )* ];

            /// The hint's text in English and in Bahasa Indonesia.
            pub fn texts(self) -> (&'static str, &'static str) {
                match self { $( Hint::$name => ($en, $id), )* }
            }
        }
    };
}

catalogue! {
    // ---- SMTP: the dialogue (src/smtp/reply/errors.rs, dialogue.rs) ----
    TypeHelp => "type HELP for the list of commands",
        "ketik HELP untuk melihat daftar perintah";
    /// A command line ended in LF alone (RFC 5321 §2.3.8).
    BareLfInCommand => "your client sent a bare LF; nc sends bare LF unless started as nc -C, telnet sends CRLF",
        "klien Anda mengirim LF tanpa CR; nc mengirim LF tanpa CR kecuali dijalankan sebagai nc -C, sedangkan telnet mengirim CRLF";
    /// A message line ended in LF alone (SMTP smuggling, refused).
    BareLfInData => "netcat sends bare LF unless started as nc -C",
        "netcat (nc) mengirim LF tanpa CR kecuali dijalankan sebagai nc -C";
    EhloListsExtensions => "EHLO lists the extensions this server supports",
        "balasan EHLO mencantumkan ekstensi yang didukung server ini";
    EhloThenAuth => "EHLO your-name, then AUTH",
        "kirim EHLO nama-anda, lalu AUTH";
    OneAuth => "one AUTH per session",
        "hanya satu AUTH dalam satu sesi";
    RsetFirst => "RSET first",
        "kirim RSET terlebih dahulu";
    MailRcptData => "MAIL FROM, then RCPT TO, then DATA",
        "urutannya MAIL FROM, lalu RCPT TO, lalu DATA";
    IntroduceYourself => "introduce yourself: EHLO your-name",
        "perkenalkan diri Anda dahulu: EHLO nama-anda";
    RsetAbandons => "RSET abandons it",
        "RSET membatalkan pesan tersebut";
    MailBeforeRcpt => "MAIL FROM:<you@example.org> comes before RCPT TO",
        "MAIL FROM:<anda@example.org> harus dikirim sebelum RCPT TO";
    MailFromBrackets => "MAIL FROM:<sender@domain>, with the angle brackets",
        "MAIL FROM:<pengirim@domain>, lengkap dengan kurung sudut";
    RcptToBrackets => "RCPT TO:<recipient@domain>, with the angle brackets",
        "RCPT TO:<penerima@domain>, lengkap dengan kurung sudut";
    Smtputf8 => "MAIL FROM:<you@example.org> SMTPUTF8",
        "tambahkan parameter SMTPUTF8: MAIL FROM:<anda@example.org> SMTPUTF8";
    VrfyVague => "VRFY is answered vaguely on purpose: spammers used it to harvest addresses",
        "VRFY sengaja dijawab samar: dahulu pengirim spam memakainya untuk mengumpulkan alamat";
    ExpnOff => "mailing-list members are private; servers turn EXPN off",
        "anggota milis bersifat pribadi; server umumnya menonaktifkan EXPN";
    HelpAlone => "HELP alone lists the commands",
        "HELP tanpa argumen menampilkan daftar perintah";

    // ---- SMTP: refusals and limits (src/smtp/reply/refusals.rs, errors.rs) ----
    UserList => "postlab user list shows the accounts",
        "perintah postlab user list menampilkan akun yang ada";
    OwnDomainsOnly => "this server only accepts mail for its own domains from you",
        "dari Anda, server ini hanya menerima surat untuk domainnya sendiri";
    RelayToOnly => "relay_to in postlab.conf lists the domains it sends to",
        "relay_to di postlab.conf memuat daftar domain tujuan yang dilayani server ini";
    AliasLoop => "the aliases file points these names at each other",
        "berkas aliases membuat nama-nama ini saling menunjuk";
    FixAliases => "the administrator must fix the aliases file (postlab check)",
        "administrator harus memperbaiki berkas aliases (postlab check)";
    SendAgainToRest => "send the message, then send it again to the remaining recipients",
        "kirim pesan ini, lalu kirim sekali lagi kepada penerima yang tersisa";
    RcptBeforeData => "at least one RCPT TO must get a 250 before DATA",
        "sebelum DATA, sedikitnya satu RCPT TO harus mendapat balasan 250";
    QuotaTooSmall => "the message is bigger than the recipient's whole quota",
        "pesan ini lebih besar daripada seluruh kuota kotak surat penerima";
    MaxDataMemory => "max_data_memory in postlab.conf bounds what all sessions may hold at once",
        "max_data_memory di postlab.conf membatasi data yang boleh ditampung semua sesi sekaligus";
    DmarcReject => "SPF and DKIM both failed for the From: domain, and its _dmarc record says p=reject",
        "SPF dan DKIM sama-sama gagal untuk domain From:, dan data _dmarc domain itu berisi p=reject";
    InjectedFault => "this failure was injected on purpose; `postlab fault list` shows the rules",
        "kegagalan ini sengaja dibuat; `postlab fault list` menampilkan aturannya";

    // ---- SMTP: logins and TLS (src/smtp/reply/security.rs) ----
    AuthPlainBase64 => "PLAIN wants base64 of NUL user NUL password: printf '\\0bob\\0pw' | base64",
        "PLAIN meminta base64 dari NUL pengguna NUL kata-sandi: printf '\\0bob\\0pw' | base64";
    EhloListsAuth => "EHLO lists AUTH PLAIN LOGIN",
        "balasan EHLO mencantumkan AUTH PLAIN LOGIN";
    NoClearPasswords => "passwords are not accepted in the clear over the network",
        "kata sandi tidak diterima tanpa enkripsi melalui jaringan";
    AlreadyEncrypted => "the connection is already encrypted: EHLO, then go on",
        "koneksi sudah terenkripsi: kirim EHLO, lalu lanjutkan";
    NoCertificate => "this server has no certificate set up",
        "server ini belum memiliki sertifikat";
    SubmissionNeedsAuth => "the submission port needs AUTH before MAIL",
        "port submission memerlukan AUTH sebelum MAIL";
    SendAsYourself => "send as your own address, or one of your aliases",
        "kirim dengan alamat Anda sendiri atau salah satu alias Anda";
    /// Plain text on a port that speaks TLS from its first octet (RFC 8314 §3.3): every protocol.
    TlsClientNeeded => "nc and telnet speak plain text; openssl s_client -connect HOST:PORT speaks TLS",
        "nc dan telnet hanya mengirim teks biasa; untuk TLS gunakan openssl s_client -connect HOST:PORT";

    // ---- POP3 (src/pop3/response.rs) ----
    UserThenPass => "USER your-name, then PASS your-password",
        "kirim USER nama-anda, lalu PASS kata-sandi-anda";
    LoginFromServer => "from this address passwords would travel readable; log in from the server itself",
        "dari alamat ini kata sandi akan terkirim tanpa enkripsi; masuklah dari mesin server itu sendiri";
    CapaAuthPlain => "CAPA lists what is offered: AUTH PLAIN",
        "CAPA menampilkan apa yang ditawarkan: AUTH PLAIN";
    SaslPlainBase64 => "base64 of: NUL name NUL password",
        "base64 dari: NUL nama NUL kata-sandi";
    ApopNeedsPlain => "APOP needs passwords stored {PLAIN}; use USER and PASS",
        "APOP memerlukan kata sandi yang disimpan sebagai {PLAIN}; gunakan USER dan PASS";
    CloseOtherSession => "close the other session (QUIT) and try again",
        "tutup sesi yang lain (QUIT), lalu coba lagi";
    MessageNumbers => "STAT or LIST shows the message numbers, from 1",
        "STAT atau LIST menampilkan nomor pesan, mulai dari 1";
    RsetUndeletes => "RSET undeletes every message",
        "RSET membatalkan penghapusan semua pesan";
    CapaLists => "CAPA lists what this server offers",
        "CAPA menampilkan apa saja yang ditawarkan server ini";
    BeforeLogin => "this command belongs before login",
        "perintah ini hanya dipakai sebelum Anda masuk";

    // ---- IMAP (src/imap/response.rs, session.rs) ----
    ImapCapability => "CAPABILITY lists what this server offers",
        "CAPABILITY menampilkan apa saja yang ditawarkan server ini";
    ImapPrivacy => "log in from this machine, or send STARTTLS first",
        "masuklah dari mesin ini, atau kirim STARTTLS terlebih dahulu";
}

impl Hint {
    /// What follows a reply's text on the wire: ` (hint: …)`, ` (petunjuk: …)`, or nothing.
    pub fn suffix(self, hints: Hints) -> Option<String> {
        let (en, id) = self.texts();
        match hints {
            Hints::Off => None,
            Hints::English => Some(format!("{}{en})", MARKERS[0])),
            Hints::Indonesian => Some(format!("{}{id})", MARKERS[1])),
        }
    }
}

/// A reply without the hint a postlab server added to its own words, in either language:
/// that hint is for the person typing at that server, not for a sender reading a bounce.
pub fn without_hint(reply: &str) -> &str {
    let at = MARKERS.iter().filter_map(|m| reply.rfind(m)).max();
    match at {
        Some(at) if reply.ends_with(')') => &reply[..at],
        _ => reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every hint has two texts, different from each other and from every other hint's.
    #[test]
    fn every_hint_is_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for hint in Hint::ALL {
            let (en, id) = hint.texts();
            assert!(!en.trim().is_empty() && !id.trim().is_empty(), "{hint:?}");
            assert_ne!(en, id, "{hint:?}: the Indonesian text is the English one");
            assert!(seen.insert(en) && seen.insert(id), "{hint:?}: said twice");
            assert!(
                !en.contains('\n') && !id.contains('\n'),
                "{hint:?}: one line"
            );
        }
    }

    /// The glossary of `lessons/id/README.md`: formal "Anda", Indonesian words where the
    /// protocol does not fix an English one, and no Indonesian affix glued to an English word.
    #[test]
    fn the_indonesian_texts_follow_the_glossary() {
        let english_words = [
            "mailbox", "password", "client", "queue", "reply", "user", "command", "the", "kamu",
        ];
        for hint in Hint::ALL {
            let (_, id) = hint.texts();
            // A command typed as is keeps its words.
            let prose = id.replace("postlab user list", "");
            for word in prose.split(|c: char| !c.is_alphanumeric() && c != '-' && c != '_') {
                // Protocol words are upper case (`USER`, `PASS`): they stay.
                let lower = word.to_lowercase();
                assert!(
                    !english_words.contains(&word) && !english_words.contains(&lower.as_str())
                        || word.chars().all(|c| !c.is_lowercase()),
                    "{hint:?}: '{word}' in {id}"
                );
                assert!(
                    !(lower.ends_with("-nya")
                        || lower.starts_with("di-")
                        || lower.starts_with("me-")),
                    "{hint:?}: an affix on an English word: '{word}'"
                );
            }
        }
    }

    #[test]
    fn the_setting_reads_old_and_new_words() {
        assert_eq!(Hints::parse("yes"), Some(Hints::English));
        assert_eq!(Hints::parse("en"), Some(Hints::English));
        assert_eq!(Hints::parse("ID"), Some(Hints::Indonesian));
        assert_eq!(Hints::parse("no"), Some(Hints::Off));
        assert_eq!(Hints::parse("fr"), None);
    }

    #[test]
    fn the_bare_lf_hints_say_what_nc_does_in_both_languages() {
        for hint in [Hint::BareLfInCommand, Hint::BareLfInData] {
            let (en, id) = hint.texts();
            assert!(en.contains("sends bare LF unless started as nc -C"), "{en}");
            assert!(
                id.contains("mengirim LF tanpa CR kecuali dijalankan sebagai nc -C"),
                "{id}"
            );
        }
    }

    #[test]
    fn a_hint_is_rendered_in_the_language_asked_and_stripped_in_either() {
        let en = Hint::TypeHelp.suffix(Hints::English).unwrap();
        let id = Hint::TypeHelp.suffix(Hints::Indonesian).unwrap();
        assert_eq!(en, " (hint: type HELP for the list of commands)");
        assert_eq!(id, " (petunjuk: ketik HELP untuk melihat daftar perintah)");
        assert_eq!(Hint::TypeHelp.suffix(Hints::Off), None);
        for suffix in [en, id] {
            assert_eq!(
                without_hint(&format!("550 5.1.1 no{suffix}")),
                "550 5.1.1 no"
            );
        }
        assert_eq!(without_hint("550 5.1.1 no (sir)"), "550 5.1.1 no (sir)");
    }
}
