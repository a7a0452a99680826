//! Opening a segment: mmap, header check; lazy, checked access to the
//! records section and the vector column.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use memmap2::Mmap;

use super::records::SegmentRecords;
use super::{Header, HEADER_LEN};
use crate::error::{Error, Result};
use crate::filter::MetadataIndex;
use crate::index::{SegmentGraph, VectorColumn};
use crate::sparse::section::TermList;
use crate::sparse::SparseSection;

/// Where an id sits in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    /// A live record at this row.
    Row(u32),
    /// A tombstone.
    Tomb,
}

/// The decoded records section plus an id index.
pub(crate) struct Loaded {
    pub(crate) recs: SegmentRecords,
    pub(crate) index: HashMap<String, Loc>,
}

/// An open, immutable segment.
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    pub(crate) file_no: u64,
    pub(crate) header: Header,
    mmap: Mmap,
    /// The mapped file, kept open for single-row reads (`column`).
    file: File,
    loaded: OnceLock<std::result::Result<Arc<Loaded>, String>>,
    meta_index: OnceLock<MetadataIndex>,
    vectors_ok: OnceLock<std::result::Result<(), String>>,
    /// The HNSW graph, once the background builder has published it.
    graph: OnceLock<SegmentGraph>,
    /// Every row's norm, taken the first time a cosine scan needs them
    /// (while the segment has no graph), so a scan reads each row once.
    norms: OnceLock<Vec<f32>>,
    /// The sparse section's directory, decoded on first use (`None`: the
    /// file has no sparse section).
    sparse: OnceLock<std::result::Result<Option<SparseSection>, String>>,
}

impl Segment {
    /// Maps the file and checks its header; reads nothing else.
    pub(crate) fn open(dir: &Path, file_no: u64) -> Result<Segment> {
        let path = super::path(dir, file_no);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len < HEADER_LEN as u64 {
            return Err(Error::corrupted(
                &path,
                format!("file is {len} bytes, shorter than the segment header"),
            ));
        }
        #[allow(unsafe_code)]
        // SAFETY: segment files are immutable once renamed into place: the
        // engine never writes, truncates or reuses a published segment file
        // (compaction writes new files and deletes old ones only after no
        // snapshot can reach them; deleting an mmapped file keeps the pages
        // alive). The directory is guarded by an exclusive lock file, so no
        // other cooperating process modifies it either.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
        let header = Header::decode(&mmap, len).map_err(|d| Error::corrupted(&path, d))?;
        // Graph searches read scattered rows: no read-ahead around them.
        #[cfg(unix)]
        let _ = mmap.advise(memmap2::Advice::Random);
        Ok(Segment {
            path,
            file_no,
            header,
            mmap,
            file,
            loaded: OnceLock::new(),
            meta_index: OnceLock::new(),
            vectors_ok: OnceLock::new(),
            graph: OnceLock::new(),
            norms: OnceLock::new(),
            sparse: OnceLock::new(),
        })
    }

    /// Number of live rows.
    pub(crate) fn rows(&self) -> usize {
        self.header.rows as usize
    }

    /// Vector dimension.
    pub(crate) fn dim(&self) -> usize {
        self.header.dim as usize
    }

    /// File size in bytes.
    pub(crate) fn file_len(&self) -> u64 {
        self.mmap.len() as u64
    }

    /// The records section and id index, decoded (and checked) on first use.
    pub(crate) fn loaded(&self) -> Result<&Arc<Loaded>> {
        let r = self.loaded.get_or_init(|| {
            let h = &self.header;
            let bytes = &self.mmap[h.records_offset as usize..h.records_end() as usize];
            if crc32fast::hash(bytes) != h.records_crc {
                return Err("records section checksum mismatch".into());
            }
            let recs = SegmentRecords::decode(bytes, h.rows)?;
            let mut index = HashMap::with_capacity(recs.ids.len() + recs.tombstones.len());
            for t in &recs.tombstones {
                index.insert(t.clone(), Loc::Tomb);
            }
            for (row, id) in recs.ids.iter().enumerate() {
                if index.insert(id.clone(), Loc::Row(row as u32)).is_some() {
                    return Err(format!("id {id:?} appears twice"));
                }
            }
            Ok(Arc::new(Loaded { recs, index }))
        });
        r.as_ref()
            .map_err(|d| Error::corrupted(&self.path, d.clone()))
    }

