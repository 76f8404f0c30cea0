//! Analyzers loaded at run time from shared libraries, through the C ABI
//! of `include/simpletrace_plugin.h` (version 1.0).
//!
//! [`Plugin::load`] opens the library, finds `simpletrace_plugin_v1`, and
//! checks the descriptor's ABI version and callbacks; a [`PluginAnalyzer`]
//! is an [`Analyzer`] that hands the plugin the records it is interested
//! in, in file order, in batches of up to 256.
//!
//! Safety rests on the plugin keeping the contract of the header: the
//! descriptor and its strings live as long as the library, the callbacks
//! do what they say, and the results stay valid until `destroy`. What the
//! loader can check, it checks (symbol, version, NULL callbacks, status
//! codes, UTF-8 and JSON of the results); a plugin that corrupts memory is
//! beyond any loader's reach, as with every native plugin system.

#![allow(unsafe_code)]

use core::ffi::{CStr, c_char, c_void};
use core::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Analyzer, AnalyzerError, Context, Event, Handlers, Interest, Report, TraceInfo};
use crate::format::ArgValue;
use crate::format::events::ArgKind;

/// The ABI major version this loader speaks.
pub const ABI_MAJOR: u32 = 1;
/// The ABI minor version this loader speaks.
pub const ABI_MINOR: u32 = 0;
/// The symbol a plugin exports.
pub const ENTRY_SYMBOL: &str = "simpletrace_plugin_v1";

/// `ST_OK`: go on.
pub const ST_OK: i32 = 0;
/// `ST_STOP`: stop reading the trace.
pub const ST_STOP: i32 = 1;
/// `ST_ERROR`: fail the run.
pub const ST_ERROR: i32 = -1;

/// `st_arg` of the header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StArg {
    /// The argument name (not NUL-terminated).
    pub name: *const u8,
    /// Its length.
    pub name_len: u32,
    /// `st_arg_kind`.
    pub kind: u32,
    /// Integers, pointers, bools.
    pub value: u64,
    /// String bytes.
    pub bytes: *const u8,
    /// String length.
    pub len: u64,
}

/// `st_record` of the header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StRecord {
    /// The event name (not NUL-terminated).
    pub name: *const u8,
    /// Its length.
    pub name_len: u32,
    /// Number of arguments.
    pub nargs: u32,
    /// The arguments.
    pub args: *const StArg,
    /// Event id in the trace.
    pub id: u64,
    /// Timestamp, ns.
    pub timestamp_ns: u64,
    /// Byte offset of the record.
    pub offset: u64,
    /// The writer's pid.
    pub pid: u32,
    /// `ST_RECORD_DROPPED`.
    pub flags: u32,
}

/// `st_trace_info` of the header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StTraceInfo {
    /// The host's ABI major version.
    pub abi_major: u32,
    /// The host's ABI minor version.
    pub abi_minor: u32,
    /// Trace format version.
    pub format_version: u32,
    /// Declarations in the trace-events file.
    pub nevents: u32,
    /// Trace size in bytes; 0 for a trace read as a stream (a pipe, a
    /// compressed file), whose size is not known when the plugin starts.
    pub file_size: u64,
}

/// `st_output` of the header.
#[repr(C)]
#[derive(Debug)]
pub struct StOutput {
    /// Text for people.
    pub text: *const c_char,
    /// Its length.
    pub text_len: usize,
    /// One JSON value.
    pub json: *const c_char,
    /// Its length.
    pub json_len: usize,
}

/// `st_plugin` of the header.
#[repr(C)]
#[derive(Debug)]
pub struct StPlugin {
    /// ABI major version the plugin was built for.
    pub abi_major: u32,
    /// ABI minor version the plugin was built for.
    pub abi_minor: u32,
    /// NUL-terminated name.
    pub name: *const c_char,
    /// NUL-terminated description, or NULL.
    pub description: *const c_char,
    /// NUL-terminated interest patterns, or NULL for every event.
    pub interest: *const c_char,
    /// Creates the state.
    pub create: Option<unsafe extern "C" fn(*const StTraceInfo) -> *mut c_void>,
    /// Takes a batch of records.
    pub records: Option<unsafe extern "C" fn(*mut c_void, *const StRecord, usize) -> i32>,
    /// Produces the results.
    pub finish: Option<unsafe extern "C" fn(*mut c_void, *mut StOutput) -> i32>,
    /// The message after an error.
    pub last_error: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    /// Frees the state.
    pub destroy: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// `ST_RECORD_DROPPED`.
pub const ST_RECORD_DROPPED: u32 = 1;

/// Why a plugin cannot be loaded.
#[derive(Debug)]
pub enum PluginError {
    /// The library could not be opened.
    Open {
        /// The path given.
        path: PathBuf,
        /// What the dynamic loader said.
        message: String,
    },
    /// The library has no `simpletrace_plugin_v1`.
    NotAPlugin {
        /// The path given.
        path: PathBuf,
    },
    /// Built for another ABI major version.
    AbiMismatch {
        /// The path given.
        path: PathBuf,
        /// The plugin's version.
        major: u32,
        /// The plugin's minor version.
        minor: u32,
    },
    /// The descriptor is incomplete.
    Invalid {
        /// The path given.
        path: PathBuf,
        /// What is missing or wrong.
        what: String,
    },
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::Open { path, message } => {
                write!(f, "{}: cannot load the plugin: {message}", path.display())
            }
            PluginError::NotAPlugin { path } => write!(
                f,
                "{}: not a simpletrace plugin: it exports no {ENTRY_SYMBOL} function (see include/simpletrace_plugin.h)",
                path.display()
            ),
            PluginError::AbiMismatch { path, major, minor } => write!(
                f,
                "{}: the plugin was built for plugin ABI {major}.{minor}, this simpletrace speaks {ABI_MAJOR}.{ABI_MINOR}; rebuild it against this version's include/simpletrace_plugin.h",
                path.display()
            ),
            PluginError::Invalid { path, what } => {
                write!(f, "{}: invalid plugin: {what}", path.display())
            }
        }
    }
}

