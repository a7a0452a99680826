//! A memtable's posting lists: every sparse-vector value of every put, per
//! key and term, appended in slot order as the memtable grows.
//!
//! The memtable does not know the schema, so it indexes every sparse key
//! (a memtable is small, and a search only asks for indexed keys). One
//! writer appends (holding the collection's writer lock); a reader copies
//! the few lists its query names under a short read lock, keeping only the
//! slots its view holds, and searches the copies without it.

use std::collections::HashMap;

use parking_lot::RwLock;

use crate::metadata::{Metadata, MetadataValue};

/// Per key, per term: the slots holding it, ascending, with their weights.
#[derive(Debug, Default)]
pub(crate) struct MemPostings {
    keys: RwLock<HashMap<String, HashMap<u32, OwnedList>>>,
}

/// A copied list: slots ascending and their weights.
pub(crate) type OwnedList = (Vec<u32>, Vec<f32>);

impl MemPostings {
    /// Indexes the sparse vectors of the put in `slot`; returns the bytes
    /// it added (for the memtable's size).
    pub(crate) fn push(&self, slot: u32, m: &Metadata) -> usize {
        let mut added = 0;
        let mut keys = None;
        for (k, v) in m.iter() {
            let MetadataValue::SparseVector(v) = v else {
                continue;
            };
            let keys = keys.get_or_insert_with(|| self.keys.write());
            let lists = keys.entry(k.clone()).or_default();
            for (&t, &w) in v.indices.iter().zip(&v.values) {
                let l = lists.entry(t).or_default();
                l.0.push(slot);
                l.1.push(w);
                added += 8;
            }
        }
        added
    }

    /// Copies of the lists of `terms` under `key`, each limited to slots
    /// below `len` (`None` for a term no such slot holds).
    pub(crate) fn lists(&self, key: &str, terms: &[u32], len: usize) -> Vec<Option<OwnedList>> {
        let keys = self.keys.read();
        let Some(lists) = keys.get(key) else {
            return vec![None; terms.len()];
        };
        terms
            .iter()
            .map(|t| {
                let (rows, weights) = lists.get(t)?;
                let n = rows.partition_point(|&s| (s as usize) < len);
                (n > 0).then(|| (rows[..n].to_vec(), weights[..n].to_vec()))
            })
            .collect()
    }
}
