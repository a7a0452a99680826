//! Which rows of one source (a segment, or a memtable's slots) a search
//! may consider: [`RowSet`], the one row-set type the filter index, the
//! planner and search share, and [`RowMask`], the bitset it is built on
//! (a collection version keeps one per segment: the rows newer sources
//! override). A leaf module (it imports nothing from the crate), so both
//! `filter` and `index` build on it; `index` re-exports it.

use std::sync::Arc;

/// A row number: a segment row or a memtable slot.
pub type Row = u32;

/// A set of rows of one source of `total` rows. Every variant knows its
/// exact size, so the planner's choice rests on a count, not a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSet {
    /// Every row.
    All,
    /// Every row but those set in the mask (shared, not copied: a
    /// version's override mask).
    Except(Arc<RowMask>),
    /// Exactly these rows, ascending, without duplicates.
    Rows(Vec<Row>),
}

impl RowSet {
    /// The set of `rows` (in any order, duplicates allowed).
    pub fn of(mut rows: Vec<Row>) -> RowSet {
        rows.sort_unstable();
        rows.dedup();
        RowSet::Rows(rows)
    }

    /// Whether `row` is in the set. `All` and `Except` do not know the
    /// source's size: bound rows by it first (as `iter`, `intersect` and
    /// `admits` do).
    pub fn contains(&self, row: Row) -> bool {
        match self {
            RowSet::All => true,
            RowSet::Except(mask) => !mask.get(row as usize),
            RowSet::Rows(rows) => rows.binary_search(&row).is_ok(),
        }
    }

    /// How many of a source's `total` rows are in the set (an `Except`
    /// mask is sized to the source, as a version's masks are).
    pub fn len(&self, total: usize) -> usize {
        match self {
            RowSet::All => total,
            RowSet::Except(mask) => total.saturating_sub(mask.ones()),
            RowSet::Rows(rows) => rows.iter().take_while(|&&r| (r as usize) < total).count(),
        }
    }

    /// Whether none of a source's `total` rows is in the set.
    pub fn is_empty(&self, total: usize) -> bool {
        self.len(total) == 0
    }

    /// The rows in the set among a source's `total` rows, ascending.
    pub fn iter(&self, total: usize) -> Box<dyn Iterator<Item = Row> + '_> {
        let n = u32::try_from(total).unwrap_or(u32::MAX);
        match self {
            RowSet::All => Box::new(0..n),
            RowSet::Except(mask) => Box::new((0..n).filter(move |&r| !mask.get(r as usize))),
            RowSet::Rows(rows) => Box::new(rows.iter().copied().take_while(move |&r| r < n)),
        }
    }

    /// The rows in both sets (of a source of `total` rows).
    pub fn intersect(&self, other: &RowSet, total: usize) -> RowSet {
        match (self, other) {
            (RowSet::All, o) | (o, RowSet::All) => o.clone(),
            (RowSet::Rows(rows), o) | (o, RowSet::Rows(rows)) => RowSet::Rows(
                rows.iter()
                    .copied()
                    .filter(|&r| (r as usize) < total && o.contains(r))
                    .collect(),
            ),
            (a, b) => RowSet::Rows(a.iter(total).filter(|&r| b.contains(r)).collect()),
        }
    }

    /// The set as a filter over rows, for a graph walk: `None` for every
    /// row, else a bitset or the shared mask it excludes.
    pub(crate) fn admits(&self, total: usize) -> Admits<'_> {
        match self {
            RowSet::All => Admits::All,
            RowSet::Except(mask) => Admits::Except(mask),
            RowSet::Rows(rows) => {
                let mut bits = RowMask::new(total);
                rows.iter().for_each(|&r| bits.set(r as usize));
                Admits::Only(bits)
            }
        }
    }
}

/// [`RowSet::admits`]: a membership test costing one bit lookup.
pub(crate) enum Admits<'a> {
    All,
    Except(&'a RowMask),
    Only(RowMask),
}

impl Admits<'_> {
    /// Whether `row` is admitted.
    pub(crate) fn get(&self, row: Row) -> bool {
        match self {
            Admits::All => true,
            Admits::Except(m) => !m.get(row as usize),
            Admits::Only(m) => m.get(row as usize),
        }
    }
}

/// One bit per row, with a count: set where a newer source overrides a
/// segment row, or (inside [`RowSet::admits`]) where a filter admits it.
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
    use super::*;

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

    #[test]
    fn row_sets_agree_on_membership_size_and_order() {
        let mut mask = RowMask::new(10);
        mask.set(2);
        mask.set(7);
        let sets = [
            RowSet::All,
            RowSet::Except(Arc::new(mask)),
            RowSet::of(vec![9, 2, 4, 4, 12]),
        ];
        let want: [Vec<Row>; 3] = [
            (0..10).collect(),
            vec![0, 1, 3, 4, 5, 6, 8, 9],
            vec![2, 4, 9],
        ];
        for (s, want) in sets.iter().zip(&want) {
            assert_eq!(s.iter(10).collect::<Vec<_>>(), *want);
            assert_eq!(s.len(10), want.len());
            for r in 0..10 {
                assert_eq!(s.contains(r), want.contains(&r), "{s:?} {r}");
                assert_eq!(s.admits(10).get(r), want.contains(&r), "{s:?} {r}");
            }
        }
        assert_eq!(sets[1].intersect(&sets[2], 10), RowSet::Rows(vec![4, 9]));
        assert_eq!(sets[0].intersect(&sets[1], 10), sets[1]);
        assert!(RowSet::Rows(vec![]).is_empty(10));
    }
}
