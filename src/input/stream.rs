//! Traces read front to back, a block at a time: standard input when it is
//! a pipe, and compressed traces, decompressed on the fly.
//!
//! A [`TraceStream`] is an [`io::Read`] that yields the trace's bytes from
//! its first (decompressed, when it is compressed), for
//! [`Driver::run_stream`](crate::analyzers::Driver::run_stream); it has
//! already read the first bytes, so that the header can be checked before
//! any analyzer starts.

use core::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// How a trace file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (`.gz`): every member of a multi-member file, one after the
    /// other.
    Gzip,
    /// Zstandard (`.zst`): every frame of the file, one after the other
    /// (skippable frames are skipped).
    Zstd,
    /// xz (`.xz`): every stream of the file, one after the other.
    Xz,
}

/// The bytes a trace starts with when it is not compressed: the header's
/// first word (`0xffffffffffffffff`), or a version-4 record type word
/// (0 or 1) without a header; none of them starts a compressed file.
const MAGICS: [(Compression, &[u8]); 3] = [
    (Compression::Gzip, &[0x1f, 0x8b]),
    (Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]),
    (Compression::Xz, &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
];

/// The longest magic: how many bytes [`Compression::detect`] looks at.
const MAGIC_LEN: usize = 6;

impl Compression {
    /// The compression whose magic bytes `head` starts with, if any.
    ///
    /// ```
    /// use simpletrace::input::Compression;
    ///
    /// assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]), Some(Compression::Gzip));
    /// assert_eq!(Compression::detect(&[0xff; 24]), None); // a trace header
    /// ```
    pub fn detect(head: &[u8]) -> Option<Compression> {
        MAGICS
            .iter()
            .find(|(_, magic)| head.starts_with(magic))
            .map(|&(c, _)| c)
    }

    /// The compression a file name's extension says (`.gz`, `.zst`,
    /// `.xz`, in any case), if any. [`TraceInput::open`](super::TraceInput::open)
    /// goes by the magic bytes; the extension only explains an error.
    pub fn from_extension(path: &std::path::Path) -> Option<Compression> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "gz" => Some(Compression::Gzip),
            "zst" | "zstd" => Some(Compression::Zstd),
            "xz" => Some(Compression::Xz),
            _ => None,
        }
    }

    /// Its usual name: `gzip`, `zstd`, `xz`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }

    /// What a message about a trace compressed so ends with: its offsets
    /// and sizes are those of the decompressed bytes.
    pub fn offsets_note(self) -> String {
        format!(
            " ({self}-compressed trace: offsets and sizes count bytes of the decompressed trace)"
        )
    }

    /// The Cargo feature that reads it.
    fn feature(self) -> &'static str {
        self.name()
    }

    /// A decompressor of `source`, or `None` when this build was made
    /// without it.
    fn decoder(self, source: Box<dyn BufRead + Send>) -> Option<Box<dyn Read + Send>> {
        match self {
            #[cfg(feature = "gzip")]
            Compression::Gzip => Some(Box::new(flate2::bufread::MultiGzDecoder::new(source))),
            #[cfg(feature = "zstd")]
            Compression::Zstd => Some(Box::new(ZstdFrames::new(source))),
            #[cfg(feature = "xz")]
            Compression::Xz => Some(Box::new(lzma_rust2::XzReader::new_mem_limit(
                source,
                true,
                XZ_MEMORY_LIMIT_KIB,
            ))),
            #[allow(unreachable_patterns)]
            _ => {
                drop(source);
                None
            }
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The most memory an xz block's decoder may take: enough for every
/// preset of the `xz` tool (`-9` uses a 64 MiB dictionary), and no more,
/// so that a corrupt header cannot ask for gigabytes.
#[cfg(feature = "xz")]
const XZ_MEMORY_LIMIT_KIB: u32 = 192 * 1024;

/// Bytes read from a compressed file at a time.
const COMPRESSED_READ: usize = 256 * 1024;

/// Why a [`TraceStream`] could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamSetupError {
    /// Reading its first bytes failed (for a compressed trace: its first
    /// bytes did not decompress).
    Read {
        /// How the trace is compressed, if it is.
        compression: Option<Compression>,
        /// Bytes of the (decompressed) trace read before the failure.
        received: u64,
        /// What the reader said.
        source: io::Error,
    },
    /// The trace is compressed in a format this build cannot read.
    Unsupported {
        /// The compression.
        compression: Compression,
        /// The Cargo feature that would read it.
        feature: &'static str,
    },
}

impl fmt::Display for StreamSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamSetupError::Read {
                compression,
                received,
                source,
            } => {
                match CompressedDataEnds::of(source) {
                    Some(ends) => write!(
                        f,
                        "{ends}: it holds {received} bytes of trace, too few to check the \
                         trace's header"
                    )?,
                    None => write!(
                        f,
                        "reading the trace failed after {received} bytes: {source}"
                    )?,
                }
                match compression {
                    Some(c) => f.write_str(&c.offsets_note()),
                    None => Ok(()),
                }
            }
            StreamSetupError::Unsupported {
                compression,
                feature,
            } => write!(
                f,
                "the trace is {compression}-compressed, and this simpletrace was built \
                 without the '{feature}' feature that reads it"
            ),
        }
    }
}

