//! Event declarations as Python handlers see them.
//!
//! [`Event`] and [`Arguments`] carry what analysis scripts read of
//! tracetool's `Event` (`name`, `args` as `(type, name)` pairs with
//! `names()` and `types()`, `fmt`, `properties`, `lineno`, `filename`).
//! [`Declarations`] is a parsed trace-events file: the crate's
//! [`TraceEvents`], which decodes the trace, beside the Python object each
//! declaration is handed to handlers as (this module's `Event`s, or the
//! caller's own objects when it passed a list of already-parsed events).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyIterator, PyList, PySlice, PyString, PyTuple};
use simpletrace::format::events::DROPPED_MAPPING_NAME;
use simpletrace::format::{EventDecl, TraceEvents};

use crate::errors;

/// An event's arguments: a sequence of `(type, name)` pairs.
#[pyclass(frozen, module = "simpletrace", name = "Arguments")]
#[derive(Debug)]
pub struct Arguments {
    /// The pairs, a tuple of 2-tuples of `str`, made once: iterating hands
    /// out the same tuples every time.
    pairs: Py<PyTuple>,
}

impl Arguments {
    fn of_decl(py: Python<'_>, decl: &EventDecl) -> PyResult<Arguments> {
        let pairs = decl
            .args
            .iter()
            .map(|a| PyTuple::new(py, [a.ty.as_str(), a.name.as_str()]))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Arguments {
            pairs: PyTuple::new(py, pairs)?.unbind(),
        })
    }

    /// The `(type, name)` pairs as Rust strings.
    fn strings(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        self.pairs.bind(py).iter().map(|p| p.extract()).collect()
    }
}

#[pymethods]
impl Arguments {
    fn __len__(&self, py: Python<'_>) -> usize {
        self.pairs.bind(py).len()
    }

    /// The `(type, name)` pairs in declaration order.
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        self.pairs.bind(py).as_any().try_iter()
    }

    /// A pair by position, or the `Arguments` of a slice.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let item = self.pairs.bind(py).as_any().get_item(index)?;
        if index.is_instance_of::<PySlice>() {
            let pairs = item.cast_into::<PyTuple>()?.unbind();
            return Ok(Bound::new(py, Arguments { pairs })?.into_any());
        }
        Ok(item)
    }

    /// The argument names, in order.
    fn names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let names = self.pairs.bind(py).iter().map(|p| p.get_item(1));
        PyList::new(py, names.collect::<PyResult<Vec<_>>>()?)
    }

    /// The argument types, in order.
    fn types<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let types = self.pairs.bind(py).iter().map(|p| p.get_item(0));
        PyList::new(py, types.collect::<PyResult<Vec<_>>>()?)
    }

    /// Each name cast to its type, as C writes it: `(type)name`.
    fn casted(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        Ok(self
            .strings(py)?
            .into_iter()
            .map(|(ty, name)| format!("({ty}){name}"))
            .collect())
    }

    /// The arguments as a C parameter list: `type name, ...`, or `void`.
    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        let pairs = self.strings(py)?;
        if pairs.is_empty() {
            return Ok("void".to_owned());
        }
        let list: Vec<String> = pairs.iter().map(|(t, n)| format!("{t} {n}")).collect();
        Ok(list.join(", "))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("<simpletrace.Arguments {}>", self.__str__(py)?))
    }
}

/// A declared event, as handlers get it.
#[pyclass(frozen, module = "simpletrace", name = "Event")]
#[derive(Debug)]
pub struct Event {
    /// The event name.
    #[pyo3(get)]
    name: Py<PyString>,
    /// The property words (`disable`, `vcpu`; `tcg` for the two events of
    /// an old `tcg` declaration).
    #[pyo3(get)]
    properties: Py<PyList>,
    /// The format string as written, quotes and macros included (`""`
    /// when the declaration has none).
    #[pyo3(get)]
    fmt: Py<PyString>,
    /// The arguments.
    #[pyo3(get)]
    args: Py<Arguments>,
    /// The 1-based line of the declaration (0 for the dropped-events
    /// pseudo event).
    #[pyo3(get)]
    lineno: u32,
    /// The trace-events file it was read from.
    #[pyo3(get)]
    filename: Py<PyString>,
}

impl Event {
    fn of_decl(
        py: Python<'_>,
        decl: &EventDecl,
        filename: &Bound<'_, PyString>,
    ) -> PyResult<Event> {
        let mut properties = Vec::new();
        if decl.properties.disable {
            properties.push("disable");
        }
        if decl.properties.vcpu {
            properties.push("vcpu");
        }
        if decl.properties.tcg.is_some() {
            properties.push("tcg");
        }
        let fmt = decl.format.as_ref().map_or("", |f| f.raw.as_str());
        Ok(Event {
            name: PyString::new(py, &decl.name).unbind(),
            properties: PyList::new(py, properties)?.unbind(),
            fmt: PyString::new(py, fmt).unbind(),
            args: Py::new(py, Arguments::of_decl(py, decl)?)?,
            lineno: decl.line,
            filename: filename.clone().unbind(),
        })
    }
}

#[pymethods]
impl Event {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let args = self.args.borrow(py).__str__(py)?;
        Ok(format!(
            "<simpletrace.Event {}({args})>",
            self.name.bind(py)
        ))
    }
}

