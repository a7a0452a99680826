//! Tenant and database requests and responses.

use serde::{Deserialize, Serialize};

/// `POST /api/v2/tenants` and `POST .../databases`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateNamed {
    /// The name to create.
    pub name: String,
}

/// `PATCH /api/v2/tenants/{t}` (cloud; accepted and ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct UpdateTenant {
    /// Cloud resource name.
    #[serde(default)]
    pub resource_name: Option<String>,
}

/// `GET /api/v2/tenants/{t}`.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// Name.
    pub name: String,
    /// Always null on a single node.
    pub resource_name: Option<String>,
}

/// A database object.
#[derive(Debug, Clone, Serialize)]
pub struct Database {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning tenant.
    pub tenant: String,
}