impl std::error::Error for StreamSetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamSetupError::Read { source, .. } => Some(source),
            StreamSetupError::Unsupported { .. } => None,
        }
    }
}

/// The compressed data of a trace stops before its end: the file was cut
/// off (a killed QEMU piping into `zstd`, a copy that did not finish).
/// Every byte decompressed before the cut was delivered first; this is
/// the error the read then fails with (inside an [`io::Error`] of kind
/// [`io::ErrorKind::UnexpectedEof`]), instead of the decompressor's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressedDataEnds {
    /// How the trace is compressed.
    pub compression: Compression,
    /// The bytes of compressed data there are (all the file holds).
    pub compressed: u64,
}

impl fmt::Display for CompressedDataEnds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the compressed data ends early after {} bytes (a cut-off {} file)",
            self.compressed, self.compression
        )
    }
}

impl std::error::Error for CompressedDataEnds {}

impl CompressedDataEnds {
    /// The [`CompressedDataEnds`] an I/O error of a [`TraceStream`] is, if
    /// it is one.
    pub fn of(e: &io::Error) -> Option<&CompressedDataEnds> {
        e.get_ref()?.downcast_ref::<CompressedDataEnds>()
    }
}

/// What [`TraceStream::on_progress`] calls: with the bytes read from the
/// source so far.
type ProgressFn = Box<dyn Fn(u64) + Send + Sync>;

/// The source of a stream (the file or pipe, under the decoder when it is
/// compressed), counting the bytes read from it: how far a compressed
/// file has been read is known only there, not from the decompressed
/// bytes above. Without a progress callback it adds an addition and one
/// atomic load per read of the source (a read of 256 KiB, for a
/// compressed file).
///
/// The count is shared with [`EndsEarly`], which names it when compressed
/// data ends early.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
    progress: Arc<OnceLock<ProgressFn>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = self.read.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if let Some(report) = self.progress.get() {
            report(read);
        }
        Ok(n)
    }
}

/// A decoder whose "the input ended too soon" errors (each library words
/// its own, some as debug text) become one [`CompressedDataEnds`].
struct EndsEarly {
    decoder: Box<dyn Read + Send>,
    compression: Compression,
    count: Arc<AtomicU64>,
}

impl Read for EndsEarly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf).map_err(|e| {
            if e.kind() != io::ErrorKind::UnexpectedEof || CompressedDataEnds::of(&e).is_some() {
                return e;
            }
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                CompressedDataEnds {
                    compression: self.compression,
                    compressed: self.count.load(Ordering::Relaxed),
                },
            )
        })
    }
}

/// A trace read front to back: a pipe, or a decompressor. Reading it
/// yields the (decompressed) trace from its first byte.
pub struct TraceStream {
    reader: Box<dyn Read + Send>,
    head: Vec<u8>,
    compression: Option<Compression>,
    /// Set by [`TraceStream::on_progress`], called by the [`Counted`]
    /// source.
    progress: Arc<OnceLock<ProgressFn>>,
    source_len: Option<u64>,
}

