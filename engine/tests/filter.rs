//! Table tests for Chroma's `where` / `where_document` grammar and semantics
//! (`../shared/chroma-api.md` §6): every operator, every edge case the real
//! 1.5.9 server showed, and every parse error with its exact message.

use chromite_engine::filter::{Comparison, DocumentTest, Number, Scalar};
use chromite_engine::{ErrorKind, Metadata, Where, WhereDocument};
use serde_json::{json, Value};

/// Metadata from a JSON object (`null` = a record with no metadata).
fn metadata(v: &Value) -> Option<Metadata> {
    if v.is_null() {
        return None;
    }
    Some(serde_json::from_value(v.clone()).expect("test metadata is valid"))
}

/// Each row: where JSON, record metadata (`null` = none), document, expected.
#[allow(clippy::type_complexity)]
fn where_rows() -> Vec<(Value, Value, Option<&'static str>, bool)> {
    let doc = Some("The quick brown Fox");
    vec![
        // bare scalar = $eq, per type
        (json!({"s": "a"}), json!({"s": "a"}), None, true),
        (json!({"s": "a"}), json!({"s": "b"}), None, false),
        (json!({"s": "a"}), json!({"s": "A"}), None, false),
        (json!({"n": 3}), json!({"n": 3}), None, true),
        (json!({"n": 3}), json!({"n": 4}), None, false),
        (json!({"f": 2.5}), json!({"f": 2.5}), None, true),
        (json!({"b": true}), json!({"b": true}), None, true),
        (json!({"b": false}), json!({"b": true}), None, false),
        // missing key / no metadata: positive never matches
        (json!({"s": "a"}), json!({"t": "a"}), None, false),
        (json!({"s": "a"}), json!(null), None, false),
        (json!({"n": {"$gt": 0}}), json!(null), None, false),
        (json!({"n": {"$in": [1]}}), json!({}), None, false),
        // ints and floats compare numerically
        (json!({"n": 1.0}), json!({"n": 1}), None, true),
        (json!({"n": 1}), json!({"n": 1.0}), None, true),
        (json!({"n": {"$eq": 1.0}}), json!({"n": 1}), None, true),
        (json!({"n": 1.5}), json!({"n": 1}), None, false),
        // bool is its own type
        (json!({"b": true}), json!({"b": 1}), None, false),
        (json!({"n": 1}), json!({"n": true}), None, false),
        (json!({"n": {"$eq": 0}}), json!({"n": false}), None, false),
        // type mismatch is no match
        (json!({"s": 1}), json!({"s": "1"}), None, false),
        (json!({"s": "1"}), json!({"s": 1}), None, false),
        // scalar $eq on an array field does not match
        (json!({"arr": 2}), json!({"arr": [1, 2, 3]}), None, false),
        (
            json!({"tags": "a"}),
            json!({"tags": ["a", "b"]}),
            None,
            false,
        ),
        (
            json!({"arr": {"$in": [2]}}),
            json!({"arr": [1, 2, 3]}),
            None,
            false,
        ),
        // $eq / $ne
        (json!({"s": {"$eq": "a"}}), json!({"s": "a"}), None, true),
        (
            json!({"b": {"$eq": false}}),
            json!({"b": false}),
            None,
            true,
        ),
        (json!({"s": {"$ne": "a"}}), json!({"s": "b"}), None, true),
        (json!({"s": {"$ne": "a"}}), json!({"s": "a"}), None, false),
        (json!({"n": {"$ne": 1}}), json!({"n": 1.0}), None, false),
        (json!({"n": {"$ne": 1}}), json!({"n": 2}), None, true),
        (json!({"b": {"$ne": true}}), json!({"b": false}), None, true),
        (json!({"b": {"$ne": true}}), json!({"b": true}), None, false),
        // negative operators match a missing key / missing metadata / other type
        (json!({"s": {"$ne": "a"}}), json!({"t": 1}), None, true),
        (json!({"s": {"$ne": "a"}}), json!(null), None, true),
        (json!({"s": {"$ne": "a"}}), json!({"s": 5}), None, true),
        (json!({"arr": {"$ne": 2}}), json!({"arr": [2]}), None, true),
        // $gt $gte $lt $lte
        (json!({"n": {"$gt": 1}}), json!({"n": 2}), None, true),
        (json!({"n": {"$gt": 2}}), json!({"n": 2}), None, false),
        (json!({"n": {"$gte": 2}}), json!({"n": 2}), None, true),
        (json!({"n": {"$gte": 2.5}}), json!({"n": 2}), None, false),
        (json!({"n": {"$lt": 2}}), json!({"n": 1.99}), None, true),
        (json!({"n": {"$lt": 2}}), json!({"n": 2}), None, false),
        (json!({"n": {"$lte": 2}}), json!({"n": 2.0}), None, true),
        (json!({"n": {"$lte": -1}}), json!({"n": 0}), None, false),
        (json!({"n": {"$gt": 1.5}}), json!({"n": 2}), None, true),
        (json!({"n": {"$lt": 1.5}}), json!({"n": 1}), None, true),
        (
            json!({"n": {"$gt": 9007199254740992u64}}),
            json!({"n": 9007199254740993u64}),
            None,
            true,
        ),
        (
            json!({"n": {"$gt": 9007199254740992.0}}),
            json!({"n": 9007199254740993u64}),
            None,
            true,
        ),
        (json!({"s": {"$gt": 1}}), json!({"s": "2"}), None, false),
        (json!({"b": {"$gte": 0}}), json!({"b": true}), None, false),
        (
            json!({"arr": {"$gt": 0}}),
            json!({"arr": [1, 2]}),
            None,
            false,
        ),
        (json!({"n": {"$lte": 5}}), json!({"m": 1}), None, false),
        // $in / $nin
        (
            json!({"s": {"$in": ["a", "b"]}}),
            json!({"s": "b"}),
            None,
            true,
        ),
        (
            json!({"s": {"$in": ["a", "b"]}}),
            json!({"s": "c"}),
            None,
            false,
        ),
        (json!({"n": {"$in": [1, 2]}}), json!({"n": 2.0}), None, true),
        (json!({"n": {"$in": [1.5, 2]}}), json!({"n": 2}), None, true),
        (
            json!({"b": {"$in": [true]}}),
            json!({"b": true}),
            None,
            true,
        ),
        (json!({"b": {"$in": [true]}}), json!({"b": 1}), None, false),
        (
            json!({"s": {"$nin": ["a", "b"]}}),
            json!({"s": "c"}),
            None,
            true,
        ),
        (
            json!({"s": {"$nin": ["a", "b"]}}),
            json!({"s": "a"}),
            None,
            false,
        ),
        (json!({"s": {"$nin": ["a"]}}), json!({}), None, true),
        (json!({"s": {"$nin": ["a"]}}), json!(null), None, true),
        (json!({"n": {"$nin": [1]}}), json!({"n": 1.0}), None, false),
        // $contains / $not_contains on array metadata: membership
        (
            json!({"tags": {"$contains": "a"}}),
            json!({"tags": ["a", "b"]}),
            None,
            true,
        ),
        (
            json!({"tags": {"$contains": "c"}}),
            json!({"tags": ["a", "b"]}),
            None,
            false,
        ),
        (
            json!({"tags": {"$contains": "a"}}),
            json!({"tags": ["abc"]}),
            None,
            false,
        ),
        (
            json!({"arr": {"$contains": 2}}),
            json!({"arr": [1, 2, 3]}),
            None,
            true,
        ),
        (
            json!({"arr": {"$contains": 2.0}}),
            json!({"arr": [1, 2, 3]}),
            None,
            true,
        ),
        (
            json!({"arr": {"$contains": 2}}),
            json!({"arr": [1.5, 2.0]}),
            None,
            true,
        ),
        (
            json!({"arr": {"$contains": true}}),
            json!({"arr": [false, true]}),
            None,
            true,
        ),
        (
            json!({"arr": {"$contains": 1}}),
            json!({"arr": [true]}),
            None,
            false,
        ),
        (
            json!({"arr": {"$contains": "1"}}),
            json!({"arr": [1]}),
            None,
            false,
        ),
        (
            json!({"s": {"$contains": "a"}}),
            json!({"s": "abc"}),
            None,
            false,
        ),
        (json!({"tags": {"$contains": "a"}}), json!({}), None, false),
        (
            json!({"tags": {"$not_contains": "a"}}),
            json!({"tags": ["b"]}),
            None,
            true,
        ),
        (
            json!({"tags": {"$not_contains": "a"}}),
            json!({"tags": ["a"]}),
            None,
            false,
        ),
        (
            json!({"tags": {"$not_contains": "a"}}),
            json!({"x": 1}),
            None,
            true,
        ),
        (
            json!({"tags": {"$not_contains": "a"}}),
            json!(null),
            None,
            true,
        ),
        // #document tests inside where
        (
            json!({"#document": {"$contains": "quick"}}),
            json!(null),
            doc,
            true,
        ),
        (
            json!({"#document": {"$contains": "fox"}}),
            json!(null),
            doc,
            false,
        ),
        (
            json!({"#document": {"$contains": "quick"}}),
            json!(null),
            None,
            false,
        ),
        (
            json!({"#document": {"$not_contains": "fox"}}),
            json!(null),
            doc,
            true,
        ),
        (
            json!({"#document": {"$not_contains": "Fox"}}),
            json!(null),
            doc,
            false,
        ),
        (
            json!({"#document": {"$not_contains": "Fox"}}),
            json!(null),
            None,
            true,
        ),
        (
            json!({"#document": {"$regex": "(?i)fox$"}}),
            json!(null),
            doc,
            true,
        ),
        (
            json!({"#document": {"$regex": "^quick"}}),
            json!(null),
            doc,
            false,
        ),
        (
            json!({"#document": {"$regex": "."}}),
            json!(null),
            None,
            false,
        ),
        (
            json!({"#document": {"$not_regex": "[0-9]"}}),
            json!(null),
            doc,
            true,
        ),
        (
            json!({"#document": {"$not_regex": "q.*k"}}),
            json!(null),
            doc,
            false,
        ),
        (
            json!({"#document": {"$not_regex": "."}}),
            json!(null),
            None,
            true,
        ),
        // "#document" with a metadata operator is a plain metadata key; "#id" is not special
        (
            json!({"#document": "The quick brown Fox"}),
            json!(null),
            doc,
            false,
        ),
        (json!({"#id": "a"}), json!({"x": 1}), None, false),
        // $and / $or, including the server-accepted 0- and 1-item forms
        (json!({"$and": []}), json!(null), None, true),
        (json!({"$or": []}), json!({"s": "a"}), doc, false),
        (json!({"$and": [{"s": "a"}]}), json!({"s": "a"}), None, true),
        (json!({"$or": [{"s": "a"}]}), json!({"s": "b"}), None, false),
        (
            json!({"$and": [{"s": "a"}, {"n": {"$gt": 1}}]}),
            json!({"s": "a", "n": 2}),
            None,
            true,
        ),
        (
            json!({"$and": [{"s": "a"}, {"n": {"$gt": 1}}]}),
            json!({"s": "a", "n": 1}),
            None,
            false,
        ),
        (
            json!({"$or": [{"s": "x"}, {"n": {"$gt": 1}}]}),
            json!({"s": "a", "n": 2}),
            None,
            true,
        ),
        (
            json!({"$or": [{"s": "x"}, {"n": {"$gt": 5}}]}),
            json!({"s": "a", "n": 2}),
            None,
            false,
        ),
        (
            json!({"$and": [{"$or": [{"s": "a"}, {"s": "b"}]}, {"#document": {"$contains": "brown"}}]}),
            json!({"s": "b"}),
            doc,
            true,
        ),
        (
            json!({"$or": [{"$and": [{"s": "a"}, {"n": 1}]}, {"t": {"$ne": 0}}]}),
            json!({"s": "b", "t": 0}),
            None,
            false,
        ),
    ]
}