    /// The sparse section's bytes (empty when the file has none).
    fn sparse_bytes(&self) -> &[u8] {
        let h = &self.header;
        if h.records_end() >= self.mmap.len() as u64 {
            return &[];
        }
        &self.mmap[h.sparse_offset() as usize..]
    }

    /// The sparse section's directory, checked and decoded on first use.
    fn sparse(&self) -> Result<Option<&SparseSection>> {
        let r = self.sparse.get_or_init(|| {
            let bytes = self.sparse_bytes();
            if bytes.is_empty() {
                return Ok(None);
            }
            SparseSection::decode(bytes, self.header.sparse_crc).map(Some)
        });
        match r {
            Ok(s) => Ok(s.as_ref()),
            Err(d) => Err(Error::corrupted(&self.path, d.clone())),
        }
    }

    /// The posting lists of `terms` under sparse key `key` (`None` for a
    /// term no row holds), or `None` when the segment has no postings for
    /// the key (written before its index existed, or by format 2).
    pub(crate) fn sparse_lists(
        &self,
        key: &str,
        terms: &[u32],
    ) -> Result<Option<Vec<Option<TermList<'_>>>>> {
        let Some(sec) = self.sparse()? else {
            return Ok(None);
        };
        let Some(k) = sec.key(key) else {
            return Ok(None);
        };
        let bytes = self.sparse_bytes();
        terms
            .iter()
            .map(|&t| sec.term(bytes, k, t))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map(Some)
            .map_err(|d| Error::corrupted(&self.path, d))
    }

    /// `(postings, bytes)` of the sparse section (every key's).
    pub(crate) fn sparse_size(&self) -> Result<(u64, u64)> {
        let bytes = self.sparse_bytes().len() as u64;
        Ok((self.sparse()?.map_or(0, |s| s.postings_count()), bytes))
    }

    /// The metadata index of this segment, built on first use.
    pub(crate) fn meta_index(&self) -> Result<&MetadataIndex> {
        if let Some(ix) = self.meta_index.get() {
            return Ok(ix);
        }
        let loaded = self.loaded()?;
        Ok(self.meta_index.get_or_init(|| {
            MetadataIndex::build(
                loaded
                    .recs
                    .metadatas
                    .iter()
                    .enumerate()
                    .map(|(row, m)| (row as u32, m.as_ref())),
            )
        }))
    }

    /// The vector column as `rows * dim` floats, used in place. Its checksum
    /// is verified on first use.
    pub(crate) fn vectors(&self) -> Result<&[f32]> {
        let h = &self.header;
        let bytes = &self.mmap[h.vectors_offset as usize..h.records_offset as usize];
        let ok = self.vectors_ok.get_or_init(|| {
            if crc32fast::hash(bytes) != h.vectors_crc {
                return Err("vector column checksum mismatch".into());
            }
            // The checksum pass touched every row; searches need far fewer.
            self.release_vector_pages();
            Ok(())
        });
        ok.as_ref()
            .map_err(|d| Error::corrupted(&self.path, d.clone()))?;
        bytemuck::try_cast_slice::<u8, f32>(bytes).map_err(|e| {
            Error::corrupted(&self.path, format!("vector column is not f32-aligned: {e}"))
        })
    }

    /// The vector column as a search reads it: scanned in place through
    /// the mapping, single rows read with `pread` (see `index/column.rs`).
    pub(crate) fn column(&self) -> Result<SegmentColumn<'_>> {
        Ok(SegmentColumn {
            floats: self.vectors()?,
            file: &self.file,
            offset: self.header.vectors_offset,
        })
    }

    /// Unmaps the vector column's pages from this process (they stay in
    /// the OS page cache, and fault back in when a search reads them), so
    /// that resident memory holds the rows searches use rather than every
    /// row a checksum pass or a graph build read once. Best effort.
    pub(crate) fn release_vector_pages(&self) {
        let h = &self.header;
        let (offset, len) = (
            h.vectors_offset as usize,
            (h.records_offset - h.vectors_offset) as usize,
        );
        if len == 0 {
            return;
        }
        #[cfg(unix)]
        #[allow(unsafe_code)]
        // SAFETY: the mapping is read-only and shared, over a file that is
        // never modified (see `open`). MADV_DONTNEED on such a mapping
        // only drops this process's page-table entries: the next read of
        // any of these bytes faults the same contents back in from the page
        // cache or the file, so no slice handed out by `vectors` ever sees
        // different data. `offset..offset + len` lies inside the mapping
        // (the header was checked against the file length).
        let _ = unsafe {
            self.mmap
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len)
        };
    }

    /// Every row's norm ([`crate::index::distance::norm`]), computed once.
    pub(crate) fn norms(&self) -> Result<&[f32]> {
        if let Some(n) = self.norms.get() {
            return Ok(n);
        }
        let d = self.dim().max(1);
        let norms = self
            .vectors()?
            .chunks_exact(d)
            .map(crate::index::distance::norm)
            .collect();
        Ok(self.norms.get_or_init(|| norms))
    }

    /// The published graph, if any (until then the segment is searched exactly).
    pub(crate) fn graph(&self) -> Option<&SegmentGraph> {
        self.graph.get()
    }

    /// Publishes the graph built or loaded for this segment (first one wins).
    pub(crate) fn publish_graph(&self, g: SegmentGraph) {
        let _ = self.graph.set(g);
    }
}