impl fmt::Debug for TraceStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceStream")
            .field("compression", &self.compression)
            .field("head_len", &self.head.len())
            .field("source_len", &self.source_len)
            .finish_non_exhaustive()
    }
}

/// How many bytes of a stream [`TraceStream::head`] holds: enough for
/// [`TraceKind::detect`](crate::format::TraceKind::detect), which needs 64
/// for version 0.
const HEAD_LEN: usize = 64;

impl TraceStream {
    /// A stream of `source`: decompressed when its first bytes are a gzip,
    /// zstd or xz magic, read as it is otherwise. Reads the first bytes
    /// (of the decompressed data, when compressed).
    pub fn new(source: impl Read + Send + 'static) -> Result<TraceStream, StreamSetupError> {
        let progress = Arc::new(OnceLock::new());
        let count = Arc::new(AtomicU64::new(0));
        let mut source = Counted {
            inner: source,
            read: Arc::clone(&count),
            progress: Arc::clone(&progress),
        };
        let mut magic = Vec::with_capacity(MAGIC_LEN);
        read_up_to(&mut source, &mut magic, MAGIC_LEN).map_err(|source| {
            StreamSetupError::Read {
                compression: None,
                received: 0,
                source,
            }
        })?;
        let compression = Compression::detect(&magic);
        let whole = io::Cursor::new(magic).chain(source);
        let reader: Box<dyn Read + Send> = match compression {
            None => Box::new(whole),
            Some(c) => {
                let buffered = Box::new(BufReader::with_capacity(COMPRESSED_READ, whole));
                let decoder = c.decoder(buffered).ok_or(StreamSetupError::Unsupported {
                    compression: c,
                    feature: c.feature(),
                })?;
                Box::new(EndsEarly {
                    decoder,
                    compression: c,
                    count,
                })
            }
        };
        Self::with_head(reader, compression, progress)
    }

    fn with_head(
        mut reader: Box<dyn Read + Send>,
        compression: Option<Compression>,
        progress: Arc<OnceLock<ProgressFn>>,
    ) -> Result<TraceStream, StreamSetupError> {
        let mut head = Vec::with_capacity(HEAD_LEN);
        read_up_to(&mut reader, &mut head, HEAD_LEN).map_err(|source| StreamSetupError::Read {
            compression,
            received: head.len() as u64,
            source,
        })?;
        let reader = Box::new(io::Cursor::new(head.clone()).chain(reader));
        Ok(TraceStream {
            reader,
            head,
            compression,
            progress,
            source_len: None,
        })
    }

    /// The stream of a source whose length is known to be `len` bytes
    /// (a regular file; compressed, it is streamed): a progress bar's
    /// total, for the positions [`TraceStream::on_progress`] reports.
    pub fn with_source_len(mut self, len: u64) -> TraceStream {
        self.source_len = Some(len);
        self
    }

    /// The length of the source in bytes (of the compressed file, when it
    /// is compressed), when known: see [`TraceStream::with_source_len`].
    pub fn source_len(&self) -> Option<u64> {
        self.source_len
    }

    /// Calls `report` with how many bytes have been read from the source
    /// (the file or pipe; for a compressed trace, compressed bytes, which
    /// [`TraceStream::source_len`] is the total of) after each read of it,
    /// as the stream is read; the bytes already read for
    /// [`TraceStream::head`] count. For a progress bar: the positions only
    /// grow, and reach the source's length at its end. Only the first
    /// callback given is kept; returns false (and drops `report`) when one
    /// was given before.
    pub fn on_progress(&self, report: impl Fn(u64) + Send + Sync + 'static) -> bool {
        self.progress.set(Box::new(report)).is_ok()
    }

    /// The first bytes of the (decompressed) trace: 64, or all of it when
    /// it is shorter. Enough to check its header.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// How the trace is compressed, if it is.
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }
}

/// The most decompressed bytes one [`TraceStream::read`] asks its decoder
/// for. A decoder that meets corrupt data returns the error and drops
/// whatever it had decompressed in the same call, so the less it is asked
/// for at a time, the more of a damaged trace's records before the damage
/// come out; 64 KiB calls cost nothing measurable.
const DECOMPRESSED_READ: usize = 64 * 1024;

