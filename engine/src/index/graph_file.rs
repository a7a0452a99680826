//! The graph file of a segment: the compact HNSW adjacency ([`Graph`]) with
//! the parameters it was built with, behind our own checksum. `hnsw_rs`'s
//! dump and loader are not used: its loader unwraps and calls
//! `process::exit` on bad input, and it would bring back a second copy of
//! the vectors. Everything here is checked before it is used, so a damaged
//! or foreign file yields [`Error::Corrupted`] naming it, never a panic.
//!
//! Layout (every integer little-endian):
//!
//! ```text
//! header, 32 bytes
//!   0  [u8; 8]  magic  "CHRGRAPH"
//!   8  u32      format version (2; 1 is still read)
//!  12  u32      reserved, 0
//!  16  u64      body length in bytes
//!  24  u32      crc32 of the body
//!  28  u32      crc32 of header bytes 0..28
//! body
//!   u32 dim | u32 rows (n) | u8 space (0 l2, 1 cosine, 2 ip) | u8 layers (L)
//!   u16 reserved | u32 max_neighbors | u32 ef_construction
//!   u32 entry row (u32::MAX when n = 0)
//!   layer 0:      u32 offsets[n + 1] | u32 neighbours[offsets[n]]
//!   layer 1..L-1: u32 count | u32 nodes[count] (ascending)
//!                 u32 offsets[count + 1] | u32 neighbours[offsets[count]]
//!   format 2 only — what a search needs besides the adjacency, so a load
//!   does not read the f32 column to derive it (`sq8.rs`):
//!   f32 offset[dim] | f32 step[dim] | u8 codes[n · dim]
//!   u32 count | f32 squared norms[count]   (l2: n, else 0)
//!   u32 count | f32 norms[count]           (cosine: n, else 0)
//! ```
//!
//! A format-1 file (no such section) is still read; the section is then
//! derived from the column.
//!
//! Publication is atomic: the bytes go to `<file>.tmp`, which is fsynced,
//! renamed over `<file>`, and the directory is fsynced.

use std::path::Path;

use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::types::Space;

use super::graph::{Graph, Layer};
use super::sq8::Sq8;

const MAGIC: [u8; 8] = *b"CHRGRAPH";
const VERSION: u32 = 2;
/// The format before the 8-bit copy was stored.
const VERSION_1: u32 = 1;
const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + MAGIC.len();
const RESERVED_OFFSET: usize = VERSION_OFFSET + 4;
const BODY_LEN_OFFSET: usize = RESERVED_OFFSET + 4;
const BODY_CRC_OFFSET: usize = BODY_LEN_OFFSET + 8;
const HEADER_CRC_OFFSET: usize = BODY_CRC_OFFSET + 4;
/// Size of the header.
pub const HEADER_LEN: usize = HEADER_CRC_OFFSET + 4;
const NO_ENTRY: u32 = u32::MAX;

/// What a graph file holds besides the adjacency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GraphParams {
    pub dim: u32,
    pub space: Space,
    pub max_neighbors: u32,
    pub ef_construction: u32,
}

fn space_code(space: Space) -> u8 {
    match space {
        Space::L2 => 0,
        Space::Cosine => 1,
        Space::Ip => 2,
    }
}

fn space_from_code(code: u8) -> Option<Space> {
    match code {
        0 => Some(Space::L2),
        1 => Some(Space::Cosine),
        2 => Some(Space::Ip),
        _ => None,
    }
}

/// What a search needs besides the adjacency, stored from format 2 on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Derived {
    /// The 8-bit copy of the vectors.
    pub sq8: Sq8,
    /// Cosine: every row's norm; empty otherwise.
    pub norms: Vec<f32>,
}

