//! `POST .../search` (Chroma's Search API, `../shared/chroma-search-api.md`):
//! the error table of §4, the rank algebra of §2.3 through HTTP, ordering,
//! non-finite scores, the no-rank path, group_by, select and projection,
//! `#id` filters, sparse Knn.

mod common;
use common::*;
use serde_json::{json, Value};

/// A collection of 6 records: embedding [i, 1], document "doc i",
/// metadata {cat: "a" for odd i else "b", i, sp: sparse {i: 1.0, 10: 0.5}},
/// with a sparse index on `sp`.
async fn fixture(app: &TestApp) -> String {
    let id = app
        .create_collection(
            json!({"name": "searchable", "schema": {"defaults": {}, "keys": {
            "sp": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {}}}}}}}),
        )
        .await;
    let metadatas: Vec<Value> = (0..6)
        .map(|i| {
            json!({"cat": if i % 2 == 1 { "a" } else { "b" }, "i": i,
            "sp": {"indices": [i, 10], "values": [1.0, 0.5]}})
        })
        .collect();
    let r = app
        .op(
            &id,
            "add",
            json!({"ids": (0..6).map(|i| format!("r{i}")).collect::<Vec<_>>(),
            "embeddings": (0..6).map(|i| vec![i as f32, 1.0]).collect::<Vec<_>>(),
            "documents": (0..6).map(|i| format!("doc {i}")).collect::<Vec<_>>(),
            "metadatas": metadatas}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text());
    id
}

fn knn(q: Value, limit: u32) -> Value {
    json!({"$knn": {"query": q, "limit": limit}})
}

