//! The bit transpose of the matrix: per destination the sources its ingress admits
//! becomes per source the destinations admitting it.

use netfence_model::EndpointSet;

/// Transposes an n x n bit matrix given as rows, 64 x 64 blocks at a time.
pub fn transpose(rows: &[EndpointSet], n: usize) -> Vec<EndpointSet> {
    let refs: Vec<&EndpointSet> = rows.iter().collect();
    transpose_rows(&refs, n)
}

/// [`transpose`] of rows that may be shared between several row positions.
pub(super) fn transpose_rows(rows: &[&EndpointSet], n: usize) -> Vec<EndpointSet> {
    let mut out = vec![EndpointSet::empty(n); n];
    let blocks = n.div_ceil(64);
    let mut block = [0u64; 64];
    // Output rows block by block: the 64 rows written stay in cache, and the input rows,
    // often shared between positions, are read one word column at a time.
    for bj in 0..blocks {
        for bi in 0..blocks {
            let mut any = 0u64;
            for (k, slot) in block.iter_mut().enumerate() {
                let r = bi * 64 + k;
                *slot = if r < n { rows[r].words()[bj] } else { 0 };
                any |= *slot;
            }
            // An empty block transposes to an empty block, which `out` already holds.
            if any == 0 {
                continue;
            }
            transpose64(&mut block);
            for (k, word) in block.iter().enumerate() {
                let r = bj * 64 + k;
                if r < n {
                    out[r].words_mut()[bi] = *word;
                }
            }
        }
    }
    out
}

/// In-place transpose of a 64 x 64 bit block, bit j of word i being element (i, j).
pub(super) fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((a[k] >> j) ^ a[k + j]) & m;
            a[k + j] ^= t;
            a[k] ^= t << j;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_the_definition() {
        let n = 150;
        let mut x: u64 = 12345;
        let rows: Vec<EndpointSet> = (0..n)
            .map(|i| {
                let mut row = EndpointSet::empty(n);
                for j in 0..n {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if (x >> 33) % 3 == 1 || i == j {
                        row.insert(j);
                    }
                }
                row
            })
            .collect();
        let t = transpose(&rows, n);
        for (i, row) in rows.iter().enumerate() {
            for (j, col) in t.iter().enumerate() {
                assert_eq!(row.contains(j), col.contains(i), "({i},{j})");
            }
        }
    }
}
