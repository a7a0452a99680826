//! Chroma's `where` and `where_document` filters: parsed from JSON into a
//! typed AST, evaluated against a record's metadata and document.
//!
//! PLACEHOLDER CONTRACT — the filter work replaces this file's bodies; the
//! names and signatures below are what the rest of the engine and the
//! server call.

use serde_json::Value;

use crate::error::Result;
use crate::types::Metadata;

/// A parsed `where` clause (metadata filter; may also hold `#document` tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Where {
    _todo: (),
}

impl Where {
    /// Parses Chroma's JSON `where`; errors are `InvalidArgument("Invalid where clause")`-style.
    pub fn parse(_json: &Value) -> Result<Where> {
        todo!("filter parser")
    }

    /// Whether a record with this metadata and document matches.
    pub fn matches(&self, _metadata: Option<&Metadata>, _document: Option<&str>) -> bool {
        todo!("filter eval")
    }
}

/// A parsed `where_document` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct WhereDocument {
    _todo: (),
}

impl WhereDocument {
    /// Parses Chroma's JSON `where_document`.
    pub fn parse(_json: &Value) -> Result<WhereDocument> {
        todo!("where_document parser")
    }

    /// Whether a record with this document matches.
    pub fn matches(&self, _document: Option<&str>) -> bool {
        todo!("where_document eval")
    }
}
