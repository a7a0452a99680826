//! Arbitrary bytes -> JSON -> `Where::parse` / `WhereDocument::parse`.
//!
//! Parsing must never panic, whatever the JSON. A filter that parses is also
//! evaluated on a few fixed records, and the metadata index's candidates are
//! checked against that brute force (superset always, equal when exact).
#![no_main]

use chromite_engine::filter::{Candidates, MetadataIndex, Row};
use chromite_engine::index::RowSet;
use chromite_engine::{Metadata, Where, WhereDocument};
use libfuzzer_sys::fuzz_target;

fn records() -> Vec<(Option<Metadata>, Option<&'static str>)> {
    let metas = [
        r#"{"a": 1, "b": "x", "c": true}"#,
        r#"{"a": 1.5, "tags": ["x", "y"], "n": [1, 2]}"#,
        r#"{"a": -3, "b": "y", "f": [0.5, 2.0], "t": [false]}"#,
        r##"{"#document": "x", "b": 2}"##,
    ];
    let mut out: Vec<(Option<Metadata>, Option<&'static str>)> = metas
        .iter()
        .zip(["x y", "", "The Fox", "x"])
        .map(|(m, d)| (serde_json::from_str(m).ok(), Some(d)))
        .collect();
    out.push((None, None));
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let records = records();
    if let Ok(w) = Where::parse(&json) {
        let index = MetadataIndex::build(
            records
                .iter()
                .enumerate()
                .map(|(i, (m, _))| (i as Row, m.as_ref())),
        );
        let expected: Vec<Row> = records
            .iter()
            .enumerate()
            .filter(|(_, (m, d))| w.matches(m.as_ref(), *d))
            .map(|(i, _)| i as Row)
            .collect();
        match index.candidates(&w) {
            Candidates {
                rows: RowSet::All, ..
            } => assert!(w.uses_document()),
            Candidates {
                rows: RowSet::Except(_),
                ..
            } => panic!("the metadata index never answers with a mask"),
            Candidates {
                rows: RowSet::Rows(rows),
                exact,
            } => {
                assert!(
                    expected.iter().all(|r| rows.contains(r)),
                    "{w:?}: {rows:?} misses {expected:?}"
                );
                assert!(
                    !exact || rows == expected,
                    "{w:?}: exact {rows:?} != {expected:?}"
                );
            }
        }
        let _ = index.estimate(&w);
    }
    if let Ok(wd) = WhereDocument::parse(&json) {
        for (_, d) in &records {
            let _ = wd.matches(*d);
        }
    }
});
