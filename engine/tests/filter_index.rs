//! `MetadataIndex` against brute force: on random metadata and random
//! filters, `candidates` is always a superset of the rows `Where::matches`
//! accepts, and exactly that set whenever it says `exact` (which it must for
//! every filter without a document test).

use chromite_engine::filter::{
    Candidates, Comparison, DocumentTest, MetadataIndex, Number, Pattern, Row, Scalar,
};
use chromite_engine::index::RowSet;
use chromite_engine::{Metadata, MetadataValue, Where};
use proptest::prelude::*;
use serde_json::json;

const KEYS: [&str; 4] = ["a", "b", "c", "tags"];
const STRS: [&str; 3] = ["x", "y", "z"];
const FLOATS: [f64; 6] = [-1.5, -0.0, 0.0, 1.0, 2.5, 1e300];

fn arb_str() -> impl Strategy<Value = String> {
    prop::sample::select(&STRS[..]).prop_map(str::to_owned)
}

fn arb_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::sample::select(&FLOATS[..]),
        (-3i32..4).prop_map(f64::from)
    ]
}

fn arb_value() -> impl Strategy<Value = MetadataValue> {
    prop_oneof![
        any::<bool>().prop_map(MetadataValue::Bool),
        (-3i64..4).prop_map(MetadataValue::Int),
        arb_float().prop_map(MetadataValue::Float),
        arb_str().prop_map(MetadataValue::Str),
        prop::collection::vec(any::<bool>(), 1..3).prop_map(MetadataValue::BoolArray),
        prop::collection::vec(-3i64..4, 1..4).prop_map(MetadataValue::IntArray),
        prop::collection::vec(arb_float(), 1..4).prop_map(MetadataValue::FloatArray),
        prop::collection::vec(arb_str(), 1..4).prop_map(MetadataValue::StrArray),
    ]
}

fn arb_metadata() -> impl Strategy<Value = Option<Metadata>> {
    let key = prop::sample::select(&KEYS[..]).prop_map(str::to_owned);
    prop::option::weighted(
        0.85,
        prop::collection::btree_map(key, arb_value(), 0..4).prop_map(|m| m.into_iter().collect()),
    )
}

fn arb_document() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(&["x y", "z", "", "X"][..]).prop_map(str::to_owned))
}

fn arb_scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        any::<bool>().prop_map(Scalar::Bool),
        (-3i64..4).prop_map(Scalar::Int),
        arb_float().prop_map(Scalar::Float),
        arb_str().prop_map(Scalar::Str),
    ]
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        (-3i64..4).prop_map(Number::Int),
        arb_float().prop_map(Number::Float)
    ]
}

/// A homogeneous `$in` list, as the parser produces.
fn arb_list() -> impl Strategy<Value = Vec<Scalar>> {
    prop_oneof![
        prop::collection::vec(any::<bool>().prop_map(Scalar::Bool), 1..3),
        prop::collection::vec((-3i64..4).prop_map(Scalar::Int), 1..4),
        prop::collection::vec(arb_float().prop_map(Scalar::Float), 1..4),
        prop::collection::vec(arb_str().prop_map(Scalar::Str), 1..4),
    ]
}

fn arb_comparison() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        arb_scalar().prop_map(Comparison::Eq),
        arb_scalar().prop_map(Comparison::Ne),
        arb_number().prop_map(Comparison::Gt),
        arb_number().prop_map(Comparison::Gte),
        arb_number().prop_map(Comparison::Lt),
        arb_number().prop_map(Comparison::Lte),
        arb_list().prop_map(Comparison::In),
        arb_list().prop_map(Comparison::Nin),
        arb_scalar().prop_map(Comparison::Contains),
        arb_scalar().prop_map(Comparison::NotContains),
    ]
}

fn arb_document_test() -> impl Strategy<Value = DocumentTest> {
    let text = prop::sample::select(&["x", "z", "", "y z"][..]).prop_map(str::to_owned);
    let pattern = prop::sample::select(&["^x", "(?i)x", "z$"][..])
        .prop_map(|p| Pattern::new(p).expect("valid test pattern"));
    prop_oneof![
        text.clone().prop_map(DocumentTest::Contains),
        text.prop_map(DocumentTest::NotContains),
        pattern.clone().prop_map(DocumentTest::Regex),
        pattern.prop_map(DocumentTest::NotRegex),
    ]
}

fn arb_where(with_documents: bool) -> impl Strategy<Value = Where> {
    let key = prop::sample::select(&KEYS[..]).prop_map(str::to_owned);
    let field = (key, arb_comparison()).prop_map(|(key, op)| Where::Field { key, op });
    let leaf = if with_documents {
        prop_oneof![4 => field, 1 => arb_document_test().prop_map(Where::Document)].boxed()
    } else {
        field.boxed()
    };
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Where::And),
            prop::collection::vec(inner, 0..4).prop_map(Where::Or),
        ]
    })
}

type Records = Vec<(Option<Metadata>, Option<String>)>;

fn arb_records() -> impl Strategy<Value = Records> {
    prop::collection::vec((arb_metadata(), arb_document()), 0..40)
}

/// Row numbers are sparse (3i + 7) and fed in reverse, so the index must
/// not assume dense or sorted input.
fn row_of(i: usize) -> Row {
    Row::try_from(i * 3 + 7).expect("small test")
}

fn build(records: &Records) -> MetadataIndex {
    MetadataIndex::build(
        records
            .iter()
            .enumerate()
            .rev()
            .map(|(i, (m, _))| (row_of(i), m.as_ref())),
    )
}