impl Read for TraceStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = match self.compression {
            Some(_) => buf.len().min(DECOMPRESSED_READ),
            None => buf.len(),
        };
        let buf = buf.get_mut(..piece).unwrap_or_default();
        self.reader.read(buf)
    }
}

/// Appends bytes of `reader` to `buf` until it holds `n` or the reader
/// ends.
fn read_up_to(reader: &mut impl Read, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let want = n.saturating_sub(buf.len()) as u64;
    reader.take(want).read_to_end(buf).map(drop)
}

/// Every frame of a zstd file, one after the other, each checked against
/// its checksum when it has one. (ruzstd's `StreamingDecoder` reads one
/// frame and leaves checksums to its caller.)
#[cfg(feature = "zstd")]
struct ZstdFrames<R> {
    source: R,
    frame: ruzstd::decoding::FrameDecoder,
    /// A frame has been started and not all of it has been read out.
    in_frame: bool,
    /// Decoding failed; reported once what the decoder had finished before
    /// the failure has been read out.
    failed: Option<io::Error>,
    /// The failure has been reported: nothing more comes.
    broken: bool,
}

#[cfg(feature = "zstd")]
impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> Self {
        ZstdFrames {
            source,
            frame: ruzstd::decoding::FrameDecoder::new(),
            in_frame: false,
            failed: None,
            broken: false,
        }
    }

    /// Starts the next frame, skipping skippable frames; false at the end
    /// of the input.
    fn next_frame(&mut self) -> io::Result<bool> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        loop {
            if self.source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            match self.frame.reset(&mut self.source) {
                Ok(()) => return Ok(true),
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let skipped =
                        io::copy(&mut (&mut self.source).take(length.into()), &mut io::sink())?;
                    if skipped < u64::from(length) {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "zstd: the file ends inside a skippable frame",
                        ));
                    }
                }
                Err(e) => return Err(self.zstd_error(e)),
            }
        }
    }

    /// A decoding failure as an I/O error: of kind `UnexpectedEof` when
    /// the input has ended (ruzstd words that as debug text of its own).
    fn zstd_error(&mut self, e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
        if self.source.fill_buf().is_ok_and(|b| b.is_empty()) {
            io::Error::new(io::ErrorKind::UnexpectedEof, e)
        } else {
            zstd_error(e)
        }
    }

    /// Ends a frame cut off by the end of the input with an empty last
    /// block, so that the decoder gives out every byte it decoded: it
    /// otherwise keeps back a window's worth (up to 8 MiB) until the
    /// frame's end, and those bytes are the trace's last records. The
    /// blocks before the cut were read whole (ruzstd reads a block's
    /// content before decoding it); the checksum, if the frame has one,
    /// cannot be checked, and is not (the read fails after these bytes).
    fn finish_cut_frame(&mut self) {
        use ruzstd::decoding::BlockDecodingStrategy;
        // A block header: last block, raw, 0 bytes; then a checksum's
        // 4 bytes, read only when the frame has one.
        let end: &[u8] = &[0x01, 0, 0, 0, 0, 0, 0];
        let _ = self
            .frame
            .decode_blocks(&mut &end[..], BlockDecodingStrategy::UptoBlocks(1));
    }
}

