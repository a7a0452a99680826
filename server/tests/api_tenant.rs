//! Tenants and databases (§4.1, §4.2).

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn tenant_create_get_duplicate_and_short_name() {
    let app = TestApp::new();
    let r = app.post("/api/v2/tenants", json!({"name": "acme"})).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    assert_eq!(
        app.get("/api/v2/tenants/acme").await.json(),
        json!({"name": "acme", "resource_name": null})
    );
    app.post("/api/v2/tenants", json!({"name": "acme"}))
        .await
        .assert_error(409, "ChromaError", "Tenant [acme] already exists");
    app.get("/api/v2/tenants/nobody").await.assert_error(
        404,
        "NotFoundError",
        "Tenant [nobody] not found",
    );
    app.post("/api/v2/tenants", json!({"name": "t1"})).await.assert_error(
        400,
        "InvalidArgumentError",
        r#"Validation error: name: Validation error: length [{"min": Number(3), "value": String("t1")}]"#,
    );
    let r = app
        .call(
            axum::http::Method::PATCH,
            "/api/v2/tenants/acme",
            Some(json!({"resource_name": "x"})),
        )
        .await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
}

#[tokio::test]
async fn databases_create_list_get_delete() {
    let app = TestApp::new();
    app.post("/api/v2/tenants", json!({"name": "acme"})).await;
    for name in ["zeta", "alpha", "mid"] {
        let r = app
            .post("/api/v2/tenants/acme/databases", json!({"name": name}))
            .await;
        assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    }
    let list = app.get("/api/v2/tenants/acme/databases").await.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "mid", "zeta"]);
    assert_eq!(list[0]["tenant"], "acme");
    uuid::Uuid::parse_str(list[0]["id"].as_str().unwrap()).unwrap();
    let page = app
        .get("/api/v2/tenants/acme/databases?limit=1&offset=1")
        .await
        .json();
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["name"], "mid");
    assert_eq!(
        app.get("/api/v2/tenants/acme/databases?limit=0")
            .await
            .json(),
        json!([])
    );
    assert_eq!(
        app.get("/api/v2/tenants/acme/databases?offset=10")
            .await
            .json(),
        json!([])
    );

    let d = app.get("/api/v2/tenants/acme/databases/alpha").await.json();
    assert_eq!(
        (d["name"].as_str(), d["tenant"].as_str()),
        (Some("alpha"), Some("acme"))
    );
    app.post("/api/v2/tenants/acme/databases", json!({"name": "alpha"}))
        .await
        .assert_error(409, "ChromaError", "Database [alpha] already exists");
    app.post("/api/v2/tenants/acme/databases", json!({"name": "-x"}))
        .await
        .assert_error(
            400,
            "InvalidArgumentError",
            "Expected a name containing 3-512 characters",
        );
    app.get("/api/v2/tenants/acme/databases/nope")
        .await
        .assert_error(
            404,
            "NotFoundError",
            "Database [nope] not found. Are you sure it exists?",
        );

    // deleting a database deletes its collections
    let c = "/api/v2/tenants/acme/databases/alpha/collections";
    assert_eq!(
        app.post(c, json!({"name": "inside"})).await.status,
        StatusCode::OK
    );
    let r = app.delete("/api/v2/tenants/acme/databases/alpha").await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    app.delete("/api/v2/tenants/acme/databases/alpha")
        .await
        .assert_error(404, "NotFoundError", "Database [alpha] not found");
    app.post(c, json!({"name": "inside"})).await.assert_error(
        400,
        "InvalidArgumentError",
        "Database [alpha] does not exist",
    );
}

#[tokio::test]
async fn default_tenant_and_database_exist() {
    let app = TestApp::new();
    assert_eq!(
        app.get("/api/v2/tenants/default_tenant").await.status,
        StatusCode::OK
    );
    let d = app
        .get("/api/v2/tenants/default_tenant/databases/default_database")
        .await
        .json();
    assert_eq!(d["id"], "00000000-0000-0000-0000-000000000000");
}