fn put_f32s(out: &mut Vec<u8>, xs: &[f32]) {
    out.reserve(xs.len() * 4);
    for x in xs {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn put_u32s(out: &mut Vec<u8>, xs: &[u32]) {
    out.reserve(xs.len() * 4);
    for x in xs {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// The complete file contents for `graph`: format 2 with `derived`,
/// format 1 without it.
pub(crate) fn encode(graph: &Graph, params: &GraphParams, derived: Option<&Derived>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&params.dim.to_le_bytes());
    body.extend_from_slice(&graph.n.to_le_bytes());
    body.push(space_code(params.space));
    body.push(graph.layers.len() as u8);
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&params.max_neighbors.to_le_bytes());
    body.extend_from_slice(&params.ef_construction.to_le_bytes());
    body.extend_from_slice(&graph.entry.unwrap_or(NO_ENTRY).to_le_bytes());
    for (l, layer) in graph.layers.iter().enumerate() {
        if l > 0 {
            body.extend_from_slice(&(layer.nodes.len() as u32).to_le_bytes());
            put_u32s(&mut body, &layer.nodes);
        }
        put_u32s(&mut body, &layer.offsets);
        put_u32s(&mut body, &layer.neighbours);
    }
    if let Some(d) = derived {
        let (offset, step, codes, sq_norms) = d.sq8.parts();
        put_f32s(&mut body, offset);
        put_f32s(&mut body, step);
        body.extend_from_slice(codes);
        body.extend_from_slice(&(sq_norms.len() as u32).to_le_bytes());
        put_f32s(&mut body, sq_norms);
        body.extend_from_slice(&(d.norms.len() as u32).to_le_bytes());
        put_f32s(&mut body, &d.norms);
    }
    let version = if derived.is_some() {
        VERSION
    } else {
        VERSION_1
    };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    let header_crc = crc32fast::hash(&out[..HEADER_CRC_OFFSET]);
    out.extend_from_slice(&header_crc.to_le_bytes());
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(&body);
    out
}

/// Reads little-endian values from a checked body; running off the end is
/// a corruption, reported with what was being read.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &str) -> std::result::Result<&'a [u8], String> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(format!("truncated body while reading {what}"));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &str) -> std::result::Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> std::result::Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> std::result::Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f32s(&mut self, count: usize, what: &str) -> std::result::Result<Vec<f32>, String> {
        Ok(self
            .u32s(count, what)?
            .into_iter()
            .map(f32::from_bits)
            .collect())
    }

    fn u32s(&mut self, count: usize, what: &str) -> std::result::Result<Vec<u32>, String> {
        let len = count
            .checked_mul(4)
            .ok_or_else(|| format!("impossible length of {what}"))?;
        let b = self.take(len, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// What a graph file holds.
pub(crate) type Decoded = (Graph, GraphParams, Option<Derived>);

/// Checks the header and the checksums, then decodes and validates the
/// graph (and, format 2, the derived section). The error string says what
/// failed.
pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<Decoded, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!(
            "{} bytes is shorter than the {HEADER_LEN}-byte header",
            bytes.len()
        ));
    }
    let header = &bytes[..HEADER_LEN];
    if header[MAGIC_OFFSET..VERSION_OFFSET] != MAGIC {
        return Err("bad magic: not a Chromite graph file".into());
    }
    let le32 =
        |o: usize| u32::from_le_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]);
    let stored_header_crc = le32(HEADER_CRC_OFFSET);
    if crc32fast::hash(&header[..HEADER_CRC_OFFSET]) != stored_header_crc {
        return Err("header checksum mismatch".into());
    }
    let version = le32(VERSION_OFFSET);
    if version != VERSION && version != VERSION_1 {
        return Err(format!(
            "unsupported format version {version} (this build reads {VERSION_1} and {VERSION})"
        ));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&header[BODY_LEN_OFFSET..BODY_CRC_OFFSET]);
    let body_len = u64::from_le_bytes(len8);
    let body = &bytes[HEADER_LEN..];
    if body.len() as u64 != body_len {
        return Err(format!(
            "body is {} bytes, header says {body_len}",
            body.len()
        ));
    }
    if crc32fast::hash(body) != le32(BODY_CRC_OFFSET) {
        return Err("body checksum mismatch".into());
    }

    let mut r = Reader { buf: body, pos: 0 };
    let dim = r.u32("dimension")?;
    let n = r.u32("row count")?;
    let space_byte = r.u8("space")?;
    let space =
        space_from_code(space_byte).ok_or_else(|| format!("unknown space code {space_byte}"))?;
    let layer_count = r.u8("layer count")? as usize;
    let _reserved = r.u16("reserved")?;
    let max_neighbors = r.u32("max_neighbors")?;
    let ef_construction = r.u32("ef_construction")?;
    let entry = r.u32("entry point")?;
    let mut layers = Vec::with_capacity(layer_count);
    for l in 0..layer_count {
        let nodes = if l == 0 {
            Vec::new()
        } else {
            let count = r.u32("layer node count")? as usize;
            r.u32s(count, "layer nodes")?
        };
        let count = if l == 0 { n as usize } else { nodes.len() };
        let offsets = r.u32s(count + 1, "offsets")?;
        let edges = *offsets.last().unwrap_or(&0) as usize;
        let neighbours = r.u32s(edges, "neighbours")?;
        layers.push(Layer {
            nodes,
            offsets,
            neighbours,
        });
    }
    let derived = if version == VERSION {
        let (d, rows) = (dim as usize, n as usize);
        let offset = r.f32s(d, "8-bit offsets")?;
        let step = r.f32s(d, "8-bit steps")?;
        let codes_len = rows
            .checked_mul(d)
            .ok_or("impossible length of the 8-bit codes")?;
        let codes = r.take(codes_len, "8-bit codes")?.to_vec();
        let count = r.u32("squared norm count")? as usize;
        let sq_norms = r.f32s(count, "squared norms")?;
        let sq8 = Sq8::from_parts(d, rows, space, offset, step, codes, sq_norms)?;
        let count = r.u32("norm count")? as usize;
        let want = if space == Space::Cosine { rows } else { 0 };
        if count != want {
            return Err(format!("{count} norms stored, {want} expected"));
        }
        let norms = r.f32s(count, "norms")?;
        if !norms.iter().all(|x| x.is_finite() && *x >= 0.0) {
            return Err("a stored norm is negative or not finite".into());
        }
        Some(Derived { sq8, norms })
    } else {
        None
    };
    if r.pos != body.len() {
        return Err(format!(
            "{} unexpected bytes after the last section",
            body.len() - r.pos
        ));
    }
    let graph = Graph {
        n,
        entry: (entry != NO_ENTRY).then_some(entry),
        layers,
    };
    graph.validate()?;
    Ok((
        graph,
        GraphParams {
            dim,
            space,
            max_neighbors,
            ef_construction,
        },
        derived,
    ))
}

