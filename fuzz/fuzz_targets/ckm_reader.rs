//! The CKM reader on arbitrary bytes: it may refuse them, never panic, hang
//! or allocate what the file merely claims.
//!
//! Byte 0 picks the mode. Odd: the rest is the file as is. Even: the last
//! four bytes are replaced by the right CRC-32, so mutations get past the
//! checksum into the header and body validation. A file that decodes must
//! re-encode to a file that decodes to the same bytes.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sdusc_formats::ckm_file::Ckm;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode % 2 == 0 && bytes.len() >= 4 {
        let n = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }
    if let Ok(ckm) = Ckm::from_bytes(&bytes, Path::new("fuzz.ckm")) {
        let encoded = ckm.to_bytes();
        let again = Ckm::from_bytes(&encoded, Path::new("re-encoded.ckm"))
            .expect("a decoded map re-encodes to a valid file");
        assert_eq!(again.to_bytes(), encoded);
    }
});
