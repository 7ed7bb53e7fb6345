//! Folder names (`postlab::mailbox::folder`, `postlab::imap::utf8`): the check a client's name
//! goes through before it touches the disk, and the translation between modified UTF-7 (RFC
//! 3501 §5.1.3, how names are stored) and the UTF-8 a UTF8=ACCEPT client speaks (RFC 6855).
//! Nothing panics, and every UTF-8 name comes back from its stored form unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postlab::imap::utf8::encode_mutf7;
use postlab::mailbox::folder::{check_name, decode_mutf7};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let _ = check_name(&text);
    if let Some(decoded) = decode_mutf7(&text) {
        assert_eq!(decode_mutf7(&encode_mutf7(&decoded)).as_ref(), Some(&decoded));
    }
    let stored = encode_mutf7(&text);
    assert!(stored.bytes().all(|b| (0x20..0x7f).contains(&b)), "{stored:?}");
    assert_eq!(decode_mutf7(&stored).as_deref(), Some(text.as_ref()), "{stored:?}");
    let _ = check_name(&stored);
});
