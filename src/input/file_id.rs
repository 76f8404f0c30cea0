//! What makes two paths the same file: the device and inode numbers.

use std::fs::{File, Metadata};
use std::io;
use std::path::Path;

/// A file's identity: equal for every path that leads to the same file
/// (hard links, symbolic links, `.` and `..`, bind mounts of one device)
/// and for every open handle of it, so that an output can be told apart
/// from the inputs however either was named.
///
/// ```
/// use simpletrace::input::FileId;
///
/// let a = FileId::of_path("Cargo.toml")?;
/// let b = FileId::of_path("./src/../Cargo.toml")?;
/// assert_eq!(a, b);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    /// The identity of the file `path` names (following symbolic links).
    pub fn of_path(path: impl AsRef<Path>) -> io::Result<FileId> {
        std::fs::metadata(path).and_then(|m| Self::of_metadata(&m))
    }

    /// The identity of an open file.
    pub fn of_file(file: &File) -> io::Result<FileId> {
        file.metadata().and_then(|m| Self::of_metadata(&m))
    }

    /// The identity of what standard input is (a file redirected to it, a
    /// pipe, a terminal).
    #[cfg(unix)]
    pub fn of_stdin() -> io::Result<FileId> {
        use std::os::fd::AsFd;
        let fd = io::stdin().as_fd().try_clone_to_owned()?;
        Self::of_file(&File::from(fd))
    }

    /// What standard input is: not known off Unix.
    #[cfg(not(unix))]
    pub fn of_stdin() -> io::Result<FileId> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "file identities are only known on Unix",
        ))
    }

    #[cfg(unix)]
    fn of_metadata(m: &Metadata) -> io::Result<FileId> {
        use std::os::unix::fs::MetadataExt;
        Ok(FileId {
            device: m.dev(),
            inode: m.ino(),
        })
    }

    #[cfg(not(unix))]
    fn of_metadata(_: &Metadata) -> io::Result<FileId> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "file identities are only known on Unix",
        ))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn hard_and_symbolic_links_are_the_same_file() {
        let dir = std::env::temp_dir().join(format!("simpletrace-file-id-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        std::fs::write(&a, b"x").unwrap();
        std::fs::hard_link(&a, dir.join("hard")).unwrap();
        std::os::unix::fs::symlink(&a, dir.join("soft")).unwrap();
        std::fs::write(dir.join("other"), b"x").unwrap();
        let id = FileId::of_path(&a).unwrap();
        assert_eq!(FileId::of_path(dir.join("hard")).unwrap(), id);
        assert_eq!(FileId::of_path(dir.join("soft")).unwrap(), id);
        assert_eq!(FileId::of_file(&File::open(&a).unwrap()).unwrap(), id);
        assert_ne!(FileId::of_path(dir.join("other")).unwrap(), id);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
