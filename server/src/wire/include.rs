//! `include`: which fields a get or query returns. The response echoes the
//! list exactly as sent (duplicates included).

use serde::{Deserialize, Serialize};

/// One entry of an `include` list (`"data"` and anything else is a 422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncludeItem {
    /// Query distances (accepted and ignored by get).
    Distances,
    /// Documents.
    Documents,
    /// Embeddings.
    Embeddings,
    /// Metadata.
    Metadatas,
    /// URIs.
    Uris,
}

/// Get's default: `["documents", "metadatas"]`.
pub const GET_DEFAULT: &[IncludeItem] = &[IncludeItem::Documents, IncludeItem::Metadatas];

/// Query's default: `["documents", "metadatas", "distances"]`.
pub const QUERY_DEFAULT: &[IncludeItem] = &[
    IncludeItem::Documents,
    IncludeItem::Metadatas,
    IncludeItem::Distances,
];