/// A segment's vector column for searches (see [`Segment::column`]).
pub(crate) struct SegmentColumn<'a> {
    floats: &'a [f32],
    file: &'a File,
    /// Where the column starts in the file.
    offset: u64,
}

impl VectorColumn for SegmentColumn<'_> {
    fn floats(&self) -> &[f32] {
        self.floats
    }

    /// Copies the row out of the page cache with `pread`, which maps no
    /// page into the process (reading it through the mapping would map 64 KB
    /// around it). The column's checksum was verified before this column
    /// was handed out and the file is immutable, so the bytes are the
    /// mapping's; if the read fails anyway, the row is copied from the
    /// mapping.
    fn read_row(&self, row: u32, out: &mut [f32]) {
        #[cfg(all(unix, target_endian = "little"))]
        {
            use std::os::unix::fs::FileExt;
            let at = self.offset + row as u64 * std::mem::size_of_val(out) as u64;
            if self
                .file
                .read_exact_at(bytemuck::cast_slice_mut(out), at)
                .is_ok()
            {
                return;
            }
        }
        let i = row as usize * out.len();
        out.copy_from_slice(&self.floats[i..i + out.len()]);
    }
}

#[cfg(test)]
mod tests {
    use crate::index::VectorColumn;
    use crate::record::StoredRecord;

    #[test]
    fn single_row_reads_equal_the_mapped_column() {
        let dir = tempfile::tempdir().unwrap();
        let dim = 7;
        let recs: Vec<StoredRecord> = (0..50u64)
            .map(|i| StoredRecord {
                id: format!("r{i}"),
                order: i,
                embedding: (0..dim)
                    .map(|d| (i as usize * dim + d) as f32 * 0.5 - 3.0)
                    .collect(),
                document: None,
                metadata: None,
                uri: None,
            })
            .collect();
        let seg = super::super::writer::write(
            &crate::fs::OsFs,
            dir.path(),
            1,
            dim,
            recs.iter().collect(),
            vec![],
            &[],
        )
        .unwrap();
        let col = seg.column().unwrap();
        let mut row = vec![0.0f32; dim];
        for r in 0..50u32 {
            col.read_row(r, &mut row);
            assert_eq!(row, recs[r as usize].embedding);
            assert_eq!(
                row[..],
                col.floats()[r as usize * dim..(r as usize + 1) * dim]
            );
        }
    }
}
