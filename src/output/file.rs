//! Files the command line writes (`filter -o`, `hist --svg`, `man --dir`):
//! never over an input, and never looking complete when they are not.

use core::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::input::FileId;

/// Why an output file could not be made or put in place.
#[derive(Debug)]
#[non_exhaustive]
pub enum OutputError {
    /// The path names one of the run's inputs (by device and inode, so
    /// also through a hard or symbolic link).
    IsInput {
        /// The output's path.
        path: PathBuf,
    },
    /// The path names a directory.
    IsDirectory {
        /// The output's path.
        path: PathBuf,
    },
    /// The output (or its temporary file beside it) could not be created,
    /// written, synced or renamed into place.
    Io {
        /// The output's path.
        path: PathBuf,
        /// What was being done.
        doing: &'static str,
        /// What the operating system said.
        source: io::Error,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::IsInput { path } => write!(
                f,
                "{}: refusing to write over an input of this run (the same file, by device \
                 and inode)",
                path.display()
            ),
            OutputError::IsDirectory { path } => {
                write!(f, "{}: is a directory, not a file to write", path.display())
            }
            OutputError::Io {
                path,
                doing,
                source,
            } => write!(f, "{}: {doing}: {source}", path.display()),
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An output file being written.
///
/// A regular file is written under a temporary name in the target's
/// directory and renamed into place by [`OutputFile::commit`], after its
/// bytes are on disk; until then the target path is untouched (an older
/// file there stays as it was), and if the process fails or is killed
/// first no file at the target path looks complete. Dropped without a
/// commit, the temporary file is removed. A target that exists and is
/// not a regular file (a terminal, `/dev/null`, a FIFO) is written
/// directly: it cannot be replaced, and it does not look like a finished
/// file.
///
/// The module is private to the command line, so this is not a doctest
/// (the unit tests below run the same steps):
///
/// ```ignore
/// use std::io::Write;
/// use crate::input::FileId;
/// use crate::output::OutputFile;
///
/// let inputs = [FileId::of_path("trace-12345")?];
/// let out = OutputFile::create("small.trace", &inputs)?;
/// let mut w = std::io::BufWriter::new(out.writer()?);
/// w.write_all(b"...")?;
/// w.flush()?;
/// drop(w);
/// out.commit()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OutputFile {
    /// Where the output goes: the path given, or what a symbolic link
    /// there points to.
    target: PathBuf,
    file: Staged,
    /// The run's inputs, which `keep_partial` must not write over either.
    inputs: Vec<FileId>,
}

#[derive(Debug)]
enum Staged {
    /// Written under a temporary name; renamed into place on commit.
    Temporary(tempfile::NamedTempFile),
    /// Not a regular file: written as is.
    Direct(File),
}

/// What a temporary file's name starts and ends with: hidden, and saying
/// whose it is.
const TEMP_SUFFIX: &str = ".simpletrace-tmp";

/// Symbolic links followed to find where an output goes, as the kernel
/// follows them (`ELOOP` past 40).
const MAX_LINKS: usize = 40;

/// Where writing to `path` writes: `path`, or the file a symbolic link
/// there leads to (which need not exist yet, as with `File::create`).
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_owned();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

impl OutputFile {
    /// Starts writing `target`, refusing it when it is one of `inputs`
    /// or a directory.
    ///
    /// A symbolic link at `target` is followed: the file it leads to is
    /// replaced, the link stays. A file that is replaced keeps its
    /// permissions (without set-user and set-group ID) and, as far as this
    /// process may set them, its owner and group; one that this process may
    /// not write is refused, as opening it for writing would be. Other
    /// hard links to a replaced file keep its old contents.
    pub fn create(target: impl AsRef<Path>, inputs: &[FileId]) -> Result<OutputFile, OutputError> {
        let given = target.as_ref().to_owned();
        let io_error = |doing: &'static str| {
            let path = given.clone();
            move |source| OutputError::Io {
                path,
                doing,
                source,
            }
        };
        let target = follow_links(&given).map_err(io_error("cannot look at it"))?;
        let existing = match std::fs::metadata(&target) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error("cannot look at it")(e)),
        };
        let inputs = inputs.to_vec();
        if let Some(meta) = &existing {
            if meta.is_dir() {
                return Err(OutputError::IsDirectory { path: given });
            }
            let id = FileId::of_path(&target).map_err(io_error("cannot look at it"))?;
            if inputs.contains(&id) {
                return Err(OutputError::IsInput { path: given });
            }
            // Refused as File::create would refuse it (a read-only file);
            // opening without truncating changes nothing.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(io_error("cannot open it for writing"))?;
            if !meta.is_file() {
                return Ok(OutputFile {
                    target,
                    file: Staged::Direct(file),
                    inputs,
                });
            }
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TEMP_SUFFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // A new file gets what File::create gives: 0666 less the umask.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder
            .tempfile_in(&dir)
            .map_err(io_error("cannot create a temporary file beside it"))?;
        #[cfg(unix)]
        if let Some(meta) = &existing {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            // A replaced file keeps its mode exactly (the umask does not
            // apply to fchmod), but for the set-ID bits, which a new file
            // must not inherit; and its owner and group where allowed.
            let mode = meta.permissions().mode() & 0o1777;
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(io_error(
                    "cannot give the new file the old one's permissions",
                ))?;
            let _ = std::os::unix::fs::fchown(temp.as_file(), Some(meta.uid()), Some(meta.gid()));
        }
        Ok(OutputFile {
            target,
            file: Staged::Temporary(temp),
            inputs,
        })
    }

    /// The path the output is for (where a symbolic link given led).
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Bytes written so far (0 for a target that is not a regular file).
    pub fn written(&self) -> io::Result<u64> {
        match &self.file {
            Staged::Temporary(t) => t.as_file().metadata().map(|m| m.len()),
            Staged::Direct(_) => Ok(0),
        }
    }

    /// A handle to write the output through (more than one may be taken;
    /// they share the file's position).
    pub fn writer(&self) -> Result<File, OutputError> {
        let file = match &self.file {
            Staged::Temporary(t) => t.as_file(),
            Staged::Direct(f) => f,
        };
        file.try_clone().map_err(|source| OutputError::Io {
            path: self.target.clone(),
            doing: "writing",
            source,
        })
    }

    /// Puts the finished output in place: syncs its bytes to disk, renames
    /// it over the target, and syncs the directory so that the rename is
    /// on disk too. Every writer must have been flushed.
    pub fn commit(self) -> Result<(), OutputError> {
        let target = self.target.clone();
        self.finish(target, false).map(|_| ())
    }

    /// Puts an unfinished output beside the target, as `TARGET.partial`
    /// (the target itself is untouched), and returns where it is. When
    /// `TARGET.partial` is one of the run's inputs (a partial output read
    /// again), or cannot be written, the output stays under its temporary
    /// name, and that is returned. A target that is not a regular file has
    /// nothing to rename: its path is returned.
    pub fn keep_partial(self) -> Result<PathBuf, OutputError> {
        let mut partial = self.target.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let is_input = FileId::of_path(&partial).is_ok_and(|id| self.inputs.contains(&id));
        if is_input || std::fs::metadata(&partial).is_ok_and(|m| !m.is_file()) {
            return self.keep_as_is();
        }
        self.finish(partial, true)
    }

    /// Keeps the output under its temporary name.
    fn keep_as_is(self) -> Result<PathBuf, OutputError> {
        let OutputFile { target, file, .. } = self;
        match file {
            Staged::Direct(_) => Ok(target),
            Staged::Temporary(temp) => {
                temp.keep()
                    .map(|(_, path)| path)
                    .map_err(|e| OutputError::Io {
                        path: target,
                        doing: "keeping the unfinished output",
                        source: e.error,
                    })
            }
        }
    }

    /// Syncs the output and renames it to `to`; if that fails, keeps it
    /// under its temporary name when `keep_on_failure` (returning that),
    /// else removes it.
    fn finish(self, to: PathBuf, keep_on_failure: bool) -> Result<PathBuf, OutputError> {
        let OutputFile { target, file, .. } = self;
        let temp = match file {
            Staged::Direct(_) => return Ok(target),
            Staged::Temporary(temp) => temp,
        };
        let fail = |doing: &'static str, source: io::Error| OutputError::Io {
            path: to.clone(),
            doing,
            source,
        };
        if let Err(e) = temp.as_file().sync_all() {
            return match keep_on_failure {
                true => temp
                    .keep()
                    .map(|(_, p)| p)
                    .map_err(|k| fail("keeping it", k.error)),
                false => Err(fail("writing it to disk", e)),
            };
        }
        if let Err(e) = temp.persist(&to) {
            return match keep_on_failure {
                true => e
                    .file
                    .keep()
                    .map(|(_, p)| p)
                    .map_err(|k| fail("keeping it", k.error)),
                false => Err(fail("renaming the finished file into place", e.error)),
            };
        }
        // The rename is an entry of the directory: on disk once it is.
        // Best effort: some file systems refuse to sync a directory.
        let dir = match to.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(to)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("simpletrace-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn nothing_at_the_target_until_commit() {
        let dir = scratch("commit");
        let target = dir.join("out.trace");
        std::fs::write(&target, b"old").unwrap();
        let out = OutputFile::create(&target, &[]).unwrap();
        out.writer().unwrap().write_all(b"new bytes").unwrap();
        // The old file is untouched while the new one is written.
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        out.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new bytes");
        assert_eq!(entries(&dir), ["out.trace"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dropped_leaves_nothing_and_partial_is_set_apart() {
        let dir = scratch("drop");
        let target = dir.join("out.svg");
        let out = OutputFile::create(&target, &[]).unwrap();
        out.writer().unwrap().write_all(b"half").unwrap();
        drop(out);
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        let out = OutputFile::create(&target, &[]).unwrap();
        out.writer().unwrap().write_all(b"half").unwrap();
        let kept = out.keep_partial().unwrap();
        assert_eq!(kept, dir.join("out.svg.partial"));
        assert_eq!(entries(&dir), ["out.svg.partial"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn inputs_and_directories_are_refused() {
        let dir = scratch("inputs");
        let input = dir.join("in.bin");
        std::fs::write(&input, b"trace").unwrap();
        std::fs::hard_link(&input, dir.join("link")).unwrap();
        let ids = [FileId::of_path(&input).unwrap()];
        for path in [
            input.clone(),
            dir.join("link"),
            dir.join(".").join("in.bin"),
        ] {
            match OutputFile::create(&path, &ids) {
                Err(OutputError::IsInput { .. }) => {}
                other => panic!("{}: {other:?}", path.display()),
            }
        }
        match OutputFile::create(&dir, &ids) {
            Err(OutputError::IsDirectory { .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&input).unwrap(), b"trace");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_device_is_written_directly() {
        let out = OutputFile::create("/dev/null", &[]).unwrap();
        out.writer().unwrap().write_all(b"gone").unwrap();
        assert_eq!(out.keep_partial().unwrap(), Path::new("/dev/null"));
        assert!(Path::new("/dev/null").exists());
    }

    #[test]
    fn a_symbolic_link_is_followed() {
        let dir = scratch("symlink");
        let real = dir.join("real.trace");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.join("link.trace");
        std::os::unix::fs::symlink("real.trace", &link).unwrap();
        let out = OutputFile::create(&link, &[]).unwrap();
        out.writer().unwrap().write_all(b"new").unwrap();
        out.commit().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A dangling one: the file it names is made, as File::create does.
        std::os::unix::fs::symlink("later.trace", dir.join("dangling")).unwrap();
        let out = OutputFile::create(dir.join("dangling"), &[]).unwrap();
        out.commit().unwrap();
        assert!(dir.join("later.trace").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_partial_output_never_replaces_an_input() {
        let dir = scratch("partial_input");
        let target = dir.join("out");
        let partial = dir.join("out.partial");
        std::fs::write(&partial, b"an input").unwrap();
        let ids = [FileId::of_path(&partial).unwrap()];
        let out = OutputFile::create(&target, &ids).unwrap();
        out.writer().unwrap().write_all(b"half").unwrap();
        let kept = out.keep_partial().unwrap();
        assert_eq!(std::fs::read(&partial).unwrap(), b"an input");
        assert_eq!(std::fs::read(&kept).unwrap(), b"half");
        assert!(
            kept.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(TEMP_SUFFIX)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let target = dir.join("out");
        // Modes the umask (022 at least, usually) would cut, and a set-ID
        // bit the new file must not get.
        for (old, new) in [(0o640, 0o640), (0o666, 0o666), (0o4755, 0o755)] {
            std::fs::write(&target, b"old").unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(old)).unwrap();
            let out = OutputFile::create(&target, &[]).unwrap();
            out.commit().unwrap();
            let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, new, "{old:o}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
