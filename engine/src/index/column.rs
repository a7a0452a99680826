//! How a search reads a segment's f32 vectors: the whole column in place
//! for scans, and single rows for point reads (rescoring a graph walk's
//! candidates).
//!
//! The two differ for a memory-mapped column. Touching one row of a mapping
//! maps the pages around it too (Linux "fault-around", 64 KB per fault,
//! whatever `madvise` says), so rescoring twenty scattered rows per query
//! would map the whole column into the process after a few hundred queries.
//! The engine's segment column therefore reads single rows with
//! `pread`, a copy out of the page cache that maps nothing.

/// A contiguous column of `dim`-float rows.
pub trait VectorColumn {
    /// Every row, row `r` at `r * dim`.
    fn floats(&self) -> &[f32];

    /// Copies row `row` (`out.len()` floats) into `out`. The row must be
    /// inside the column.
    fn read_row(&self, row: u32, out: &mut [f32]) {
        let dim = out.len();
        let i = row as usize * dim;
        out.copy_from_slice(&self.floats()[i..i + dim]);
    }
}

impl VectorColumn for [f32] {
    fn floats(&self) -> &[f32] {
        self
    }
}

impl VectorColumn for Vec<f32> {
    fn floats(&self) -> &[f32] {
        self
    }
}

impl<const N: usize> VectorColumn for [f32; N] {
    fn floats(&self) -> &[f32] {
        self
    }
}