impl std::error::Error for PluginError {}

/// The callbacks, checked to be present.
#[derive(Debug, Clone, Copy)]
struct Callbacks {
    create: unsafe extern "C" fn(*const StTraceInfo) -> *mut c_void,
    records: unsafe extern "C" fn(*mut c_void, *const StRecord, usize) -> i32,
    finish: unsafe extern "C" fn(*mut c_void, *mut StOutput) -> i32,
    last_error: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    destroy: unsafe extern "C" fn(*mut c_void),
}

/// A loaded plugin library.
pub struct Plugin {
    name: String,
    description: String,
    interest: Interest,
    callbacks: Callbacks,
    path: PathBuf,
    // Declared last: dropped after everything that came from it.
    _library: libloading::Library,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish()
    }
}

/// Reads a NUL-terminated string of the descriptor.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
unsafe fn c_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

impl Plugin {
    /// Loads the plugin at `path` and checks its descriptor.
    ///
    /// The path is a file, never a name for the dynamic loader to search
    /// for: a bare `libfoo.so` is `./libfoo.so`. Every symbol the library
    /// needs is bound now, so that a library built against something this
    /// process lacks is refused here, with the loader's message, instead
    /// of ending the process when the missing function is first called.
    pub fn load(path: impl AsRef<Path>) -> Result<Plugin, PluginError> {
        let path = path.as_ref().to_owned();
        let library = open_library(&path).map_err(|e| PluginError::Open {
            message: loader_message(&e, &path),
            path: path.clone(),
        })?;
        // SAFETY: the symbol's type is the one the header declares.
        let entry: libloading::Symbol<'_, unsafe extern "C" fn() -> *const StPlugin> =
            unsafe { library.get(ENTRY_SYMBOL.as_bytes()) }
                .map_err(|_| PluginError::NotAPlugin { path: path.clone() })?;
        // SAFETY: calling the entry point as the header specifies.
        let descriptor = unsafe { entry() };
        let invalid = |what: &str| PluginError::Invalid {
            path: path.clone(),
            what: what.to_owned(),
        };
        if descriptor.is_null() {
            return Err(invalid("simpletrace_plugin_v1 returned NULL"));
        }
        // SAFETY: non-NULL and, per the header, valid for the library's
        // life; the fields are read once, here.
        let d = unsafe { &*descriptor };
        if d.abi_major != ABI_MAJOR {
            return Err(PluginError::AbiMismatch {
                path,
                major: d.abi_major,
                minor: d.abi_minor,
            });
        }
        // SAFETY: the header makes these NUL-terminated strings or NULL.
        let (name, description, interest) = unsafe {
            (
                c_string(d.name),
                c_string(d.description),
                c_string(d.interest),
            )
        };
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid("no name"))?;
        let interest = match interest {
            None => Interest::All,
            Some(p) => {
                Interest::parse(&p).map_err(|e| invalid(&format!("bad interest patterns: {e}")))?
            }
        };
        let missing = |what: &str| invalid(&format!("the {what} callback is NULL"));
        let callbacks = Callbacks {
            create: d.create.ok_or_else(|| missing("create"))?,
            records: d.records.ok_or_else(|| missing("records"))?,
            finish: d.finish.ok_or_else(|| missing("finish"))?,
            last_error: d.last_error,
            destroy: d.destroy.ok_or_else(|| missing("destroy"))?,
        };
        Ok(Plugin {
            name,
            description: description.unwrap_or_default(),
            interest,
            callbacks,
            path,
            _library: library,
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its one-line description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Where it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens the library at `path` with every symbol bound at once.
#[cfg(unix)]
fn open_library(path: &Path) -> Result<libloading::Library, libloading::Error> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // A name without a directory would be searched for in the loader's
    // paths: name the file in the current directory instead.
    let path = if path.parent().is_some_and(|p| p.as_os_str().is_empty()) {
        Path::new(".").join(path)
    } else {
        path.to_owned()
    };
    // SAFETY: loading a library runs its initialisers; loading a plugin
    // means trusting its code, which the user asked for by naming it.
    unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_LOCAL) }.map(Into::into)
}