fn brute_force(records: &Records, w: &Where) -> Vec<Row> {
    records
        .iter()
        .enumerate()
        .filter(|(_, (m, d))| w.matches(m.as_ref(), d.as_deref()))
        .map(|(i, _)| row_of(i))
        .collect()
}

fn check(records: &Records, w: &Where) -> Result<(), TestCaseError> {
    let index = build(records);
    let expected = brute_force(records, w);
    match index.candidates(w) {
        Candidates {
            rows: RowSet::All, ..
        } => prop_assert!(
            w.uses_document(),
            "only document tests may defeat the index"
        ),
        Candidates {
            rows: RowSet::Except(_),
            ..
        } => prop_assert!(false, "the index never answers with a mask"),
        Candidates {
            rows: RowSet::Rows(rows),
            exact,
        } => {
            prop_assert!(
                rows.windows(2).all(|p| p[0] < p[1]),
                "rows not sorted/unique: {rows:?}"
            );
            for r in &expected {
                prop_assert!(
                    rows.binary_search(r).is_ok(),
                    "missing matching row {r}: {rows:?} vs {expected:?}"
                );
            }
            if exact {
                prop_assert_eq!(&rows, &expected);
            } else {
                prop_assert!(w.uses_document(), "a pure metadata filter must be exact");
            }
        }
    }
    prop_assert!(index.estimate(w) <= records.len());
    if let Where::Field { .. } = w {
        prop_assert_eq!(
            index.estimate(w),
            expected.len(),
            "leaf estimates are exact"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn candidates_equal_brute_force_for_metadata_filters(records in arb_records(), w in arb_where(false)) {
        check(&records, &w)?;
    }

    #[test]
    fn candidates_are_a_superset_with_document_tests(records in arb_records(), w in arb_where(true)) {
        check(&records, &w)?;
    }
}

fn md(v: serde_json::Value) -> Metadata {
    serde_json::from_value(v).expect("valid metadata")
}

#[test]
fn index_answers_the_chroma_edge_cases() {
    let metas = [
        Some(md(json!({"n": 1, "s": "a", "tags": ["a", "b"]}))), // row 0
        Some(md(json!({"n": 1.0, "b": true}))),                  // row 1
        Some(md(json!({"n": 2.5, "arr": [1, 2, 3]}))),           // row 2
        None,                                                    // row 3
        Some(md(json!({"n": true, "s": 1}))),                    // row 4
    ];
    let index = MetadataIndex::build(
        metas
            .iter()
            .enumerate()
            .map(|(i, m)| (i as Row, m.as_ref())),
    );
    assert_eq!(index.len(), 5);
    let rows = |filter: serde_json::Value| {
        let w = Where::parse(&filter).expect("valid filter");
        match index.candidates(&w) {
            Candidates {
                rows: RowSet::Rows(rows),
                exact: true,
            } => rows,
            other => panic!("{filter}: expected an exact answer, got {other:?}"),
        }
    };
    assert_eq!(
        rows(json!({"n": 1})),
        vec![0, 1],
        "int and float compare by value"
    );
    assert_eq!(
        rows(json!({"n": {"$gte": 1.0}})),
        vec![0, 1, 2],
        "bool is not a number"
    );
    assert_eq!(rows(json!({"n": {"$lt": 2}})), vec![0, 1]);
    assert_eq!(
        rows(json!({"n": {"$ne": 1}})),
        vec![2, 3, 4],
        "$ne matches missing metadata"
    );
    assert_eq!(rows(json!({"s": {"$nin": ["a"]}})), vec![1, 2, 3, 4]);
    assert_eq!(rows(json!({"tags": {"$contains": "a"}})), vec![0]);
    assert_eq!(
        rows(json!({"tags": "a"})),
        Vec::<Row>::new(),
        "scalar $eq never sees array elements"
    );
    assert_eq!(rows(json!({"arr": {"$contains": 2.0}})), vec![2]);
    assert_eq!(rows(json!({"arr": {"$not_contains": 2}})), vec![0, 1, 3, 4]);
    assert_eq!(rows(json!({"$and": []})), vec![0, 1, 2, 3, 4]);
    assert_eq!(rows(json!({"$or": []})), Vec::<Row>::new());
    assert_eq!(
        rows(json!({"$and": [{"n": {"$gt": 0}}, {"s": {"$ne": "a"}}]})),
        vec![1, 2]
    );
    assert_eq!(
        rows(json!({"$or": [{"b": true}, {"n": {"$ne": 1}}]})),
        vec![1, 2, 3, 4]
    );

    let doc = Where::parse(&json!({"#document": {"$contains": "x"}})).unwrap();
    assert_eq!(
        index.candidates(&doc),
        Candidates {
            rows: RowSet::All,
            exact: false
        }
    );
    assert_eq!(index.estimate(&doc), 5);
    let mixed =
        Where::parse(&json!({"$and": [{"n": 1}, {"#document": {"$contains": "x"}}]})).unwrap();
    assert_eq!(
        index.candidates(&mixed),
        Candidates {
            rows: RowSet::Rows(vec![0, 1]),
            exact: false
        }
    );
    assert_eq!(
        index.estimate(&Where::parse(&json!({"n": {"$in": [2.5, 1, 1.0]}})).unwrap()),
        3
    );
}

#[test]
fn index_round_trips_through_bincode() {
    let metas = [
        Some(md(json!({"n": 1, "f": 0.5, "s": "a", "t": [true]}))),
        None,
    ];
    let index = MetadataIndex::build(
        metas
            .iter()
            .enumerate()
            .map(|(i, m)| (i as Row, m.as_ref())),
    );
    let bytes = bincode::serde::encode_to_vec(&index, bincode::config::standard()).expect("encode");
    let (back, _): (MetadataIndex, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).expect("decode");
    assert_eq!(back, index);
}
