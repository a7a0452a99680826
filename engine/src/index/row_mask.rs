//! A set of rows of one segment as one bit per row, with a count: the rows
//! newer sources override (a collection version keeps one per segment) and
//! a filter's rows for the graph walk.

/// One bit per segment row (here: set when a newer source overrides the
/// row; the graph search also uses it for a filter's rows), with a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowMask {
    words: Vec<u64>,
    ones: usize,
}

impl RowMask {
    /// A mask of `rows` clear bits.
    pub fn new(rows: usize) -> RowMask {
        RowMask {
            words: vec![0; rows.div_ceil(64)],
            ones: 0,
        }
    }

    /// Whether `row`'s bit is set.
    pub fn get(&self, row: usize) -> bool {
        self.words
            .get(row / 64)
            .is_some_and(|w| w & (1 << (row % 64)) != 0)
    }

    /// Sets `row`'s bit (a row past the end is ignored).
    pub fn set(&mut self, row: usize) {
        if let Some(w) = self.words.get_mut(row / 64) {
            let bit = 1 << (row % 64);
            if *w & bit == 0 {
                *w |= bit;
                self.ones += 1;
            }
        }
    }

    /// How many bits are set.
    pub fn ones(&self) -> usize {
        self.ones
    }
}

#[cfg(test)]
mod tests {
    use super::RowMask;

    #[test]
    fn row_mask_sets_and_counts_each_row_once() {
        let mut m = RowMask::new(130);
        assert!(!m.get(0) && !m.get(129) && !m.get(500));
        m.set(0);
        m.set(129);
        m.set(129);
        m.set(500); // out of range: ignored
        assert!(m.get(0) && m.get(129) && !m.get(64));
        assert_eq!(m.ones(), 2);
    }
}