/// Opens the library at `path`.
#[cfg(not(unix))]
fn open_library(path: &Path) -> Result<libloading::Library, libloading::Error> {
    // SAFETY: as above.
    unsafe { libloading::Library::new(path) }
}

/// What the dynamic loader said (`dlerror`), without the path it starts
/// with when it names the file (the message names it already).
fn loader_message(e: &libloading::Error, path: &Path) -> String {
    use std::error::Error as _;
    // libloading's own text is a summary ("dlopen failed"); the loader's
    // words are its source.
    let said = match e.source() {
        Some(source) => source.to_string(),
        None => e.to_string(),
    };
    let shown = path.display().to_string();
    let dotted = Path::new(".").join(path).display().to_string();
    [shown, dotted]
        .iter()
        .find_map(|p| said.strip_prefix(p.as_str())?.strip_prefix(": "))
        .map_or(said.clone(), str::to_owned)
}

/// Records handed to the plugin at once.
const BATCH: usize = 256;

/// String bytes a batch holds before it is handed over early: a batch of
/// long strings (a stream may carry records of up to 64 MiB) stays small.
const BATCH_STRING_BYTES: usize = 1 << 20;

/// A loaded plugin as an [`Analyzer`] (fed in file order).
///
/// Every byte a batch points to belongs to the batch: the string
/// arguments are copied into it as records arrive, because the trace bytes
/// they come from need not outlive the record (a stream's buffer is
/// reused, moved and grown between blocks, and a batch spans blocks).
pub struct PluginAnalyzer {
    plugin: Arc<Plugin>,
    state: *mut c_void,
    created: bool,
    records: Vec<StRecord>,
    arg_starts: Vec<usize>,
    args: Vec<StArg>,
    /// The string arguments' bytes, one after the other.
    strings: Vec<u8>,
    /// For each string argument: its index in `args` and where its bytes
    /// start in `strings`. The pointers are set when the batch is complete,
    /// so that `strings` may grow meanwhile.
    string_starts: Vec<(usize, usize)>,
    stopped: bool,
}

impl fmt::Debug for PluginAnalyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginAnalyzer")
            .field("plugin", &self.plugin)
            .finish()
    }
}

// SAFETY: the raw pointers are the plugin's state and the batch's views of
// memory the analyzer owns or the declarations it is run with; the driver
// calls a sequential analyzer from one thread only (the one running the
// driver), and the ABI promises plugins exactly that.
unsafe impl Send for PluginAnalyzer {}

impl PluginAnalyzer {
    /// An analyzer running `plugin`.
    pub fn new(plugin: Arc<Plugin>) -> Self {
        PluginAnalyzer {
            plugin,
            state: core::ptr::null_mut(),
            created: false,
            records: Vec::with_capacity(BATCH),
            arg_starts: Vec::with_capacity(BATCH),
            args: Vec::with_capacity(BATCH * 4),
            strings: Vec::new(),
            string_starts: Vec::new(),
            stopped: false,
        }
    }

    fn error(&self, what: &str, status: i32) -> AnalyzerError {
        let detail = match self.plugin.callbacks.last_error {
            // SAFETY: last_error takes the state and returns a
            // NUL-terminated string or NULL, per the header.
            Some(f) => unsafe { c_string(f(self.state)) },
            None => None,
        };
        AnalyzerError::new(
            self.plugin.name.clone(),
            match detail {
                Some(d) => format!("{what} failed: {d}"),
                None => format!("{what} failed with status {status}"),
            },
        )
    }

