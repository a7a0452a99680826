//! `POST .../fork` and `GET .../fork_count` (`../shared/chroma-search-api.md` §7).

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn fork_answers_a_collection_and_counts_edges_per_tree() {
    let app = TestApp::new();
    let id = app
        .create_collection(json!({"name": "root", "metadata": {"owner": "me"}}))
        .await;
    app.op(&id, "add", json!({"ids": ["a", "b"], "embeddings": [[1.0, 0.0], [0.0, 1.0]], "metadatas": [{"k": 1}, null]}))
        .await;
    let r = app
        .op(&id, "fork", json!({"new_name": "child", "ignored": true}))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let child = r.json();
    assert_eq!(child["name"], "child");
    assert_ne!(child["id"], id.as_str());
    assert_eq!(
        (child["tenant"].as_str(), child["database"].as_str()),
        (Some("default_tenant"), Some("default_database"))
    );
    assert_eq!(child["metadata"], json!({"owner": "me"}));
    assert_eq!(child["dimension"], 2);
    // §7: a fork answers version 0.
    assert_eq!(child["version"], 0);
    assert_eq!(
        child["schema"]["keys"]["k"]["int"]["int_inverted_index"]["enabled"],
        true
    );
    let child_id = child["id"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("{C}/{child_id}/count")).await.json(), 2);
    for (who, n) in [(&id, 1), (&child_id, 1)] {
        assert_eq!(
            app.get(&format!("{C}/{who}/fork_count")).await.json(),
            json!({"count": n})
        );
    }
    app.op(&child_id, "fork", json!({"new_name": "grandchild"}))
        .await;
    assert_eq!(
        app.get(&format!("{C}/{id}/fork_count")).await.json(),
        json!({"count": 2})
    );
    // Chroma's errors.
    app.op(&id, "fork", json!({"new_name": "child"}))
        .await
        .assert_error(409, "ChromaError", "Collection [child] already exists");
    app.op(&id, "fork", json!({})).await.assert_error(
        422,
        "ChromaError",
        "missing field `new_name`",
    );
    app.op(&id, "fork", json!({"new_name": "x"}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Validation error: name: Expected a name containing 3-512 characters",
        );
    app.op("nope", "fork", json!({"new_name": "abc"}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Collection ID is not a valid UUIDv4",
        );
    let missing = "00000000-0000-0000-0000-000000000009";
    app.op(missing, "fork", json!({"new_name": "abc"}))
        .await
        .assert_error(404, "NotFoundError", "does not exist");
    app.get(&format!("{C}/{missing}/fork_count"))
        .await
        .assert_error(404, "NotFoundError", "does not exist");
}
