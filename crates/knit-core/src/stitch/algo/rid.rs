// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb's node ids: `rid` plus 32 hex digits derived from a node's value and type.

use std::fmt;

use sha1::Sha1Core;
use sha1::digest::core_api::Block;

/// pb's namespace, hashed in front of every value.
const NAMESPACE: &str = "fe971b24-9572-4005-b22f-351e9c09274d";

/// A node's rid, kept as its 16 bytes: their order is the order of the hex text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Rid([u8; 16]);

impl Rid {
    /// The text form, `rid` and 32 hex digits, without allocating.
    pub(crate) fn text(&self) -> RidText {
        let mut text = [0u8; 35];
        text[..3].copy_from_slice(b"rid");
        hex_into(&self.0, &mut text[3..]);
        RidText(text)
    }
}

/// A rid's text on the stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RidText([u8; 35]);

impl RidText {
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
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
#[cfg(test)]
pub(crate) fn rid(value: &str, id_type: &str) -> Rid {
    rid_of_bytes(value.as_bytes(), id_type)
}

/// [`rid`] of a value given as its UTF-8 bytes.
pub(crate) fn rid_of_bytes(value: &[u8], id_type: &str) -> Rid {
    let inner = sha1_prefix(&[NAMESPACE.as_bytes(), value]);
    let mut inner_hex = [0u8; 32];
    hex_into(&inner, &mut inner_hex);
    Rid(sha1_prefix(&[&inner_hex, id_type.as_bytes()]))
}

/// SHA-1's initial state.
const SHA1_INIT: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// How many 64-byte blocks [`sha1_prefix`] hands to the compression function at once:
/// a namespaced UUID with its padding is two.
const BATCH_BLOCKS: usize = 2;

/// The first 16 bytes of the SHA-1 of the concatenation of `parts`. It calls SHA-1's
/// compression function directly with the padding written here: the `Digest`
/// wrapper's buffering and finalization cost a third as much again as the hashing of
/// a short id.
fn sha1_prefix(parts: &[&[u8]]) -> [u8; 16] {
    let mut state = SHA1_INIT;
    let mut blocks: [Block<Sha1Core>; BATCH_BLOCKS] = Default::default();
    let mut filled = 0;
    let mut total = 0u64;
    for part in parts {
        total += part.len() as u64;
        let mut rest = *part;
        while !rest.is_empty() {
            let (block, at) = (filled / 64, filled % 64);
            let take = rest.len().min(64 - at);
            blocks[block][at..at + take].copy_from_slice(&rest[..take]);
            (filled, rest) = (filled + take, &rest[take..]);
            if filled == 64 * BATCH_BLOCKS {
                sha1::compress(&mut state, &blocks);
                filled = 0;
            }
        }
    }
    // Padding: 0x80, zeros, and the message length in bits, big-endian, in the last
    // eight bytes of a block.
    let (block, at) = (filled / 64, filled % 64);
    blocks[block][at] = 0x80;
    blocks[block][at + 1..].fill(0);
    let mut last = block;
    if at + 1 > 56 {
        last += 1;
        if last == BATCH_BLOCKS {
            sha1::compress(&mut state, &blocks);
            last = 0;
        }
        blocks[last].fill(0);
    }
    blocks[last][56..].copy_from_slice(&(total * 8).to_be_bytes());
    sha1::compress(&mut state, &blocks[..=last]);
    let mut prefix = [0u8; 16];
    for (bytes, word) in prefix.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    prefix
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
    fn sha1_matches_the_reference_at_every_length() {
        use sha1::{Digest, Sha1};
        // Lengths around every padding boundary: 55/56 and 119/120 bytes of message.
        let text: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
        for len in 0..text.len() {
            for split in [0, len / 3, len] {
                let (head, tail) = text[..len].split_at(split);
                let expected = Sha1::new().chain_update(head).chain_update(tail).finalize();
                assert_eq!(
                    sha1_prefix(&[head, tail])[..],
                    expected[..16],
                    "length {len}"
                );
            }
        }
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