#[cfg(feature = "zstd")]
fn zstd_error(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[cfg(feature = "zstd")]
impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::BlockDecodingStrategy;
        if buf.is_empty() {
            return Ok(0);
        }
        if self.broken {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "zstd: the data could not be decompressed",
            ));
        }
        loop {
            if !self.in_frame {
                if !self.next_frame()? {
                    return Ok(0);
                }
                self.in_frame = true;
            }
            if self.frame.can_collect() > 0 {
                return self.frame.read(buf);
            }
            if let Some(e) = self.failed.take() {
                // `can_collect` holds a frame whose checksum could not be
                // read back as unfinished; reading drains what it can.
                match self.frame.read(buf) {
                    Ok(n) if n > 0 => {
                        self.failed = Some(e);
                        return Ok(n);
                    }
                    _ => {
                        self.broken = true;
                        return Err(e);
                    }
                }
            }
            if !self.frame.is_finished() {
                // A failure comes after the bytes decoded before it: all
                // of a frame whose checksum alone is cut off, and of a
                // frame cut or damaged further in, all but the window the
                // decoder keeps back until the frame ends.
                if let Err(e) = self
                    .frame
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                {
                    let e = self.zstd_error(e);
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        self.finish_cut_frame();
                    }
                    self.failed = Some(e);
                }
                continue;
            }
            // The frame is decoded and read out: its checksum covers it all.
            if let (Some(stored), Some(computed)) = (
                self.frame.get_checksum_from_data(),
                self.frame.get_calculated_checksum(),
            ) && stored != computed
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "zstd: frame checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                    ),
                ));
            }
            self.in_frame = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_and_extensions() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b]), Some(Compression::Gzip));
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::detect(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
            Some(Compression::Xz)
        );
        // Too short to tell, a header, version-4 records without a header.
        for head in [
            &[0x1f][..],
            &[0xfd, 0x37, 0x7a, 0x58, 0x5a],
            &[0xff; 8],
            &[1, 0],
            &[0, 0],
            &[],
        ] {
            assert_eq!(Compression::detect(head), None, "{head:?}");
        }
        let ext = |p: &str| Compression::from_extension(std::path::Path::new(p));
        assert_eq!(ext("trace-1.gz"), Some(Compression::Gzip));
        assert_eq!(ext("t.ZST"), Some(Compression::Zstd));
        assert_eq!(ext("t.xz"), Some(Compression::Xz));
        assert_eq!(ext("trace-1"), None);
        assert_eq!(ext("gz"), None);
    }

    #[test]
    fn plain_stream_keeps_every_byte() {
        for len in [0, 1, 5, 6, 7, 63, 64, 65, 100_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut s = TraceStream::new(io::Cursor::new(data.clone())).unwrap();
            assert_eq!(s.compression(), None);
            assert_eq!(s.head(), &data[..len.min(64)]);
            let mut all = Vec::new();
            s.read_to_end(&mut all).unwrap();
            assert_eq!(all, data, "{len}");
        }
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn multi_member_gzip() {
        use std::io::Write;
        let mut gz = Vec::new();
        for part in [&b"first member, "[..], b"second member"] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let mut s = TraceStream::new(io::Cursor::new(gz)).unwrap();
        assert_eq!(s.compression(), Some(Compression::Gzip));
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"first member, second member");
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_frames_skippable_frames_and_checksums() {
        use ruzstd::encoding::{CompressionLevel, compress_to_vec};
        let mut z = compress_to_vec(&b"one frame, "[..], CompressionLevel::Fastest);
        // A skippable frame: magic 0x184D2A5?, u32 length, that many bytes.
        z.extend(0x184d_2a50u32.to_le_bytes());
        z.extend(3u32.to_le_bytes());
        z.extend(b"xyz");
        z.extend(compress_to_vec(&b"another"[..], CompressionLevel::Fastest));
        let mut s = TraceStream::new(io::Cursor::new(z.clone())).unwrap();
        assert_eq!(s.compression(), Some(Compression::Zstd));
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"one frame, another");

        // Cut off inside the last frame: an error, not a silent end.
        // (Here within the first 64 bytes, which `new` reads.)
        match TraceStream::new(io::Cursor::new(z[..z.len() - 3].to_vec())) {
            Err(StreamSetupError::Read { .. }) => {}
            Ok(mut s) => assert!(s.read_to_end(&mut Vec::new()).is_err()),
            Err(otherwise) => panic!("{otherwise:?}"),
        }
    }

    /// Bytes that compress to a few hundred KiB at least, so that the
    /// compressed source is read in several pieces.
    fn noisy(len: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    /// Reads `compressed` through a stream, collecting what its progress
    /// callback is told; checks that the data comes out whole.
    fn progress_of(compressed: Vec<u8>, want: &[u8]) -> Vec<u64> {
        use std::sync::Mutex;
        let len = compressed.len() as u64;
        let mut s = TraceStream::new(io::Cursor::new(compressed))
            .unwrap()
            .with_source_len(len);
        assert_eq!(s.source_len(), Some(len));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        assert!(s.on_progress(move |n| sink.lock().unwrap().push(n)));
        // Only the first callback is kept.
        assert!(!s.on_progress(|_| panic!("a second callback was called")));
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        assert!(all == want, "the data came out changed");
        seen.lock().unwrap().clone()
    }

    /// The callback sees the compressed bytes read, growing, up to the
    /// compressed size (what a bar with a known total needs); a plain
    /// stream reports its own bytes.
    #[test]
    fn progress_counts_source_bytes_up_to_the_source_length() {
        let data = noisy(1 << 20);
        let mut cases: Vec<(&str, Vec<u8>)> = vec![("plain", data.clone())];
        #[cfg(feature = "gzip")]
        cases.push(("gzip", {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }));
        #[cfg(feature = "zstd")]
        cases.push((
            "zstd",
            ruzstd::encoding::compress_to_vec(
                &data[..],
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
        ));
        #[cfg(feature = "xz")]
        cases.push(("xz", {
            use std::io::Write;
            let options = lzma_rust2::XzOptions::with_preset(0);
            let mut w = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
            w.write_all(&data).unwrap();
            w.finish().unwrap()
        }));
        for (name, source) in cases {
            let len = source.len() as u64;
            assert!(len > 2 * COMPRESSED_READ as u64, "{name}: {len} bytes");
            let seen = progress_of(source, &data);
            assert!(seen.len() >= 3, "{name}: {seen:?}");
            assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{name}: {seen:?}");
            assert!(seen.iter().any(|&n| n > 0 && n < len), "{name}: {seen:?}");
            assert_eq!(seen.last(), Some(&len), "{name}");
        }
    }

    /// Reads `s` to its end or its first error: the bytes read, and the
    /// error.
    #[cfg(feature = "zstd")]
    fn read_until_error(s: &mut impl Read) -> (Vec<u8>, Option<io::Error>) {
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Some(e)),
            }
        }
    }

    /// A zstd frame cut off: the bytes decoded before the cut come out,
    /// then the error (and only errors after it).
    #[cfg(feature = "zstd")]
    #[test]
    fn cut_zstd_frame_gives_what_was_decoded() {
        use ruzstd::encoding::{CompressionLevel, compress_to_vec};
        // Incompressible enough that the frame has many blocks.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let data: Vec<u8> = (0..3 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b"abcdefgh"[(state % 8) as usize]
            })
            .collect();
        let mut z = compress_to_vec(&data[..], CompressionLevel::Fastest);
        // The frame's checksum flag, so that its last 4 bytes are one.
        let has_checksum = z.get(4).is_some_and(|d| d & 0x04 != 0);

        // Cut in the middle: what came out is the start of the data, up
        // to the block the cut is in (the decoder's window, which it keeps
        // back until a frame ends, comes out too); then the cut, in the
        // same words as for every compressor.
        let cut = z[..z.len() / 2].to_vec();
        let mut s = TraceStream::new(io::Cursor::new(cut.clone())).unwrap();
        let (got, err) = read_until_error(&mut s);
        let err = err.unwrap();
        assert_eq!(
            CompressedDataEnds::of(&err),
            Some(&CompressedDataEnds {
                compression: Compression::Zstd,
                compressed: cut.len() as u64
            })
        );
        assert_eq!(
            err.to_string(),
            format!(
                "the compressed data ends early after {} bytes (a cut-off zstd file)",
                cut.len()
            )
        );
        assert!(data.starts_with(&got));
        // The data compresses evenly: half the frame is about half the
        // data; a block (128 KiB) at most is lost with the cut.
        assert!(
            got.len() + (200 << 10) > data.len() / 2,
            "{} bytes of {}",
            got.len(),
            data.len()
        );
        assert!(s.read(&mut [0; 16]).is_err());

        // Only the checksum cut off: every byte, then the error.
        if has_checksum {
            z.truncate(z.len() - 2);
            let mut s = TraceStream::new(io::Cursor::new(z)).unwrap();
            let (got, err) = read_until_error(&mut s);
            assert!(err.is_some());
            assert_eq!(got.len(), data.len(), "{err:?}");
        }
    }
}
