//! An inverted metadata index over one immutable set of rows (a segment):
//! it turns a [`Where`] into the rows that can match without evaluating the
//! filter on every record.
//!
//! Layout, per metadata key:
//! * scalar values: `string -> rows`, `bool -> rows`, and one ordered
//!   `BTreeMap<NumKey, rows>` for ints and floats together (ordered by value,
//!   so `$eq`/`$in` are lookups and `$gt`/`$gte`/`$lt`/`$lte` are range scans);
//! * array values, one entry per element, in the same three maps kept apart
//!   from the scalars (`$contains` is membership, and a scalar `$eq` must not
//!   see array elements).
//!
//! Every row list is sorted ascending without duplicates. Rows are the
//! caller's `u32` positions; the index also keeps the full row set, so a
//! negative operator (`$ne`, `$nin`, `$not_contains`) is the exact complement
//! of its positive one (which is Chroma's semantics: it matches rows lacking
//! the key). Document tests (`#document`) cannot be answered here.
//!
//! Contract of [`MetadataIndex::candidates`]: the rows returned are always a
//! SUPERSET of the rows for which [`Where::matches`] is true (restricted to
//! the rows the index was built from). When the answer says `exact: true`
//! the set is exactly the matching set and the caller may skip re-checking;
//! otherwise (a document test was involved) the caller must re-check each
//! candidate with [`Where::matches`]. Re-checking an exact answer is always
//! safe.
//!
//! It is plain data (`Vec`, `BTreeMap`) and derives serde, so a segment may
//! persist it or build it lazily on first use; building is one pass plus a
//! sort of each row list (already-sorted input makes the sort linear).

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::ast::{Comparison, Number, Scalar, Where};
use super::numeric::{Num, NumKey};
use crate::metadata::{Metadata, MetadataValue};
use crate::row_set::{Row, RowSet};

/// What the index says about a filter: the rows that can match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    /// A superset of the matching rows ([`RowSet::All`] when the index
    /// cannot narrow the filter).
    pub rows: RowSet,
    /// Whether `rows` is exactly the matching set, so re-checking each
    /// with [`Where::matches`] is unnecessary.
    pub exact: bool,
}

impl Candidates {
    /// Whether `row` may match.
    pub fn may_match(&self, row: Row) -> bool {
        self.rows.contains(row)
    }
}

/// Rows per value of one kind of value (scalars, or array elements).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Postings {
    /// String value -> rows.
    strs: BTreeMap<String, Vec<Row>>,
    /// Int or float value (by value; NaN never stored) -> rows.
    nums: BTreeMap<NumKey, Vec<Row>>,
    /// `[rows with false, rows with true]`.
    bools: [Vec<Row>; 2],
}

impl Postings {
    fn add_str(&mut self, s: &str, row: Row) {
        match self.strs.get_mut(s) {
            Some(rows) => rows.push(row),
            None => {
                self.strs.insert(s.to_owned(), vec![row]);
            }
        }
    }

    fn add_num(&mut self, n: Num, row: Row) {
        if let Some(key) = NumKey::new(n) {
            self.nums.entry(key).or_default().push(row);
        }
    }

    fn add_bool(&mut self, b: bool, row: Row) {
        self.bools[usize::from(b)].push(row);
    }

    fn finish(&mut self) {
        let lists = self
            .strs
            .values_mut()
            .chain(self.nums.values_mut())
            .chain(self.bools.iter_mut());
        for rows in lists {
            rows.sort_unstable();
            rows.dedup();
            rows.shrink_to_fit();
        }
    }

    /// Rows holding a value equal to `s` (numbers by value).
    fn equal(&self, s: &Scalar) -> &[Row] {
        let found = match s {
            Scalar::Str(x) => self.strs.get(x),
            Scalar::Bool(b) => Some(&self.bools[usize::from(*b)]),
            Scalar::Int(_) | Scalar::Float(_) => Num::of_scalar(s)
                .and_then(NumKey::new)
                .and_then(|k| self.nums.get(&k)),
        };
        found.map_or(&[], Vec::as_slice)
    }

    /// The row lists of the numbers within `range` (disjoint for scalars).
    fn in_range(&self, range: (Bound<NumKey>, Bound<NumKey>)) -> impl Iterator<Item = &Vec<Row>> {
        self.nums.range(range).map(|(_, rows)| rows)
    }
}

/// Everything indexed under one metadata key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct KeyIndex {
    /// Scalar values.
    scalars: Postings,
    /// Elements of array values.
    elements: Postings,
}

/// An inverted index over the metadata of a fixed set of rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataIndex {
    /// Every row it was built from, sorted, no duplicates (rows without
    /// metadata included: negative operators match them).
    rows: Vec<Row>,
    /// Metadata key -> its postings.
    keys: BTreeMap<String, KeyIndex>,
}

/// A row set during evaluation.
enum Set {
    /// Every row.
    All,
    /// These rows (sorted).
    Only(Vec<Row>),
    /// Every row but these (sorted).
    AllExcept(Vec<Row>),
}

/// A row set and whether it is exact (else a superset).
struct Eval {
    set: Set,
    exact: bool,
}

