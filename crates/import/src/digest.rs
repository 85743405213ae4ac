//! Field digests: how a re-import tells which fields changed upstream since the last import
//! without keeping the values themselves (a password hash among them). Each field is 8 bytes of
//! SHA-256 over its value, in a fixed order per kind of row, hex-encoded and prefixed with the
//! encoding's version.

use aws_lc_rs::digest::{digest, SHA256};

const VERSION: &str = "v1:";
const HEX_PER_FIELD: usize = 16;

/// The digests of a row's fields, in the order its kind lists them.
pub fn encode(fields: &[&[u8]]) -> String {
    let mut out = String::with_capacity(VERSION.len() + fields.len() * HEX_PER_FIELD);
    out.push_str(VERSION);
    for f in fields {
        out.push_str(&hex::encode(
            &digest(&SHA256, f).as_ref()[..HEX_PER_FIELD / 2],
        ));
    }
    out
}

/// Which fields differ between two encodings of the same kind; every field when `old` is in
/// another version or shape (the safe answer: write them all).
pub fn changed(old: &str, new: &str, fields: usize) -> Vec<bool> {
    let (Some(old), Some(new)) = (old.strip_prefix(VERSION), new.strip_prefix(VERSION)) else {
        return vec![true; fields];
    };
    if old.len() != fields * HEX_PER_FIELD || new.len() != fields * HEX_PER_FIELD {
        return vec![true; fields];
    }
    (0..fields)
        .map(|i| {
            let at = i * HEX_PER_FIELD..(i + 1) * HEX_PER_FIELD;
            old.get(at.clone()) != new.get(at)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_which_fields_changed() {
        let a = encode(&[b"alice", b"a@x.org", b"hash1"]);
        let b = encode(&[b"alice", b"a@y.org", b"hash1"]);
        assert_eq!(changed(&a, &a, 3), vec![false, false, false]);
        assert_eq!(changed(&a, &b, 3), vec![false, true, false]);
        assert_eq!(changed("v0:abc", &b, 3), vec![true, true, true]);
        assert_eq!(changed(&a[..20], &b, 3), vec![true, true, true]);
    }
}
