// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb's node ids: `rid` plus 32 hex digits derived from a node's value and type.

use std::fmt;

use sha1::{Digest, Sha1};

/// pb's namespace, hashed in front of every value.
const NAMESPACE: &str = "fe971b24-9572-4005-b22f-351e9c09274d";

/// A node's rid, kept as its 16 bytes: their order is the order of the hex text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rid([u8; 16]);

impl Rid {
    /// The text form, `rid` and 32 hex digits, without allocating.
    pub fn text(&self) -> RidText {
        let mut text = [0u8; 35];
        text[..3].copy_from_slice(b"rid");
        hex_into(&self.0, &mut text[3..]);
        RidText(text)
    }
}

/// A rid's text on the stack.
#[derive(Debug, Clone, Copy)]
pub struct RidText([u8; 35]);

impl RidText {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters and hex digits were written.
        std::str::from_utf8(&self.0).unwrap_or("rid")
    }
}

impl fmt::Display for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

/// `'rid' || left(sha1_hex(left(sha1_hex(NS || value), 32) || id_type), 32)`.
pub fn rid(value: &str, id_type: &str) -> Rid {
    rid_of_bytes(value.as_bytes(), id_type)
}

/// [`rid`] of a value given as its UTF-8 bytes.
pub fn rid_of_bytes(value: &[u8], id_type: &str) -> Rid {
    let mut inner = Sha1::new();
    inner.update(NAMESPACE.as_bytes());
    inner.update(value);
    let inner = inner.finalize();
    let mut inner_hex = [0u8; 32];
    hex_into(&inner[..16], &mut inner_hex);
    let mut outer = Sha1::new();
    outer.update(inner_hex);
    outer.update(id_type.as_bytes());
    let outer = outer.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&outer[..16]);
    Rid(bytes)
}

/// The two lower-case hex digits of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [DIGITS[byte >> 4], DIGITS[byte & 0x0f]];
        byte += 1;
    }
    pairs
};

/// Lower-case hex of `bytes` into `out` (twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (byte, digits) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        digits.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_pb() {
        // Edge labels in the oracle's e-commerce edge table: an edge with one node is
        // labelled with that node's rid.
        assert_eq!(
            rid("2e54611a4dba354j", "anonymous_id").to_string(),
            "ridd557f9e4e8abacf073bc9e31a13160f8"
        );
        assert_eq!(
            rid("user1", "user_id").to_string(),
            "rid5e75a85cbf8079c5d8da9ab5598842e1"
        );
    }

    #[test]
    fn byte_order_is_text_order() {
        let mut rids: Vec<Rid> = (0..200).map(|i| rid(&i.to_string(), "t")).collect();
        let mut texts: Vec<String> = rids.iter().map(ToString::to_string).collect();
        rids.sort();
        texts.sort();
        let sorted: Vec<String> = rids.iter().map(ToString::to_string).collect();
        assert_eq!(sorted, texts);
    }
}