#[test]
fn where_table() {
    for (filter, meta, doc, expected) in where_rows() {
        let w = Where::parse(&filter).unwrap_or_else(|e| panic!("{filter} should parse: {e}"));
        let m = metadata(&meta);
        assert_eq!(
            w.matches(m.as_ref(), doc),
            expected,
            "where {filter} on metadata {meta} doc {doc:?}"
        );
    }
}

#[test]
fn where_errors() {
    let bad = [
        json!({}),
        json!({"a": 1, "b": 2}),
        json!([]),
        json!([{"a": 1}]),
        json!("a"),
        json!(5),
        json!(null),
        json!(true),
        json!({"a": null}),
        json!({"a": [1, 2]}),
        json!({"a": {}}),
        json!({"a": {"$eq": 1, "$ne": 2}}),
        json!({"a": {"$eq": null}}),
        json!({"a": {"$eq": [1]}}),
        json!({"a": {"$eq": {"$eq": 1}}}),
        json!({"a": {"$ne": null}}),
        json!({"a": {"$gt": "x"}}),
        json!({"a": {"$gte": true}}),
        json!({"a": {"$lt": null}}),
        json!({"a": {"$lte": [1]}}),
        json!({"a": {"$in": []}}),
        json!({"a": {"$nin": []}}),
        json!({"a": {"$in": "x"}}),
        json!({"a": {"$in": 1}}),
        json!({"a": {"$in": [1, "x"]}}),
        json!({"a": {"$in": ["x", 1]}}),
        json!({"a": {"$in": [true, 1]}}),
        json!({"a": {"$in": [1, 1.5]}}),
        json!({"a": {"$in": [null]}}),
        json!({"a": {"$in": [[1]]}}),
        json!({"a": {"$nin": [{"a": 1}]}}),
        json!({"a": {"$regex": "x"}}),
        json!({"a": {"$not_regex": "x"}}),
        json!({"#document": {"$regex": 5}}),
        json!({"#document": {"$contains": 5}}),
        json!({"#document": {"$not_contains": null}}),
        json!({"a": {"$contains": [1]}}),
        json!({"a": {"$contains": null}}),
        json!({"a": {"$not_contains": {}}}),
        json!({"a": {"$not": {"$eq": 1}}}),
        json!({"a": {"$bogus": 1}}),
        json!({"a": {"eq": 1}}),
        json!({"$not": {"a": 1}}),
        json!({"$contains": "x"}),
        json!({"$regex": "x"}),
        json!({"$and": {}}),
        json!({"$and": {"a": 1}}),
        json!({"$or": "x"}),
        json!({"$or": null}),
        json!({"$and": [{}]}),
        json!({"$and": [{"a": 1}, {"b": {"$bogus": 1}}]}),
        json!({"$or": [{"$and": [{"a": {"$in": []}}]}]}),
        json!({"a": 18446744073709551615u64}),
        json!({"a": {"$gt": 18446744073709551615u64}}),
        json!({"a": {"$in": [18446744073709551615u64]}}),
    ];
    for filter in bad {
        let err = Where::parse(&filter).expect_err(&format!("{filter} should be rejected"));
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{filter}");
        assert_eq!(err.to_string(), "Invalid where clause", "{filter}");
    }
}

