//! # chromite-embed (placeholder; the embedder work fills this in)
