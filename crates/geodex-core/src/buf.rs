//! Arrays that are owned, shared with a living index, or a section of an opened index file.

use std::sync::Arc;

use memmap2::Mmap;

/// The bytes of an opened index file: memory-mapped, or read into an 8-byte-aligned heap
/// buffer (so casts to `u32`/`u64`/`f32` at 64-byte-aligned section offsets are aligned).
#[derive(Debug)]
pub(crate) enum Backing {
    Mapped(Mmap),
    Heap { words: Vec<u64>, len: usize },
}

impl Backing {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Heap { words, len } => &bytemuck::cast_slice(words)[..*len],
        }
    }

    /// Gives `len` bytes at `offset` of a mapping back to the OS (`madvise(MADV_DONTNEED)`):
    /// they leave this process's resident set and, mapped by no one else, may leave the page
    /// cache; the next read faults them in again from the file, one page per fault
    /// (`MADV_RANDOM`: no read-ahead, as suits the scattered reads of re-ranking). Nothing for
    /// a heap copy.
    fn release(&self, offset: usize, len: usize) -> std::io::Result<()> {
        if let Backing::Mapped(m) = self {
            m.advise_range(memmap2::Advice::Random, offset, len)?;
        }
        self.page_out(offset, len)
    }

    /// Gives `len` bytes at `offset` of a mapping back to the OS (`madvise(MADV_DONTNEED)`)
    /// without changing read-ahead: they leave this process's resident set and are faulted in
    /// again, from the page cache while they are still there, when next read. Nothing for a heap
    /// copy.
    pub(crate) fn page_out(&self, offset: usize, len: usize) -> std::io::Result<()> {
        match self {
            // SAFETY: the mapping is a shared, read-only mapping of a file geodex never writes
            // in place (see `format::open`), so after MADV_DONTNEED every page still maps the
            // same file bytes and is read back from the page cache or the disk on the next
            // access: borrowed slices stay valid and see unchanged contents. (The undefined
            // behaviour memmap2 warns of is for private or anonymous mappings, whose pages
            // come back zero-filled.)
            Backing::Mapped(m) => unsafe {
                m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len)
            },
            Backing::Heap { .. } => Ok(()),
        }
    }
}

/// A read-only array of `T`: owned, or `len` elements at `offset` bytes of a shared file.
/// Invariant for the file form: the range is inside the file and aligned for `T` (checked by
/// [`Buf::from_file`], so [`Buf::as_slice`] cannot fail).
#[derive(Debug, Clone)]
pub(crate) enum Buf<T> {
    Owned(Vec<T>),
    /// Shared with the living index that made this snapshot: saving or searching a snapshot
    /// copies nothing; the living index copies on its next write while the snapshot lives.
    Shared(Arc<Vec<T>>),
    File {
        backing: Arc<Backing>,
        offset: usize,
        len: usize,
    },
}

impl<T: bytemuck::Pod> Buf<T> {
    /// `len` elements at byte `offset` of `backing`, if in bounds and aligned.
    pub(crate) fn from_file(backing: &Arc<Backing>, offset: usize, len: usize) -> Option<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        let region = backing.bytes().get(offset..offset.checked_add(bytes)?)?;
        bytemuck::try_cast_slice::<u8, T>(region).ok()?;
        Some(Buf::File {
            backing: Arc::clone(backing),
            offset,
            len,
        })
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Buf::Owned(v) => v,
            Buf::Shared(v) => v,
            Buf::File { backing, offset, len } => {
                let region = &backing.bytes()[*offset..*offset + *len * std::mem::size_of::<T>()];
                bytemuck::cast_slice(region)
            }
        }
    }

    /// The elements as an owned, growable vector (a file section is copied once).
    pub(crate) fn to_mut(&mut self) -> &mut Vec<T> {
        if !matches!(self, Buf::Owned(_)) {
            *self = Buf::Owned(self.as_slice().to_vec());
        }
        match self {
            Buf::Owned(v) => v,
            Buf::Shared(_) | Buf::File { .. } => unreachable!("converted above"),
        }
    }

    /// The elements behind an [`Arc`]: shared without a copy when they are shared already.
    pub(crate) fn into_shared(self) -> Arc<Vec<T>> {
        match self {
            Buf::Owned(v) => Arc::new(v),
            Buf::Shared(v) => v,
            file => Arc::new(file.as_slice().to_vec()),
        }
    }

    /// Copies a file section into memory and gives its mapped pages back
    /// ([`Backing::release`]); nothing for an array in memory already.
    pub(crate) fn load(&mut self) {
        if let Buf::File { .. } = self {
            let owned = self.as_slice().to_vec();
            // Advice only: a failure leaves the pages mapped, which costs memory, not results.
            let _ = self.release();
            *self = Buf::Owned(owned);
        }
    }

    /// [`Backing::release`] of a file section's pages; nothing for an owned array.
    pub(crate) fn release(&self) -> std::io::Result<()> {
        match self {
            Buf::File { backing, offset, len } => backing.release(*offset, *len * std::mem::size_of::<T>()),
            Buf::Owned(_) | Buf::Shared(_) => Ok(()),
        }
    }

    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Buf::File { backing, .. } if matches!(**backing, Backing::Mapped(_)))
    }
}
