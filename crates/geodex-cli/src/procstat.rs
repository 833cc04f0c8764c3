//! This process's page faults and resident memory, and dropping a file from the page cache —
//! what `geodex bench --cold` measures a disk-resident index with. Linux only (elsewhere the
//! figures are `None`). Read by hand: two text files whose fields proc(5) documents; no crate
//! in the tree reads them, and the page-cache drop is one `posix_fadvise` through rustix.

use std::path::Path;

use serde::Serialize;

/// Page faults since the process started.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Faults {
    /// Faults served without I/O (the page was in memory: page cache, or fresh anonymous).
    pub minor: u64,
    /// Faults that read the page from the disk.
    pub major: u64,
}

impl std::ops::Sub for Faults {
    type Output = Faults;
    fn sub(self, o: Faults) -> Faults {
        Faults {
            minor: self.minor.saturating_sub(o.minor),
            major: self.major.saturating_sub(o.major),
        }
    }
}

/// The process's page faults (`/proc/self/stat` fields 10 and 12).
pub fn faults() -> Option<Faults> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which may hold spaces: state is field 3, minflt 10,
    // majflt 12.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some(Faults {
        minor: fields.get(7)?.parse().ok()?,
        major: fields.get(9)?.parse().ok()?,
    })
}

/// Resident memory of the process, bytes (`/proc/self/status`).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Resident {
    /// All resident pages (VmRSS).
    pub rss_bytes: u64,
    /// Anonymous pages: the heap, where `load_resident` copies the walk's sections (RssAnon).
    pub anon_bytes: u64,
    /// Pages of mapped files: the index file's pages the search touched (RssFile).
    pub file_bytes: u64,
    /// The peak of VmRSS (VmHWM).
    pub peak_bytes: u64,
}

/// The process's resident memory now.
pub fn resident() -> Option<Resident> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let bytes = |key: &str| {
        status.lines().find_map(|l| {
            let kb = l.strip_prefix(key)?.trim().strip_suffix("kB")?.trim();
            kb.parse::<u64>().ok().map(|k| k * 1024)
        })
    };
    Some(Resident {
        rss_bytes: bytes("VmRSS:")?,
        anon_bytes: bytes("RssAnon:")?,
        file_bytes: bytes("RssFile:")?,
        peak_bytes: bytes("VmHWM:")?,
    })
}

/// Asks the kernel to drop `path`'s pages from the page cache (`posix_fadvise(DONTNEED)`), so
/// that the next reads of it come from the disk. Pages some process has mapped stay, as do
/// the pages of a file on a memory file system (tmpfs), which has no disk to read from.
pub fn drop_from_cache(path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    #[cfg(target_os = "linux")]
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    drop(file);
    Ok(())
}
