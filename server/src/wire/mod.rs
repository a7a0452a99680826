//! Serde DTOs with exactly Chroma's JSON shapes. No logic beyond what serde
//! does: validation and mapping onto engine types live in `convert.rs`.

pub mod collection;
pub mod embedding;
pub mod include;
pub mod json;
pub mod metadata;
pub mod query;
pub mod record;
pub mod search;
pub mod system;
pub mod tenant;

pub use embedding::Embedding;
pub use include::IncludeItem;
pub use json::ApiJson;