/// Writes `graph` and what a search derives from the column to `path`,
/// atomically and durably (see the file comment).
pub(crate) fn write(
    fs: &dyn Fs,
    path: &Path,
    graph: &Graph,
    params: &GraphParams,
    derived: &Derived,
) -> Result<()> {
    crate::fs::atomic_write(fs, path, &encode(graph, params, Some(derived)))
}

/// Reads and checks the graph file at `path`.
pub(crate) fn read(path: &Path) -> Result<Decoded> {
    let bytes = crate::fs::read(path)?;
    decode(&bytes).map_err(|detail| Error::corrupted(path, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Graph, GraphParams) {
        let g = Graph {
            n: 3,
            entry: Some(2),
            layers: vec![
                Layer {
                    nodes: vec![],
                    offsets: vec![0, 2, 3, 5],
                    neighbours: vec![1, 2, 0, 0, 1],
                },
                Layer {
                    nodes: vec![0, 2],
                    offsets: vec![0, 1, 2],
                    neighbours: vec![2, 0],
                },
            ],
        };
        (
            g,
            GraphParams {
                dim: 4,
                space: Space::Ip,
                max_neighbors: 16,
                ef_construction: 100,
            },
        )
    }

    /// The 8-bit copy and norms of 3 rows of dimension 4 (`sample`'s).
    fn derived(space: Space) -> Derived {
        let column: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        Derived {
            sq8: Sq8::encode(&column, 4, space),
            norms: if space == Space::Cosine {
                column
                    .chunks_exact(4)
                    .map(crate::index::distance::norm)
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn round_trips() {
        let (g, p) = sample();
        assert_eq!(decode(&encode(&g, &p, None)).unwrap(), (g.clone(), p, None));
        for space in [Space::L2, Space::Cosine, Space::Ip] {
            let p = GraphParams { space, ..p };
            let d = derived(space);
            assert_eq!(
                decode(&encode(&g, &p, Some(&d))).unwrap(),
                (g.clone(), p, Some(d))
            );
        }
        let empty = Graph::default();
        assert_eq!(decode(&encode(&empty, &p, None)).unwrap().0, empty);
    }

    #[test]
    fn a_derived_section_that_does_not_fit_is_rejected() {
        let (g, p) = sample();
        // Norms stored for a space that has none.
        let mut d = derived(Space::Ip);
        d.norms = vec![1.0; 3];
        let err = decode(&encode(&g, &p, Some(&d))).unwrap_err();
        assert!(err.contains("norms stored"), "{err}");
        // Squared norms of l2 in an ip file.
        let d = derived(Space::L2);
        let err = decode(&encode(&g, &p, Some(&d))).unwrap_err();
        assert!(err.contains("squared norms"), "{err}");
    }

    #[test]
    fn every_single_byte_flip_and_truncation_is_detected() {
        let (g, p) = sample();
        let bytes = encode(&g, &p, Some(&derived(p.space)));
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(decode(&b).is_err(), "flip at byte {i} went unnoticed");
            assert!(
                decode(&bytes[..i]).is_err(),
                "truncation to {i} bytes went unnoticed"
            );
        }
    }

    #[test]
    fn a_checksummed_but_inconsistent_body_is_rejected() {
        let (mut g, p) = sample();
        g.layers[0].neighbours[0] = 7; // out of range, yet correctly checksummed
        let err = decode(&encode(&g, &p, None)).unwrap_err();
        assert!(err.contains("neighbour 7"), "{err}");
    }
}