#[test]
fn bad_regex_gives_chromas_regex_message() {
    for filter in [
        json!({"#document": {"$regex": "("}}),
        json!({"#document": {"$not_regex": "[a-"}}),
    ] {
        let err = Where::parse(&filter).expect_err("bad regex");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().starts_with("Regex syntax error: "), "{err}");
    }
    let err = WhereDocument::parse(&json!({"$regex": "a{"})).expect_err("bad regex");
    assert!(err.to_string().starts_with("Regex syntax error: "), "{err}");
}

#[test]
fn where_parses_into_typed_ast() {
    let w = Where::parse(&json!({"n": 1})).unwrap();
    assert_eq!(
        w,
        Where::Field {
            key: "n".into(),
            op: Comparison::Eq(Scalar::Int(1))
        }
    );
    let w = Where::parse(&json!({"n": {"$gte": 1.5}})).unwrap();
    assert_eq!(
        w,
        Where::Field {
            key: "n".into(),
            op: Comparison::Gte(Number::Float(1.5))
        }
    );
    // A list starting with a float takes later integers as floats (Chroma's rule).
    let w = Where::parse(&json!({"n": {"$in": [1.5, 2]}})).unwrap();
    assert_eq!(
        w,
        Where::Field {
            key: "n".into(),
            op: Comparison::In(vec![Scalar::Float(1.5), Scalar::Float(2.0)])
        }
    );
    let w = Where::parse(&json!({"tags": {"$not_contains": "x"}})).unwrap();
    assert_eq!(
        w,
        Where::Field {
            key: "tags".into(),
            op: Comparison::NotContains(Scalar::Str("x".into()))
        }
    );
    let w = Where::parse(&json!({"#document": {"$contains": "x"}})).unwrap();
    assert_eq!(w, Where::Document(DocumentTest::Contains("x".into())));
    let w = Where::parse(&json!({"$or": [{"a": true}, {"$and": []}]})).unwrap();
    assert_eq!(
        w,
        Where::Or(vec![
            Where::Field {
                key: "a".into(),
                op: Comparison::Eq(Scalar::Bool(true))
            },
            Where::And(vec![]),
        ])
    );
    // Equal patterns compare equal; the parsed value is Clone.
    let a = Where::parse(&json!({"#document": {"$regex": "a+b"}})).unwrap();
    let b = Where::parse(&json!({"#document": {"$regex": "a+b"}})).unwrap();
    let c = Where::parse(&json!({"#document": {"$regex": "a+c"}})).unwrap();
    assert_eq!(a, b.clone());
    assert_ne!(a, c);
    assert!(a.uses_document());
    assert!(!w.uses_document());
}

