/*
 * event-counts: a simpletrace analyzer plugin in C.
 *
 * Counts the records of every event and reports them, most frequent first,
 * with each event's share and the pids that wrote it.
 *
 *   cc -shared -fPIC -O2 -I include -o libevent_counts.so \
 *       plugins/c-event-counts/event_counts.c
 *   simpletrace run --plugin ./libevent_counts.so trace-events-all trace-12345
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simpletrace_plugin.h"

#define MAX_PIDS 8

struct count {
    char *name;       /* NUL-terminated copy */
    uint32_t name_len;
    uint64_t records;
    uint32_t pids[MAX_PIDS];
    uint32_t npids;   /* how many distinct pids, up to MAX_PIDS + 1 (more) */
};

struct state {
    struct count *slots; /* open addressing, by name */
    size_t cap;
    size_t used;
    uint64_t total;
    char *text;
    char *json;
    char error[128];
};

static uint64_t hash(const uint8_t *p, uint32_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint32_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

static int grow(struct state *s);

static struct count *slot_for(struct state *s, const uint8_t *name, uint32_t len)
{
    if ((s->used + 1) * 2 > s->cap && grow(s) != 0) {
        return NULL;
    }
    size_t i = hash(name, len) & (s->cap - 1);
    for (;;) {
        struct count *c = &s->slots[i];
        if (!c->name) {
            c->name = malloc(len + 1);
            if (!c->name) {
                return NULL;
            }
            memcpy(c->name, name, len);
            c->name[len] = 0;
            c->name_len = len;
            s->used++;
            return c;
        }
        if (c->name_len == len && memcmp(c->name, name, len) == 0) {
            return c;
        }
        i = (i + 1) & (s->cap - 1);
    }
}

static int grow(struct state *s)
{
    size_t cap = s->cap ? s->cap * 2 : 256;
    struct count *old = s->slots;
    size_t old_cap = s->cap;
    s->slots = calloc(cap, sizeof *s->slots);
    if (!s->slots) {
        s->slots = old;
        return -1;
    }
    s->cap = cap;
    s->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].name) {
            size_t j = hash((const uint8_t *)old[i].name, old[i].name_len) & (cap - 1);
            while (s->slots[j].name) {
                j = (j + 1) & (cap - 1);
            }
            s->slots[j] = old[i];
            s->used++;
        }
    }
    free(old);
    return 0;
}

static void *create(const st_trace_info *info)
{
    (void)info;
    return calloc(1, sizeof(struct state));
}

static st_status records(void *state, const st_record *recs, size_t n)
{
    struct state *s = state;
    if (!s) {
        return ST_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        struct count *c = slot_for(s, recs[i].name, recs[i].name_len);
        if (!c) {
            snprintf(s->error, sizeof s->error, "out of memory after %llu records",
                     (unsigned long long)s->total);
            return ST_ERROR;
        }
        c->records++;
        s->total++;
        uint32_t k;
        for (k = 0; k < c->npids && k < MAX_PIDS; k++) {
            if (c->pids[k] == recs[i].pid) {
                break;
            }
        }
        if (k == c->npids && c->npids <= MAX_PIDS) {
            if (c->npids < MAX_PIDS) {
                c->pids[c->npids] = recs[i].pid;
            }
            c->npids++;
        }
    }
    return ST_OK;
}

static int by_count(const void *a, const void *b)
{
    const struct count *x = *(const struct count *const *)a;
    const struct count *y = *(const struct count *const *)b;
    if (x->records != y->records) {
        return x->records < y->records ? 1 : -1;
    }
    return strcmp(x->name, y->name);
}

/* Appends to a growing buffer; returns 0 or -1. */
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return -1;
        }
        if (*buf && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return 0;
        }
        size_t want = (*cap ? *cap * 2 : 4096) + (size_t)n;
        char *p = realloc(*buf, want);
        if (!p) {
            return -1;
        }
        *buf = p;
        *cap = want;
    }
}

static st_status finish(void *state, st_output *out)
{
    struct state *s = state;
    if (!s) {
        return ST_ERROR;
    }
    struct count **sorted = malloc((s->used ? s->used : 1) * sizeof *sorted);
    if (!sorted) {
        return ST_ERROR;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].name) {
            sorted[n++] = &s->slots[i];
        }
    }
    qsort(sorted, n, sizeof *sorted, by_count);

    char *text = NULL, *json = NULL;
    size_t tl = 0, tc = 0, jl = 0, jc = 0;
    int bad = append(&text, &tl, &tc, "%zu events, %llu records\n\n%10s %7s  %-5s %s\n", n,
                     (unsigned long long)s->total, "records", "share", "pids", "event");
    bad |= append(&json, &jl, &jc, "{\"records\": %llu, \"events\": [", (unsigned long long)s->total);
    for (size_t i = 0; i < n; i++) {
        struct count *c = sorted[i];
        double share = s->total ? 100.0 * (double)c->records / (double)s->total : 0.0;
        char pids[16];
        if (c->npids > MAX_PIDS) {
            snprintf(pids, sizeof pids, ">%d", MAX_PIDS);
        } else {
            snprintf(pids, sizeof pids, "%u", c->npids);
        }
        bad |= append(&text, &tl, &tc, "%10llu %6.2f%%  %-5s %s\n", (unsigned long long)c->records,
                      share, pids, c->name);
        /* Event names are C identifiers: no JSON escaping needed. */
        bad |= append(&json, &jl, &jc, "%s{\"event\": \"%s\", \"records\": %llu}", i ? ", " : "",
                      c->name, (unsigned long long)c->records);
    }
    bad |= append(&json, &jl, &jc, "]}");
    free(sorted);
    if (bad) {
        free(text);
        free(json);
        snprintf(s->error, sizeof s->error, "out of memory writing the report");
        return ST_ERROR;
    }
    s->text = text;
    s->json = json;
    out->text = text;
    out->text_len = tl;
    out->json = json;
    out->json_len = jl;
    return ST_OK;
}

static const char *last_error(void *state)
{
    struct state *s = state;
    return s && s->error[0] ? s->error : NULL;
}

static void destroy(void *state)
{
    struct state *s = state;
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->cap; i++) {
        free(s->slots[i].name);
    }
    free(s->slots);
    free(s->text);
    free(s->json);
    free(s);
}

static const st_plugin descriptor = {
    .abi_major = SIMPLETRACE_PLUGIN_ABI_MAJOR,
    .abi_minor = SIMPLETRACE_PLUGIN_ABI_MINOR,
    .name = "event-counts",
    .description = "records per event, most frequent first",
    .interest = NULL,
    .create = create,
    .records = records,
    .finish = finish,
    .last_error = last_error,
    .destroy = destroy,
};

const st_plugin *simpletrace_plugin_v1(void)
{
    return &descriptor;
}
