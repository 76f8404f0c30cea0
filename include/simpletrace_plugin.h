/*
 * simpletrace analyzer plugins: the C ABI, version 1.0.
 *
 * A plugin is a shared library exporting one function,
 *
 *     const st_plugin *simpletrace_plugin_v1(void);
 *
 * that returns a descriptor valid for the life of the library. `simpletrace
 * run --plugin ./libfoo.so TRACE_EVENTS TRACE` loads it, checks
 * `abi_major`, calls `create`, hands it the records it is interested in,
 * in file order and in batches, calls `finish` for its results, and then
 * `destroy`. All strings handed to the plugin are byte arrays with a
 * length, not NUL-terminated, and are valid only during the call that
 * passes them (for that whole call they stay in place, unchanged: they
 * belong to the batch, not to the buffer the trace is read into). Every
 * call comes from one thread.
 *
 * See docs/plugins.md.
 */
#ifndef SIMPLETRACE_PLUGIN_H
#define SIMPLETRACE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A plugin built for another major version is refused; minor versions
 * only add at the end of structures. */
#define SIMPLETRACE_PLUGIN_ABI_MAJOR 1
#define SIMPLETRACE_PLUGIN_ABI_MINOR 0

/* What the callbacks return. */
typedef enum st_status {
    ST_OK = 0,     /* go on */
    ST_STOP = 1,   /* stop reading the trace; finish is still called */
    ST_ERROR = -1  /* fail the run; last_error says why */
} st_status;

/* Argument kinds, from the declared C type. */
typedef enum st_arg_kind {
    ST_ARG_UNSIGNED = 0, /* unsigned integer: value */
    ST_ARG_SIGNED = 1,   /* signed integer: value, sign-extended to 64 bits */
    ST_ARG_POINTER = 2,  /* pointer: value is the address */
    ST_ARG_BOOL = 3,     /* bool: value is 0 or 1 */
    ST_ARG_STRING = 4    /* string: bytes, len (a NULL pointer is empty) */
} st_arg_kind;

typedef struct st_arg {
    const uint8_t *name; /* the declared argument name */
    uint32_t name_len;
    uint32_t kind;       /* st_arg_kind */
    uint64_t value;      /* integers, pointers, bools */
    const uint8_t *bytes;/* strings */
    uint64_t len;
} st_arg;

/* st_record.flags */
#define ST_RECORD_DROPPED 1u /* a dropped-events record: one argument, the count */

typedef struct st_record {
    const uint8_t *name; /* the event name */
    uint32_t name_len;
    uint32_t nargs;
    const st_arg *args;  /* nargs arguments, in declaration order */
    uint64_t id;         /* the event id in the trace */
    uint64_t timestamp_ns;
    uint64_t offset;     /* byte offset of the record in the trace */
    uint32_t pid;
    uint32_t flags;
} st_record;

typedef struct st_trace_info {
    uint32_t abi_major;  /* the host's ABI version */
    uint32_t abi_minor;
    uint32_t format_version; /* 0, 2, 3 or 4 */
    uint32_t nevents;    /* declarations in the trace-events file */
    uint64_t file_size;  /* bytes; 0 for a trace read as a stream (a pipe, */
                         /* a compressed file), whose size is not known */
} st_trace_info;

/* Results; the memory stays the plugin's and must stay valid until
 * destroy. Either may be NULL. json must be one JSON value. */
typedef struct st_output {
    const char *text;
    size_t text_len;
    const char *json;
    size_t json_len;
} st_output;

typedef struct st_plugin {
    uint32_t abi_major;       /* SIMPLETRACE_PLUGIN_ABI_MAJOR */
    uint32_t abi_minor;       /* SIMPLETRACE_PLUGIN_ABI_MINOR */
    const char *name;         /* NUL-terminated, e.g. "event-counts" */
    const char *description;  /* NUL-terminated, one line; may be NULL */
    /* Comma-separated QEMU-style patterns of the events to receive
     * ("qemu_mutex_*,-qemu_mutex_unlock"); NULL for every event. */
    const char *interest;
    /* Returns the plugin's state (NULL is a valid state). */
    void *(*create)(const st_trace_info *info);
    st_status (*records)(void *state, const st_record *records, size_t count);
    st_status (*finish)(void *state, st_output *out);
    /* A NUL-terminated message after ST_ERROR; may be NULL. */
    const char *(*last_error)(void *state);
    void (*destroy)(void *state);
} st_plugin;

const st_plugin *simpletrace_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* SIMPLETRACE_PLUGIN_H */