impl MetadataIndex {
    /// Builds the index from `(row, metadata)` pairs; a row may come with
    /// no metadata. Rows need not be sorted; a repeated row merges.
    pub fn build<'a, I>(records: I) -> MetadataIndex
    where
        I: IntoIterator<Item = (Row, Option<&'a Metadata>)>,
    {
        let mut index = MetadataIndex::default();
        for (row, metadata) in records {
            index.rows.push(row);
            let Some(metadata) = metadata else { continue };
            for (key, value) in metadata {
                let entry = match index.keys.get_mut(key) {
                    Some(entry) => entry,
                    None => index.keys.entry(key.clone()).or_default(),
                };
                entry.add(value, row);
            }
        }
        index.rows.sort_unstable();
        index.rows.dedup();
        for entry in index.keys.values_mut() {
            entry.scalars.finish();
            entry.elements.finish();
        }
        index
    }

    /// How many rows it was built from.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it was built from no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every row it was built from, sorted.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The rows that can match `w` (see the module docs for the contract:
    /// always a superset of the matching rows; exact when it says so).
    pub fn candidates(&self, w: &Where) -> Candidates {
        let Eval { set, exact } = self.eval(w);
        let rows = match set {
            Set::All if !exact => RowSet::All,
            Set::All => RowSet::Rows(self.rows.clone()),
            Set::Only(rows) => RowSet::Rows(rows),
            Set::AllExcept(excluded) => RowSet::Rows(difference(&self.rows, &excluded)),
        };
        Candidates { rows, exact }
    }

    /// An estimate of how many rows match `w`, without building the row set:
    /// exact for single metadata tests, `min` over `$and`, capped sum over
    /// `$or`, and every row for document tests. For a query planner choosing
    /// between pre-filtering and filtered graph search.
    pub fn estimate(&self, w: &Where) -> usize {
        let n = self.rows.len();
        match w {
            Where::And(children) => children.iter().map(|c| self.estimate(c)).min().unwrap_or(n),
            Where::Or(children) => children
                .iter()
                .map(|c| self.estimate(c))
                .sum::<usize>()
                .min(n),
            Where::Document(_) | Where::Id(_) => n,
            Where::Field { key, op } => {
                let Some(entry) = self.keys.get(key) else {
                    return if op.is_negative() { n } else { 0 };
                };
                let positive = match op {
                    Comparison::Eq(s) | Comparison::Ne(s) => entry.scalars.equal(s).len(),
                    Comparison::In(list) | Comparison::Nin(list) => {
                        // Equal operands (`1`, `1.0`) share one row list: count it once.
                        let mut lists: Vec<&[Row]> =
                            list.iter().map(|s| entry.scalars.equal(s)).collect();
                        lists.sort_unstable_by_key(|l| l.as_ptr());
                        lists.dedup_by_key(|l| l.as_ptr());
                        lists.iter().map(|l| l.len()).sum()
                    }
                    Comparison::Contains(s) | Comparison::NotContains(s) => {
                        entry.elements.equal(s).len()
                    }
                    Comparison::Gt(x)
                    | Comparison::Gte(x)
                    | Comparison::Lt(x)
                    | Comparison::Lte(x) => range_of(op, *x)
                        .map_or(0, |r| entry.scalars.in_range(r).map(Vec::len).sum()),
                };
                if op.is_negative() {
                    n.saturating_sub(positive)
                } else {
                    positive
                }
            }
        }
    }

    fn eval(&self, w: &Where) -> Eval {
        match w {
            Where::And(children) => {
                let mut acc = Eval {
                    set: Set::All,
                    exact: true,
                };
                for child in children {
                    let next = self.eval(child);
                    acc = Eval {
                        set: intersect_sets(acc.set, next.set),
                        exact: acc.exact && next.exact,
                    };
                    if matches!(&acc.set, Set::Only(rows) if rows.is_empty()) && acc.exact {
                        break;
                    }
                }
                acc
            }
            Where::Or(children) => {
                let mut acc = Eval {
                    set: Set::Only(Vec::new()),
                    exact: true,
                };
                for child in children {
                    let next = self.eval(child);
                    acc = Eval {
                        set: union_sets(acc.set, next.set),
                        exact: acc.exact && next.exact,
                    };
                }
                acc
            }
            Where::Document(_) | Where::Id(_) => Eval {
                set: Set::All,
                exact: false,
            },
            Where::Field { key, op } => {
                let positive = self.positive_rows(key, op);
                let set = if op.is_negative() {
                    Set::AllExcept(positive)
                } else {
                    Set::Only(positive)
                };
                Eval { set, exact: true }
            }
        }
    }

    /// The rows matching the positive form of `op` on `key` (`$ne` -> `$eq`, ...).
    fn positive_rows(&self, key: &str, op: &Comparison) -> Vec<Row> {
        let Some(entry) = self.keys.get(key) else {
            return Vec::new();
        };
        match op {
            Comparison::Eq(s) | Comparison::Ne(s) => entry.scalars.equal(s).to_vec(),
            Comparison::In(list) | Comparison::Nin(list) => {
                union_all(list.iter().map(|s| entry.scalars.equal(s)))
            }
            Comparison::Contains(s) | Comparison::NotContains(s) => {
                entry.elements.equal(s).to_vec()
            }
            Comparison::Gt(x) | Comparison::Gte(x) | Comparison::Lt(x) | Comparison::Lte(x) => {
                match range_of(op, *x) {
                    // A row has one scalar value per key, so the lists are disjoint.
                    Some(range) => {
                        let mut rows: Vec<Row> =
                            entry.scalars.in_range(range).flatten().copied().collect();
                        rows.sort_unstable();
                        rows
                    }
                    None => Vec::new(),
                }
            }
        }
    }
}

impl KeyIndex {
    fn add(&mut self, value: &MetadataValue, row: Row) {
        match value {
            MetadataValue::Str(s) => self.scalars.add_str(s, row),
            MetadataValue::Bool(b) => self.scalars.add_bool(*b, row),
            MetadataValue::Int(i) => self.scalars.add_num(Num::Int(*i), row),
            MetadataValue::Float(f) => self.scalars.add_num(Num::Float(*f), row),
            MetadataValue::StrArray(items) => {
                items.iter().for_each(|s| self.elements.add_str(s, row))
            }
            MetadataValue::BoolArray(items) => {
                items.iter().for_each(|b| self.elements.add_bool(*b, row))
            }
            MetadataValue::IntArray(items) => {
                items
                    .iter()
                    .for_each(|i| self.elements.add_num(Num::Int(*i), row));
            }
            MetadataValue::FloatArray(items) => {
                items
                    .iter()
                    .for_each(|f| self.elements.add_num(Num::Float(*f), row));
            }
            // No filter compares a sparse vector: nothing to index (a
            // negative operator's complement still holds its row).
            MetadataValue::SparseVector(_) => {}
        }
    }
}

/// The key range a comparison selects; `None` for a NaN operand (matches nothing).
fn range_of(op: &Comparison, x: Number) -> Option<(Bound<NumKey>, Bound<NumKey>)> {
    let k = NumKey::new(Num::from(x))?;
    Some(match op {
        Comparison::Gt(_) => (Bound::Excluded(k), Bound::Unbounded),
        Comparison::Gte(_) => (Bound::Included(k), Bound::Unbounded),
        Comparison::Lt(_) => (Bound::Unbounded, Bound::Excluded(k)),
        Comparison::Lte(_) => (Bound::Unbounded, Bound::Included(k)),
        _ => return None,
    })
}

fn intersect_sets(a: Set, b: Set) -> Set {
    match (a, b) {
        (Set::All, x) | (x, Set::All) => x,
        (Set::Only(a), Set::Only(b)) => Set::Only(intersection(&a, &b)),
        (Set::Only(a), Set::AllExcept(ex)) | (Set::AllExcept(ex), Set::Only(a)) => {
            Set::Only(difference(&a, &ex))
        }
        (Set::AllExcept(a), Set::AllExcept(b)) => Set::AllExcept(union(&a, &b)),
    }
}

fn union_sets(a: Set, b: Set) -> Set {
    match (a, b) {
        (Set::All, _) | (_, Set::All) => Set::All,
        (Set::Only(a), Set::Only(b)) => Set::Only(union(&a, &b)),
        (Set::Only(a), Set::AllExcept(ex)) | (Set::AllExcept(ex), Set::Only(a)) => {
            Set::AllExcept(difference(&ex, &a))
        }
        (Set::AllExcept(a), Set::AllExcept(b)) => Set::AllExcept(intersection(&a, &b)),
    }
}

/// Sorted `a ∩ b`.
fn intersection(a: &[Row], b: &[Row]) -> Vec<Row> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.len() * 16 < large.len() {
        // Much smaller: binary-search each element.
        return small
            .iter()
            .copied()
            .filter(|r| large.binary_search(r).is_ok())
            .collect();
    }
    let mut out = Vec::with_capacity(small.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Sorted `a ∪ b`.
fn union(a: &[Row], b: &[Row]) -> Vec<Row> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Sorted `a \ b`.
fn difference(a: &[Row], b: &[Row]) -> Vec<Row> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &r in a {
        while j < b.len() && b[j] < r {
            j += 1;
        }
        if j >= b.len() || b[j] != r {
            out.push(r);
        }
    }
    out
}

/// Sorted union of several sorted lists.
fn union_all<'a>(lists: impl Iterator<Item = &'a [Row]>) -> Vec<Row> {
    let mut out: Vec<Row> = lists.flatten().copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        assert_eq!(intersection(&[1, 3, 5, 7], &[3, 4, 5]), vec![3, 5]);
        let large: Vec<Row> = (0..100).collect();
        assert_eq!(intersection(&[5, 50, 200], &large), vec![5, 50]);
        assert_eq!(union(&[1, 3], &[2, 3, 9]), vec![1, 2, 3, 9]);
        assert_eq!(difference(&[1, 2, 3, 4], &[0, 2, 4, 6]), vec![1, 3]);
        assert_eq!(
            union_all([&[3, 1][..], &[2, 3][..]].into_iter()),
            vec![1, 2, 3]
        );
    }
}