#[test]
fn where_document_table() {
    let doc = Some("The quick brown Fox");
    let rows: Vec<(Value, Option<&str>, bool)> = vec![
        (json!({"$contains": "quick"}), doc, true),
        (json!({"$contains": "fox"}), doc, false),
        (json!({"$contains": "Fox"}), doc, true),
        (json!({"$contains": "quick"}), None, false),
        (json!({"$contains": ""}), doc, true),
        (json!({"$contains": ""}), Some(""), true),
        (json!({"$contains": ""}), None, false),
        (json!({"$not_contains": "fox"}), doc, true),
        (json!({"$not_contains": "Fox"}), doc, false),
        (json!({"$not_contains": "anything"}), None, true),
        (json!({"$not_contains": ""}), None, true),
        (json!({"$regex": "(?i)FOX"}), doc, true),
        (json!({"$regex": "FOX"}), doc, false),
        (json!({"$regex": "^The\\s+quick"}), doc, true),
        (json!({"$regex": ".*"}), None, false),
        (json!({"$not_regex": "[0-9]+"}), doc, true),
        (json!({"$not_regex": "b.own"}), doc, false),
        (json!({"$not_regex": ".*"}), None, true),
        (json!({"$and": []}), None, true),
        (json!({"$or": []}), doc, false),
        (
            json!({"$and": [{"$contains": "quick"}, {"$contains": "brown"}]}),
            doc,
            true,
        ),
        (
            json!({"$and": [{"$contains": "quick"}, {"$contains": "red"}]}),
            doc,
            false,
        ),
        (
            json!({"$or": [{"$contains": "red"}, {"$regex": "F.x"}]}),
            doc,
            true,
        ),
        (
            json!({"$or": [{"$contains": "red"}, {"$contains": "blue"}]}),
            doc,
            false,
        ),
        (
            json!({"$or": [{"$and": [{"$contains": "red"}]}, {"$not_contains": "x"}]}),
            None,
            true,
        ),
    ];
    for (filter, doc, expected) in rows {
        let w =
            WhereDocument::parse(&filter).unwrap_or_else(|e| panic!("{filter} should parse: {e}"));
        assert_eq!(
            w.matches(doc),
            expected,
            "where_document {filter} on {doc:?}"
        );
    }
}

