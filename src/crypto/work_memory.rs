//! The working memory of one argon2id verification (19 MiB at the default parameters).
//!
//! argon2id reads its blocks in an order the password and salt decide, so with 4 KiB pages
//! nearly every block it reads misses the TLB (19 MiB is ~4,900 pages), and under a hypervisor
//! each miss walks two sets of page tables. On Linux the memory is therefore its own anonymous
//! mapping, aligned to 2 MiB and advised for transparent huge pages (`MADV_HUGEPAGE`): where
//! the kernel grants them (THP `enabled` set to `madvise` or `always`), the 19 MiB are nine
//! 2 MiB pages and 1 MiB of small ones. The resident size is the same either way: only the
//! 19 MiB themselves are mapped. Elsewhere, or when the mapping fails, it is a plain `Vec`.

use argon2::Block;

/// Zeroed argon2 blocks, freed on drop.
pub(super) struct WorkMemory(Inner);

enum Inner {
    #[cfg(target_os = "linux")]
    Mapped(linux::Mapping),
    Heap(Vec<Block>),
}

impl WorkMemory {
    pub(super) fn new(blocks: usize) -> Self {
        #[cfg(target_os = "linux")]
        if let Some(mapping) = linux::Mapping::new(blocks) {
            return Self(Inner::Mapped(mapping));
        }
        Self(Inner::Heap(vec![Block::default(); blocks]))
    }

    /// Whether the memory starts on a 2 MiB boundary in a mapping of its own (for tests).
    #[cfg(test)]
    pub(super) fn is_huge_page_aligned(&self) -> bool {
        match &self.0 {
            #[cfg(target_os = "linux")]
            Inner::Mapped(m) => (m.as_slice().as_ptr() as usize).is_multiple_of(linux::HUGE_PAGE),
            Inner::Heap(_) => false,
        }
    }
}

impl std::ops::Deref for WorkMemory {
    type Target = [Block];
    fn deref(&self) -> &[Block] {
        match &self.0 {
            #[cfg(target_os = "linux")]
            Inner::Mapped(m) => m.as_slice(),
            Inner::Heap(v) => v,
        }
    }
}

impl std::ops::DerefMut for WorkMemory {
    fn deref_mut(&mut self) -> &mut [Block] {
        match &mut self.0 {
            #[cfg(target_os = "linux")]
            Inner::Mapped(m) => m.as_mut_slice(),
            Inner::Heap(v) => v,
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::c_void;
    use std::ptr::NonNull;

    use argon2::Block;

    pub(super) const HUGE_PAGE: usize = 2 << 20;

    /// `blocks` blocks at the start of a private anonymous mapping of exactly `len` bytes
    /// that this value alone owns.
    pub(super) struct Mapping {
        start: NonNull<Block>,
        blocks: usize,
        len: usize,
    }

    // SAFETY: the mapping is owned by this value alone (no other pointer to it exists), like
    // a `Vec`'s buffer, so moving it to another thread is sound.
    unsafe impl Send for Mapping {}

    impl Mapping {
        /// Maps `blocks` blocks on a 2 MiB boundary and asks for huge pages; `None` when the
        /// system refuses the mapping.
        pub(super) fn new(blocks: usize) -> Option<Self> {
            if blocks == 0 {
                return None;
            }
            let page = page_size()?;
            let len = blocks
                .checked_mul(size_of::<Block>())?
                .checked_next_multiple_of(page)?;
            // Room to slide the start up to the next 2 MiB boundary.
            let reserve = len.checked_add(HUGE_PAGE)?;
            // SAFETY: asks for a new private anonymous mapping; no existing memory is affected.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    reserve,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return None;
            }
            let base_addr = base as usize;
            let start = base_addr.next_multiple_of(HUGE_PAGE);
            let end = start + len;
            // SAFETY: both ranges are page-aligned parts of the mapping made above, outside
            // [start, end), and nothing refers to them. A failed unmap only leaves unused
            // address space mapped (never touched, so never resident).
            unsafe {
                if start > base_addr {
                    libc::munmap(base, start - base_addr);
                }
                if base_addr + reserve > end {
                    libc::munmap(end as *mut c_void, base_addr + reserve - end);
                }
                // Advice only: it changes how the kernel backs the pages, not their contents,
                // and failing (a kernel without transparent huge pages) leaves small pages.
                libc::madvise(start as *mut c_void, len, libc::MADV_HUGEPAGE);
            }
            Some(Self {
                start: NonNull::new(start as *mut Block)?,
                blocks,
                len,
            })
        }

        pub(super) fn as_slice(&self) -> &[Block] {
            // SAFETY: `start` is page-aligned (more than `Block`'s 64), the mapping holds
            // `blocks` blocks, anonymous pages read as zeros (a valid `Block`), and `&self`
            // keeps the mapping alive and unaliased by any `&mut`.
            unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.blocks) }
        }

        pub(super) fn as_mut_slice(&mut self) -> &mut [Block] {
            // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference.
            unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.blocks) }
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: [start, start + len) is the mapping this value owns; no reference to
            // it outlives `self`.
            unsafe {
                libc::munmap(self.start.as_ptr().cast(), self.len);
            }
        }
    }

    fn page_size() -> Option<usize> {
        // SAFETY: sysconf reads a system constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(page)
            .ok()
            .filter(|p| p.is_power_of_two() && HUGE_PAGE.is_multiple_of(*p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_zeroed_writable_and_of_the_asked_size() {
        for blocks in [1, 3, 1024, 19 * 1024] {
            let mut m = WorkMemory::new(blocks);
            assert_eq!(m.len(), blocks);
            assert!(m.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)));
            m[blocks - 1].as_mut()[127] = 7;
            assert_eq!(m[blocks - 1].as_ref()[127], 7);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_the_memory_is_its_own_mapping_on_a_huge_page_boundary() {
        let m = WorkMemory::new(19 * 1024);
        assert!(m.is_huge_page_aligned());
        // Dropping unmaps; another one can be made at once.
        drop(m);
        assert!(WorkMemory::new(19 * 1024).is_huge_page_aligned());
    }
}