async fn search(app: &TestApp, id: &str, searches: Value) -> Value {
    let r = app.op(id, "search", json!({"searches": searches})).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn dense_knn_select_and_projection() {
    let app = TestApp::new();
    let id = fixture(&app).await;
    let r = search(&app, &id, json!([{"rank": knn(json!([2, 1]), 3), "select": {"keys": ["cat", "#score", "#document", "#score"]}}])).await;
    // Distances tie at 1.0 for r1 and r3: insertion order breaks it.
    assert_eq!(r["ids"], json!([["r2", "r1", "r3"]]));
    assert_eq!(r["scores"], json!([[0.0, 1.0, 1.0]]));
    assert_eq!(r["documents"], json!([["doc 2", "doc 1", "doc 3"]]));
    assert_eq!(
        r["metadatas"],
        json!([[{"cat": "b"}, {"cat": "a"}, {"cat": "a"}]])
    );
    assert_eq!(r["embeddings"], json!([null]));
    assert_eq!(
        r["select"],
        json!([["#document", "#score", "cat"]]),
        "sorted, deduplicated"
    );
    // Several payloads, one view; `#embedding` and `#metadata`; a field no record has.
    let r = search(
        &app,
        &id,
        json!([
            {"rank": knn(json!([0, 1]), 1), "select": {"keys": ["#embedding", "#metadata"]}},
            {"rank": knn(json!([5, 1]), 1), "select": {"keys": ["#id"]}}
        ]),
    )
    .await;
    assert_eq!(r["ids"], json!([["r0"], ["r5"]]));
    assert_eq!(r["embeddings"][0], json!([[0.0, 1.0]]));
    assert_eq!(
        r["metadatas"][0][0]["sp"],
        json!({"#type": "sparse_vector", "indices": [0, 10], "values": [1.0, 0.5], "tokens": null})
    );
    assert_eq!(
        r["metadatas"][1],
        json!([null]),
        "a selected field nobody has: null metadata"
    );
    assert_eq!(r["select"], json!([["#embedding", "#metadata"], ["#id"]]));
}

#[tokio::test]
async fn the_rank_algebra() {
    let app = TestApp::new();
    let id = fixture(&app).await;
    let q = json!([2, 1]);
    let s = json!({"indices": [3, 10], "values": [1.0, 1.0]});
    let run = |rank: Value| {
        let app = &app;
        let id = id.clone();
        async move {
            let r = search(
                app,
                &id,
                json!([{"rank": rank, "select": {"keys": ["#score"]}}]),
            )
            .await;
            (r["ids"][0].clone(), r["scores"][0].clone())
        }
    };
    // Sparse: 1 - q·d over records sharing a dimension (all share 10 here).
    let (ids, scores) = run(json!({"$knn": {"query": s, "key": "sp", "limit": 3}})).await;
    assert_eq!(
        (ids, scores),
        (json!(["r3", "r0", "r1"]), json!([-0.5, 0.5, 0.5]))
    );
    // No defaults: the intersection of the two top lists.
    let both =
        json!({"$sum": [knn(q.clone(), 3), {"$knn": {"query": s, "key": "sp", "limit": 3}}]});
    assert_eq!(run(both).await.0, json!(["r3", "r1"]));
    // A default on the right: the left's ids.
    let left = json!({"$sum": [knn(q.clone(), 2), {"$knn": {"query": s, "key": "sp", "limit": 1, "default": 100}}]});
    assert_eq!(
        run(left).await,
        (json!(["r2", "r1"]), json!([100.0, 101.0]))
    );
    // Positions instead of distances, and RRF as the Python client sends it.
    let rrf = json!({"$mul": [{"$val": -1}, {"$sum": [
        {"$div": {"left": {"$val": 1}, "right": {"$sum": [{"$val": 60}, {"$knn": {"query": q, "limit": 6, "return_rank": true, "default": 1000}}]}}},
        {"$div": {"left": {"$val": 1}, "right": {"$sum": [{"$val": 60}, {"$knn": {"query": {"indices": [5], "values": [1.0]}, "key": "sp", "limit": 6, "return_rank": true, "default": 1000}}]}}}
    ]}]});
    let (ids, scores) = run(rrf).await;
    assert_eq!(ids[0], "r5");
    let want = -(1.0f32 / 65.0 + 1.0 / 60.0);
    assert_eq!(scores[0].as_f64().unwrap() as f32, want);
    // Unary operators; a non-finite score is null and sorts last.
    let (ids, scores) =
        run(json!({"$log": {"$sub": {"left": knn(q.clone(), 3), "right": {"$val": 0.5}}}})).await;
    // ln(-0.5) is a NaN with the sign bit set (x86's default NaN), which
    // total_cmp sorts first, as Chroma's executor does; it is sent as null.
    assert_eq!(ids, json!(["r2", "r1", "r3"]));
    assert_eq!(scores[0], Value::Null);
    assert_eq!(scores[1].as_f64().unwrap() as f32, 0.5f32.ln());
    let (_, scores) =
        run(json!({"$exp": {"$abs": {"$mul": [knn(q.clone(), 1), {"$val": -1}]}}})).await;
    assert_eq!(scores, json!([1.0]));
    let (ids, _) = run(json!({"$max": [knn(q.clone(), 2), {"$min": [knn(q.clone(), 2)]}]})).await;
    assert_eq!(ids, json!(["r2", "r1"]));
    let (ids, scores) =
        run(json!({"$div": {"left": {"$val": 1}, "right": knn(q.clone(), 1)}})).await;
    assert_eq!(
        (ids, scores),
        (json!(["r2"]), json!([null])),
        "1/0 = inf: null"
    );
    // No Knn at all: nothing.
    assert_eq!(run(json!({"$val": 1})).await.0, json!([]));
    assert_eq!(run(json!({"$sum": []})).await.0, json!([]));
}

#[tokio::test]
async fn filters_pages_and_the_no_rank_path() {
    let app = TestApp::new();
    let id = fixture(&app).await;
    let r = search(&app, &id, json!([
        {"filter": {"cat": "a"}, "limit": {"offset": 1, "limit": 2}, "select": {"keys": ["#score"]}},
        {"filter": {"#id": {"$in": ["r1", "r4", "nope"]}}},
        {"filter": {"$and": [{"#document": {"$contains": "doc 3"}}, {"#id": {"$ne": "r2"}}]}},
        {"filter": {"#id": {"$gt": "r1"}}},
        {"filter": null, "rank": knn(json!([2, 1]), 6), "limit": {"offset": 4}},
        {}
    ])).await;
    assert_eq!(r["ids"][0], json!(["r3", "r5"]));
    assert_eq!(r["scores"][0], json!([0.0, 1.0]), "page positions");
    assert_eq!(r["ids"][1], json!(["r1", "r4"]));
    assert_eq!(r["ids"][2], json!(["r3"]));
    assert_eq!(
        r["ids"][3],
        json!([]),
        "other operators on #id match nothing"
    );
    assert_eq!(r["ids"][4], json!(["r4", "r5"]));
    assert_eq!(r["ids"][5].as_array().unwrap().len(), 6);
    assert_eq!(r["scores"][5], Value::Null);
    // The filter restricts every Knn.
    let r = search(
        &app,
        &id,
        json!([{"filter": {"i": {"$gte": 4}}, "rank": knn(json!([0, 1]), 3)}]),
    )
    .await;
    assert_eq!(r["ids"][0], json!(["r4", "r5"]));
    // An empty request, and a collection never written to.
    assert_eq!(
        search(&app, &id, json!([])).await,
        json!({"ids": [], "documents": [], "embeddings": [], "metadatas": [], "scores": [], "select": []})
    );
    let empty = app.create_collection(json!({"name": "empty"})).await;
    let r = search(&app, &empty, json!([{"rank": knn(json!([1, 2]), 3)}, {}])).await;
    assert_eq!(r["ids"], json!([[], []]));
    for level in ["index_and_wal", "index_only", "index_and_bounded_wal"] {
        let r = app
            .op(
                &id,
                "search",
                json!({"searches": [{}], "read_level": level}),
            )
            .await;
        assert_eq!(r.json()["ids"][0].as_array().unwrap().len(), 6);
    }
}

#[tokio::test]
async fn group_by_keeps_k_per_group() {
    let app = TestApp::new();
    let id = fixture(&app).await;
    let r = search(&app, &id, json!([
        {"rank": knn(json!([2, 1]), 6), "group_by": {"keys": ["cat"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 2}}}, "select": {"keys": ["#score", "cat"]}},
        {"rank": knn(json!([2, 1]), 6), "group_by": {"keys": ["cat"], "aggregate": {"$max_k": {"keys": ["i"], "k": 1}}}},
        {"rank": knn(json!([2, 1]), 6), "group_by": {"keys": ["nobody"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}}
    ])).await;
    assert_eq!(r["ids"][0], json!(["r2", "r1", "r3", "r0"]));
    assert_eq!(
        r["ids"][1],
        json!(["r4", "r5"]),
        "the largest i of each group, re-sorted by score"
    );
    assert_eq!(
        r["ids"][2],
        json!(["r2"]),
        "a missing key is one null group"
    );
}

#[tokio::test]
async fn errors_are_chromas() {
    let app = TestApp::new();
    let id = fixture(&app).await;
    let post = |body: Value| {
        let app = &app;
        let id = id.clone();
        async move { app.op(&id, "search", body).await }
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 422, "ChromaError", "missing field `searches`"),
        (json!({"searches": [{"rank": {"$rrf": {}}}]}), 422, "ChromaError", "searches[0].rank: unknown variant `$rrf`, expected one of `$abs`, `$div`, `$exp`, `$knn`, `$log`, `$max`, `$min`, `$mul`, `$sub`, `$sum`, `$val`"),
        (json!({"searches": [{"rank": {"$knn": {"limit": 3}}}]}), 422, "ChromaError", "searches[0].rank.$knn: missing field `query`"),
        (json!({"searches": [{"rank": {"$knn": {"query": {"#type": "dense", "indices": [1], "values": [1.0]}}}}]}), 422, "ChromaError", "searches[0].rank.$knn.query: data did not match any variant of untagged enum QueryVector"),
        (json!({"searches": [{"rank": {"$val": "x"}}]}), 422, "ChromaError", "searches[0].rank.$val: invalid type: string \"x\", expected f32"),
        (json!({"searches": [{"limit": {"limit": -1}}]}), 422, "ChromaError", "searches[0].limit.limit: invalid value: integer `-1`, expected u32"),
        (json!({"searches": [{"select": ["#score"]}]}), 422, "ChromaError", "searches[0].select"),
        (json!({"searches": [{"filter": {"a": {"$bogus": 1}}}]}), 422, "ChromaError", "searches[0].filter: Invalid where clause"),
        (json!({"searches": [], "read_level": "IndexAndWal"}), 422, "ChromaError", "read_level: unknown variant `IndexAndWal`, expected one of `index_and_wal`, `index_only`, `index_and_bounded_wal`"),
        (json!({"searches": [{"group_by": {"keys": ["cat"]}}]}), 400, "InvalidArgumentError", "Validation error: searches[0].group_by: group_by keys and aggregate must both be specified or both be omitted"),
        (json!({"searches": [{"rank": knn(json!([1, 1]), 1), "group_by": {"keys": ["#score"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}}]}), 400, "InvalidArgumentError", "group_by keys must be metadata fields (cannot use #score, #document, #embedding, or #metadata)"),
        (json!({"searches": [{"rank": knn(json!([1, 1]), 1), "group_by": {"keys": ["cat"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 0}}}}]}), 400, "InvalidArgumentError", "aggregate k must be greater than 0"),
        (json!({"searches": [{"rank": knn(json!([1, 1]), 1), "group_by": {"keys": ["cat"], "aggregate": {"$max_k": {"keys": [], "k": 1}}}}]}), 400, "InvalidArgumentError", "aggregate keys must not be empty"),
        (json!({"searches": [{"rank": knn(json!([1, 1]), 1), "group_by": {"keys": ["cat"], "aggregate": {"$max_k": {"keys": ["#document"], "k": 1}}}}]}), 400, "InvalidArgumentError", "aggregate keys must be metadata fields or #score (cannot use #document, #embedding, or #metadata)"),
        (json!({"searches": [{}, {"group_by": {"keys": ["cat"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}}]}), 400, "InvalidArgumentError", "Validation error: searches[1].__all__: group_by requires rank expression to be specified"),
        (json!({"searches": [{"rank": {"$knn": {"query": {"indices": [3, 1], "values": [1.0, 1.0]}, "key": "sp"}}}]}), 400, "InvalidArgumentError", "Validation error: searches[0].rank: Invalid sparse vector in KNN query: Sparse vector indices must be sorted in strictly ascending order (no duplicates)"),
        (json!({"searches": [{"rank": {"$knn": {"query": {"indices": [1], "values": [1.0, 2.0]}, "key": "sp"}}}]}), 400, "InvalidArgumentError", "Validation error: searches[0].rank: Invalid sparse vector in KNN query: Sparse vector indices, values, and tokens (when present) must have the same length"),
        // Several field errors, joined with a newline as Chroma joins them.
        (json!({"searches": [{"rank": {"$knn": {"query": {"indices": [3, 1], "values": [1.0, 1.0]}, "key": "sp"}}, "group_by": {"keys": ["cat"]}}, {"group_by": {"keys": ["cat"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}}]}), 400, "InvalidArgumentError", "Validation error: searches[0].rank: Invalid sparse vector in KNN query: Sparse vector indices must be sorted in strictly ascending order (no duplicates)\nsearches[0].group_by: group_by keys and aggregate must both be specified or both be omitted\nsearches[1].__all__: group_by requires rank expression to be specified"),
        (json!({"searches": [{"rank": {"$knn": {"query": {"indices": [1], "values": [1.0]}, "key": "cat"}}}]}), 400, "InvalidArgumentError", "Cannot filter using metadata key 'cat' with type 'SparseVector' because indexing is disabled"),
        (json!({"searches": [{"rank": {"$knn": {"query": {"indices": [1], "values": [1.0]}}}}]}), 400, "InvalidArgumentError", "Cannot filter using metadata key '#embedding' with type 'SparseVector' because indexing is disabled"),
        (json!({"searches": [{"rank": knn(json!([1, 2, 3]), 1)}]}), 400, "InvalidArgumentError", "Collection expecting embedding with dimension of 2, got 3"),
    ];
    for (body, status, error, message) in cases {
        post(body.clone())
            .await
            .assert_error(status, error, message);
    }
    let syntax = app
        .request(
            axum::http::Request::post(format!("{C}/{id}/search"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    "{\"searches\": [{\"rank\": {\"$val\": 1, \"$abs\": {\"$val\": 1}}}]}",
                ))
                .unwrap(),
        )
        .await;
    // A serde quirk Chroma shows too: a syntax-class error.
    syntax.assert_error(400, "InvalidArgumentError", "Failed to parse the request body as JSON: searches[0].rank: expected value at line 1 column");
    app.op("not-a-uuid", "search", json!({"searches": []}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Collection ID is not a valid UUIDv4",
        );
    app.op(
        "00000000-0000-0000-0000-000000000001",
        "search",
        json!({"searches": []}),
    )
    .await
    .assert_error(
        404,
        "NotFoundError",
        "Collection [00000000-0000-0000-0000-000000000001] does not exist",
    );
}

#[tokio::test]
async fn bm25_weights_the_query_by_idf() {
    // The worked example of ../shared/chroma-search-api.md §5.4, with the
    // vectors ChromaBm25EmbeddingFunction gives its documents and query.
    let app = TestApp::new();
    let sparse = |bm25: bool| json!({"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {"bm25": bm25}}}});
    let id = app
        .create_collection(json!({"name": "bm25", "schema": {"defaults": {}, "keys": {"bm25": sparse(true), "plain": sparse(false)}}}))
        .await;
    let d1 = json!({"indices": [226376294u32, 741580288u32, 771291085u32, 1312749093u32, 1621867415u32, 1913189942u32], "values": vec![1.6652868f32; 6]});
    let d2 = json!({"indices": [226376294u32, 771291085u32, 1312749093u32, 1621867415u32], "values": vec![1.6741974f32; 4]});
    let d3 = json!({"indices": [5, 6], "values": [1.0, 1.0]});
    let r = app
        .op(&id, "add", json!({"ids": ["d1", "d2", "d3"], "embeddings": [[1.0], [2.0], [3.0]],
            "metadatas": [{"bm25": d1, "plain": d1}, {"bm25": d2, "plain": d2}, {"bm25": d3, "plain": d3}]}))
        .await;
    assert_eq!(r.status.as_u16(), 201);
    let q = json!({"indices": [771291085u32, 1621867415u32], "values": [1.6832038, 1.6832038]});
    let r = search(
        &app,
        &id,
        json!([
            {"rank": {"$knn": {"query": q, "key": "bm25"}}, "select": {"keys": ["#score"]}},
            {"rank": {"$knn": {"query": q, "key": "plain"}}, "select": {"keys": ["#score"]}}
        ]),
    )
    .await;
    assert_eq!(
        r["ids"],
        json!([["d2", "d1"], ["d2", "d1"]]),
        "d3 shares no term: not returned"
    );
    let close =
        |v: &Value, want: f64| assert!((v.as_f64().unwrap() - want).abs() < 1e-4, "{v} vs {want}");
    close(&r["scores"][0][0], -1.64895);
    close(&r["scores"][0][1], -1.63486);
    close(&r["scores"][1][0], -4.63603);
    close(&r["scores"][1][1], -4.60603);
    // N and n_t follow deletes: with d1 gone, n_quick = n_fox = 1 of N = 2.
    app.op(&id, "delete", json!({"ids": ["d1"]})).await;
    let r = search(
        &app,
        &id,
        json!([{"rank": {"$knn": {"query": q, "key": "bm25"}}, "select": {"keys": ["#score"]}}]),
    )
    .await;
    let idf = (1.0f32 + (2.0 - 1.0 + 0.5) / (1.0 + 0.5)).ln();
    close(
        &r["scores"][0][0],
        f64::from(1.0 - 2.0 * idf * 1.6832038 * 1.6741974),
    );
}