#[test]
fn where_document_errors() {
    let bad = [
        json!({}),
        json!([]),
        json!("quick"),
        json!(null),
        json!({"$contains": "a", "$not_contains": "b"}),
        json!({"$contains": 1}),
        json!({"$contains": null}),
        json!({"$contains": ["a"]}),
        json!({"$regex": true}),
        json!({"$not_regex": {}}),
        json!({"$eq": "a"}),
        json!({"$bogus": "a"}),
        json!({"contains": "a"}),
        json!({"#document": {"$contains": "a"}}),
        json!({"$and": "a"}),
        json!({"$or": {"$contains": "a"}}),
        json!({"$and": [{}]}),
        json!({"$and": [{"$contains": "a"}, {"$bogus": "b"}]}),
        json!({"$or": [{"a": 1}]}),
    ];
    for filter in bad {
        let err = WhereDocument::parse(&filter).expect_err(&format!("{filter} should be rejected"));
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{filter}");
        assert_eq!(err.to_string(), "Invalid where document clause", "{filter}");
    }
}

mod random_json {
    //! Random filter-shaped JSON: parsing never panics, errors carry only
    //! Chroma's messages, and anything that parses evaluates without panicking.
    use super::*;
    use proptest::prelude::*;

    const KEYS: [&str; 20] = [
        "$and",
        "$or",
        "$eq",
        "$ne",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$contains",
        "$not_contains",
        "$regex",
        "$not_regex",
        "$not",
        "a",
        "tags",
        "#document",
        "#id",
        "",
    ];

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            prop::sample::select(&["a", "", "(", "x.*", "(?i)A", "[0-9]+"][..])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(&KEYS[..]), inner), 0..3).prop_map(
                    |kv| {
                        Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                    }
                ),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn parse_never_panics(json in arb_json()) {
            let meta = metadata(&json!({"a": 1, "tags": ["a", "x"], "#document": "a"}));
            match Where::parse(&json) {
                Ok(w) => {
                    let _ = w.matches(meta.as_ref(), Some("a b"));
                    let _ = w.matches(None, None);
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(msg == "Invalid where clause" || msg.starts_with("Regex syntax error: "), "{}", msg);
                }
            }
            match WhereDocument::parse(&json) {
                Ok(w) => {
                    let _ = w.matches(Some("a b"));
                    let _ = w.matches(None);
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(msg == "Invalid where document clause" || msg.starts_with("Regex syntax error: "), "{}", msg);
                }
            }
        }
    }
}