    fn on_record(&mut self, ev: &Event<'_>, ctx: &mut Context<'_>) -> Result<(), AnalyzerError> {
        if self.stopped {
            ctx.stop();
            return Ok(());
        }
        let decl = ev.decl();
        self.arg_starts.push(self.args.len());
        for (value, d) in ev.args().zip(&decl.args) {
            let (kind, value, bytes, len) = match (value, d.kind) {
                (ArgValue::Str(s), _) => {
                    self.string_starts
                        .push((self.args.len(), self.strings.len()));
                    self.strings.extend_from_slice(s);
                    (4, 0, core::ptr::null(), s.len() as u64)
                }
                (ArgValue::Int(v), ArgKind::Pointer) => (2, v, core::ptr::null(), 0),
                (ArgValue::Int(v), ArgKind::Bool) => (3, v, core::ptr::null(), 0),
                (ArgValue::Int(v), ArgKind::Int { signed: true, .. }) => {
                    (1, v, core::ptr::null(), 0)
                }
                (ArgValue::Int(v), _) => (0, v, core::ptr::null(), 0),
            };
            self.args.push(StArg {
                name: d.name.as_ptr(),
                name_len: d.name.len() as u32,
                kind,
                value,
                bytes,
                len,
            });
        }
        let record = ev.record();
        self.records.push(StRecord {
            name: decl.name.as_ptr(),
            name_len: decl.name.len() as u32,
            nargs: ev.arg_count() as u32,
            args: core::ptr::null(),
            id: record.id.0,
            timestamp_ns: record.timestamp_ns,
            offset: record.at.offset.0,
            pid: record.pid,
            flags: if record.is_dropped() {
                ST_RECORD_DROPPED
            } else {
                0
            },
        });
        if self.records.len() >= BATCH || self.strings.len() >= BATCH_STRING_BYTES {
            self.flush(ctx)?;
        }
        Ok(())
    }

    fn flush(&mut self, ctx: &mut Context<'_>) -> Result<(), AnalyzerError> {
        if self.records.is_empty() {
            return Ok(());
        }
        // The batch is complete and nothing is added to it until the call
        // returns: point each string at its bytes, each record at its
        // arguments.
        let strings = self.strings.as_ptr();
        for &(arg, start) in &self.string_starts {
            if let Some(a) = self.args.get_mut(arg) {
                a.bytes = strings.wrapping_add(start);
            }
        }
        let base = self.args.as_ptr();
        for (r, &start) in self.records.iter_mut().zip(&self.arg_starts) {
            r.args = base.wrapping_add(start);
        }
        // SAFETY: every pointer in the batch points into memory that stays
        // where it is, unchanged, for the whole call: `records`, `args` and
        // `strings` belong to this analyzer and are not touched until the
        // call returns, and the names point into the trace-events
        // declarations, which outlive the run. No pointer leads into the
        // trace's bytes. The plugin only reads them during the call.
        let status = unsafe {
            (self.plugin.callbacks.records)(self.state, self.records.as_ptr(), self.records.len())
        };
        self.records.clear();
        self.arg_starts.clear();
        self.args.clear();
        self.strings.clear();
        self.string_starts.clear();
        match status {
            ST_OK => Ok(()),
            ST_STOP => {
                self.stopped = true;
                ctx.stop();
                Ok(())
            }
            other => Err(self.error("records", other)),
        }
    }
}

impl Drop for PluginAnalyzer {
    fn drop(&mut self) {
        if self.created {
            // SAFETY: the state came from create and is destroyed once.
            unsafe { (self.plugin.callbacks.destroy)(self.state) };
        }
    }
}

impl Analyzer for PluginAnalyzer {
    fn name(&self) -> &str {
        &self.plugin.name
    }

    fn interest(&self) -> Interest {
        self.plugin.interest.clone()
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.catchall(Self::on_record);
        h
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        let c_info = StTraceInfo {
            abi_major: ABI_MAJOR,
            abi_minor: ABI_MINOR,
            format_version: info.kind.version.number() as u32,
            nevents: info.events.len() as u32,
            file_size: info.file_size,
        };
        // SAFETY: create takes a pointer to the info, valid for the call.
        self.state = unsafe { (self.plugin.callbacks.create)(&c_info) };
        self.created = true;
        Ok(())
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let mut scratch = Vec::new();
        self.flush(&mut Context::new(&mut scratch))?;
        let mut out = StOutput {
            text: core::ptr::null(),
            text_len: 0,
            json: core::ptr::null(),
            json_len: 0,
        };
        // SAFETY: finish fills `out` with pointers the plugin keeps valid
        // until destroy.
        let status = unsafe { (self.plugin.callbacks.finish)(self.state, &mut out) };
        if status == ST_ERROR || (status != ST_OK && status != ST_STOP) {
            return Err(self.error("finish", status));
        }
        let read = |p: *const c_char, len: usize| -> Vec<u8> {
            if p.is_null() || len == 0 {
                return Vec::new();
            }
            // SAFETY: the plugin gave `len` bytes at `p`, valid until
            // destroy, which has not happened yet.
            unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec()
        };
        let text = String::from_utf8_lossy(&read(out.text, out.text_len)).into_owned();
        let json_bytes = read(out.json, out.json_len);
        let json = if json_bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&json_bytes).map_err(|e| {
                AnalyzerError::new(
                    self.plugin.name.clone(),
                    format!("finish returned invalid JSON: {e}"),
                )
            })?
        };
        Ok(Report::new(text, json))
    }
}
