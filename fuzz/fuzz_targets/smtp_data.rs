//! Any bytes after 354: the DATA reader ends at CRLF.CRLF or reports the connection's end, and
//! never keeps more than the size limit.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let mut reader = std::io::BufReader::with_capacity(7, input);
    if let Ok(data) = postlab::smtp::data::read_data(&mut reader, 4096, None, None) {
        assert!(data.content.len() <= 4096 + 1001);
        if data.error.is_none() {
            assert!(
                !has_bare_cr_or_lf(&data.content),
                "accepted content with a bare CR or LF"
            );
        }
    }
});

/// Is there a CR not followed by LF, or an LF not preceded by CR?
fn has_bare_cr_or_lf(content: &[u8]) -> bool {
    content.iter().enumerate().any(|(i, &b)| {
        (b == b'\n' && (i == 0 || content[i - 1] != b'\r'))
            || (b == b'\r' && content.get(i + 1) != Some(&b'\n'))
    })
}
