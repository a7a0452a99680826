//! # chromite-server (placeholder; the server work fills this in)
