//! Compressing test inputs with each compressor whose decoder this build
//! has.

use std::io::Write;

/// Compresses with gzip.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Compresses with zstd.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// Compresses with xz.
pub fn xz(data: &[u8]) -> Vec<u8> {
    let options = lzma_rust2::XzOptions::with_preset(1);
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// A compressor.
pub type Compressor = fn(&[u8]) -> Vec<u8>;

/// Each compressor, its extension, and whether this build has its
/// decoder (all do, by default).
const COMPRESSORS: [(&str, &str, Compressor, bool); 3] = [
    ("gzip", "gz", gzip, cfg!(feature = "gzip")),
    ("zstd", "zst", zstd, cfg!(feature = "zstd")),
    ("xz", "xz", xz, cfg!(feature = "xz")),
];

/// The compressors whose decoder this build has.
pub fn compressors() -> impl Iterator<Item = (&'static str, &'static str, Compressor)> {
    COMPRESSORS
        .into_iter()
        .filter(|&(_, _, _, built_in)| built_in)
        .map(|(name, ext, compress, _)| (name, ext, compress))
}
