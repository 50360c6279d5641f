//! SCTP on the wire without an SCTP stack: an INIT packet built by hand (common header +
//! INIT chunk, CRC32c checksum) and the parser the destination's raw socket uses.

/// Length of the SCTP common header.
const COMMON_HEADER: usize = 12;
/// Length of an INIT chunk without optional parameters.
const INIT_CHUNK: usize = 20;
/// Chunk type of INIT (RFC 9260 section 3.2).
const CHUNK_INIT: u8 = 1;

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC32C: [u32; 256] = crc32c_table();

/// CRC32c (Castagnoli, reflected, init and final xor 0xFFFFFFFF), as SCTP uses it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// An SCTP packet holding one INIT chunk from `sport` to `dport`. The verification tag of
/// the common header is 0 (mandatory for INIT); `initiate_tag` (non-zero) identifies the
/// probe. The checksum is stored least significant byte first, as RFC 9260 appendix A and
/// Linux (`sctp_compute_cksum`) do.
pub fn init_packet(sport: u16, dport: u16, initiate_tag: u32) -> [u8; COMMON_HEADER + INIT_CHUNK] {
    let mut p = [0u8; COMMON_HEADER + INIT_CHUNK];
    p[0..2].copy_from_slice(&sport.to_be_bytes());
    p[2..4].copy_from_slice(&dport.to_be_bytes());
    // p[4..8]: verification tag 0; p[8..12]: checksum, filled in last.
    let c = COMMON_HEADER;
    p[c] = CHUNK_INIT;
    p[c + 1] = 0; // flags
    p[c + 2..c + 4].copy_from_slice(&(INIT_CHUNK as u16).to_be_bytes());
    p[c + 4..c + 8].copy_from_slice(&initiate_tag.to_be_bytes());
    p[c + 8..c + 12].copy_from_slice(&65_535u32.to_be_bytes()); // a_rwnd
    p[c + 12..c + 14].copy_from_slice(&1u16.to_be_bytes()); // outbound streams
    p[c + 14..c + 16].copy_from_slice(&1u16.to_be_bytes()); // max inbound streams
    p[c + 16..c + 20].copy_from_slice(&initiate_tag.to_be_bytes()); // initial TSN
    let sum = crc32c(&p);
    p[8..12].copy_from_slice(&sum.to_le_bytes());
    p
}

/// An INIT chunk seen by a destination's raw socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitSeen {
    pub sport: u16,
    pub dport: u16,
    pub initiate_tag: u32,
    /// Whether the CRC32c checksum was correct.
    pub checksum_ok: bool,
}

/// Parses an SCTP packet (starting at the common header); `None` unless its first chunk is
/// an INIT.
pub fn parse_init(p: &[u8]) -> Option<InitSeen> {
    if p.len() < COMMON_HEADER + INIT_CHUNK || p[COMMON_HEADER] != CHUNK_INIT {
        return None;
    }
    let be16 = |i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
    let stored = u32::from_le_bytes([p[8], p[9], p[10], p[11]]);
    let mut zeroed = p.to_vec();
    zeroed[8..12].fill(0);
    Some(InitSeen {
        sport: be16(0),
        dport: be16(2),
        initiate_tag: be32(COMMON_HEADER + 4),
        checksum_ok: crc32c(&zeroed) == stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C (iSCSI): crc("123456789").
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        // RFC 3720 B.4: 32 bytes of 0xff.
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn init_round_trip() {
        let p = init_packet(40_000, 81, 0xdead_beef);
        assert_eq!(&p[0..4], &[0x9c, 0x40, 0x00, 0x51]);
        assert_eq!(&p[4..8], &[0, 0, 0, 0]);
        let seen = parse_init(&p).unwrap();
        assert_eq!(
            seen,
            InitSeen {
                sport: 40_000,
                dport: 81,
                initiate_tag: 0xdead_beef,
                checksum_ok: true
            }
        );
        let mut bad = p;
        bad[20] ^= 1;
        assert!(!parse_init(&bad).unwrap().checksum_ok);
        let mut not_init = p;
        not_init[12] = 2;
        assert_eq!(parse_init(&not_init), None);
        assert_eq!(parse_init(&p[..20]), None);
    }
}