/// A parsed trace-events file (or list of events): what decodes the trace,
/// and the Python object each declaration is handed to handlers as.
#[pyclass(frozen, module = "simpletrace._native")]
#[derive(Debug)]
pub struct Declarations {
    /// The declarations the trace is decoded against.
    pub(crate) events: Arc<TraceEvents>,
    /// The object handed to handlers for each slot: one per declaration
    /// (by position), then the dropped-events pseudo event.
    pub(crate) objects: Vec<Py<PyAny>>,
    /// The `event_id` handed to handlers for each slot: the event's name,
    /// and `"dropped"` for dropped-events records, as in QEMU's module.
    pub(crate) ids: Vec<Py<PyString>>,
}

impl Declarations {
    /// Declarations whose objects are this module's [`Event`]s.
    fn native(py: Python<'_>, events: TraceEvents, file: &str) -> PyResult<Declarations> {
        let filename = PyString::new(py, file);
        let mut objects = Vec::with_capacity(events.len() + 1);
        let mut ids = Vec::with_capacity(events.len() + 1);
        for decl in &events {
            objects.push(Py::new(py, Event::of_decl(py, decl, &filename)?)?.into_any());
            ids.push(PyString::new(py, &decl.name).unbind());
        }
        let pseudo = PyString::new(py, "simpletrace");
        objects.push(Py::new(py, Event::of_decl(py, events.dropped(), &pseudo)?)?.into_any());
        ids.push(PyString::new(py, DROPPED_MAPPING_NAME).unbind());
        Ok(Declarations {
            events: Arc::new(events),
            objects,
            ids,
        })
    }

    /// The number of slots: the declarations and the dropped-events one.
    pub(crate) fn slots(&self) -> usize {
        self.objects.len()
    }
}

/// Whether `s` can stand in a declaration line made from an event object
/// without changing how the line splits.
fn plain(s: &str) -> bool {
    !s.contains(['\n', '\r', '(', ')', ','])
}

#[pymethods]
impl Declarations {
    /// Reads a trace-events file.
    #[staticmethod]
    fn from_path(py: Python<'_>, path: PathBuf) -> PyResult<Declarations> {
        let events =
            simpletrace::input::read_trace_events(&path).map_err(|e| errors::input_error(&e))?;
        Declarations::native(py, events, &path.display().to_string())
    }

    /// Parses the text of a trace-events file called `name`.
    #[staticmethod]
    fn from_text(py: Python<'_>, name: &str, text: &[u8]) -> PyResult<Declarations> {
        let events =
            TraceEvents::parse(name, text).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Declarations::native(py, events, name)
    }

    /// Declarations made from already-parsed event objects (tracetool's
    /// `Event`s, or any objects with a `name` and `args` of `(type, name)`
    /// pairs), which handlers then get back as they are. Their position
    /// in the list is their id in a trace without a header.
    #[staticmethod]
    fn from_events(py: Python<'_>, events: &Bound<'_, PyAny>) -> PyResult<Declarations> {
        let mut text = String::new();
        let mut objects = Vec::new();
        let mut ids = Vec::new();
        for (i, event) in events.try_iter()?.enumerate() {
            let event = event?;
            let name: Bound<'_, PyString> = event.getattr(intern!(py, "name"))?.extract()?;
            let name_str: String = name.extract()?;
            let mut args = Vec::new();
            for pair in event.getattr(intern!(py, "args"))?.try_iter()? {
                let (ty, arg): (String, String) = pair?.extract()?;
                args.push(format!("{ty} {arg}"));
            }
            if !plain(&name_str) || !args.iter().all(|a| plain(a)) {
                return Err(PyValueError::new_err(format!(
                    "event {i} of the list ({name_str:?}): its name or an argument has a \
                     character no declaration can hold"
                )));
            }
            let args = if args.is_empty() {
                "void".to_owned()
            } else {
                args.join(", ")
            };
            // No properties: the arguments are the object's, as they are
            // (a `vcpu` word would add the implicit argument of QEMU 2.8
            // to 8.0).
            let _ = writeln!(text, "{name_str}({args})");
            objects.push(event.unbind());
            ids.push(name.unbind());
        }
        let events = TraceEvents::parse("events list", text.as_bytes())
            .map_err(|e| PyValueError::new_err(format!("{e} (line N is the list's event N-1)")))?;
        if events.len() != objects.len() {
            return Err(PyValueError::new_err(
                "the events list does not read back as one declaration per event",
            ));
        }
        // Dropped-events records get this module's pseudo event.
        let pseudo = PyString::new(py, "simpletrace");
        objects.push(Py::new(py, Event::of_decl(py, events.dropped(), &pseudo)?)?.into_any());
        ids.push(PyString::new(py, DROPPED_MAPPING_NAME).unbind());
        Ok(Declarations {
            events: Arc::new(events),
            objects,
            ids,
        })
    }

    /// The event objects, in declaration order.
    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let declared = self.objects.len().saturating_sub(1);
        PyList::new(py, self.objects.iter().take(declared).map(|o| o.bind(py)))
    }

    /// The object dropped-events records are handed to handlers with
    /// (`Dropped_Event(uint64_t num_events_dropped)`).
    #[getter]
    fn dropped<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.objects.last().map(|o| o.bind(py).clone())
    }

    /// The number of declarations.
    fn __len__(&self) -> usize {
        self.events.len()
    }
}
