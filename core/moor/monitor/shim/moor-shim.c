/*
 * moor-shim: moor's compiled container monitor, for the common case.
 *
 * It does what the Python monitor (core/moor/monitor/main.py) does for one container process (the init, or
 * one exec), in one single-threaded process of a few hundred KiB: it runs runc, owns the process's stdio
 * (pipes, or the pty master runc hands over on the console socket), writes the json-file log exactly as
 * moor.logdrivers.jsonfile does (max-size/max-file rotation included), serves attached clients, publishes
 * ports (Docker's userland proxy), answers moor.monitor.protocol's requests on <state dir>/control.sock,
 * and on exit writes exit.json, answers the waiters, runs `runc delete -f` (init only) and leaves.
 * moord picks it in moor.containers.launch.select_monitor_command; the Python monitor covers the rest
 * (other log drivers, compress=true). Command line (fd 3: the readiness pipe):
 *
 *   moor-shim --id ID --state-dir DIR --bundle BUNDLE --runtime runc --runtime-root ROOT [--exec PROCESS_JSON]
 *             [--tty] [--stdin] [--stdin-once] [--log-path PATH --log-max-size BYTES --log-max-file N
 *             [--log-attrs JSON]] [--hide-roots DIR [--rootfs PATH [--runc-mount-ns FD]]]
 *
 * It forks once at start and the first process leaves (moord reaps it at once): the monitor proper is then
 * nobody's child but init's, in a session of its own, and outlives moord.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SYNC_FD 3
#define SOCKET_NAME "control.sock"
#define CONSOLE_NAME "console.sock"
#define RUNC_LOG "runc.log"
#define PID_FILE "init.pid"
#define START_TIMEOUT 120.0   /* no start request in that time: moord died meanwhile, abandon */
#define DRAIN_TIMEOUT 5.0     /* after the exit: how long the output is read on before it is closed */
#define RUNC_TIMEOUT 60.0
#define MAX_LINE (1 << 20)
#define READ_CHUNK 65536
#define LONG_LINE 16384       /* a line longer than this is logged in parts, as Docker does */
#define CLIENT_HIGH (1 << 20) /* an attached client this far behind stops the output (as a blocked send does) */
#define UDP_IDLE 90.0
#define TCP_CONNECT_TIMEOUT 10.0
#define TCP_BUFFER (256 * 1024)

/* ------------------------------------------------------------------ small helpers */

struct buf { char *data; size_t len, cap; };

static void buf_add(struct buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) abort();
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_fmt(struct buf *b, const char *format, ...) {
    char small[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { buf_add(b, small, (size_t)n); return; }
    char *large = malloc((size_t)n + 1);
    if (!large) abort();
    va_start(args, format);
    vsnprintf(large, (size_t)n + 1, format, args);
    va_end(args);
    buf_add(b, large, (size_t)n);
    free(large);
}

static void buf_consume(struct buf *b, size_t n) {
    if (n >= b->len) { b->len = 0; return; }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static void buf_free(struct buf *b) { free(b->data); b->data = NULL; b->len = b->cap = 0; }

static double now_real(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double now_mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A line in monitor.log (our stdout), as the Python monitor prints them. */
static void say(const char *format, ...) {
    struct buf b = {0};
    char small[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(small, sizeof small, format, args);
    va_end(args);
    buf_str(&b, small);
    buf_add(&b, "\n", 1);
    ssize_t ignored = write(1, b.data, b.len);
    (void)ignored;
    buf_free(&b);
}

static bool write_all(int fd, const char *data, size_t n) {
    while (n) {
        ssize_t done = write(fd, data, n);
        if (done < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += done;
        n -= (size_t)done;
    }
    return true;
}

static void set_nonblocking(int fd, bool on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

/* A float as Python's repr writes it: the shortest text that reads back the same, with ".0" when whole. */
static void buf_float(struct buf *b, double value) {
    char text[64];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, value);
        if (strtod(text, NULL) == value) break;
    }
    buf_str(b, text);
    if (!strpbrk(text, ".eni")) buf_str(b, ".0");
}

/* ------------------------------------------------------------------ JSON out */

/* ``data`` as a JSON string as Python's json.dumps(ensure_ascii=False) writes the text that
 * data.decode("utf-8", "replace") gives: invalid sequences become U+FFFD (one per maximal invalid subpart, as
 * Python's decoder does), only '"', '\\' and control characters are escaped. */
static void buf_json_string(struct buf *b, const unsigned char *s, size_t n) {
    static const char replacement[] = "\xef\xbf\xbd";
    buf_add(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': buf_add(b, "\\\"", 2); break;
            case '\\': buf_add(b, "\\\\", 2); break;
            case '\n': buf_add(b, "\\n", 2); break;
            case '\r': buf_add(b, "\\r", 2); break;
            case '\t': buf_add(b, "\\t", 2); break;
            case '\b': buf_add(b, "\\b", 2); break;
            case '\f': buf_add(b, "\\f", 2); break;
            default:
                if (c < 0x20) buf_fmt(b, "\\u%04x", c);
                else buf_add(b, &s[i], 1);
            }
            i++;
            continue;
        }
        int need;
        unsigned char low = 0x80, high = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; low = 0xA0; }
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
        else if (c == 0xED) { need = 2; high = 0x9F; }
        else if (c == 0xF0) { need = 3; low = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) { need = 3; high = 0x8F; }
        else { buf_add(b, replacement, 3); i++; continue; }
        if (i + 1 >= n || s[i + 1] < low || s[i + 1] > high) { buf_add(b, replacement, 3); i++; continue; }
        size_t j = i + 2;
        int have = 1;
        while (have < need && j < n && s[j] >= 0x80 && s[j] <= 0xBF) { j++; have++; }
        if (have < need) { buf_add(b, replacement, 3); i = j; continue; }
        buf_add(b, &s[i], j - i);
        i = j;
    }
    buf_add(b, "\"", 1);
}

static void buf_json_cstr(struct buf *b, const char *s) { buf_json_string(b, (const unsigned char *)s, strlen(s)); }

/* ------------------------------------------------------------------ JSON in (flat objects) */

enum { J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL, J_OTHER };
struct jfield { char key[32]; int type; char *text; double number; };
struct jobject { struct jfield fields[32]; int count; };

static const char *json_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static void utf8_put(struct buf *b, unsigned code) {
    char out[4];
    if (code < 0x80) { out[0] = (char)code; buf_add(b, out, 1); }
    else if (code < 0x800) { out[0] = (char)(0xC0 | code >> 6); out[1] = (char)(0x80 | (code & 0x3F)); buf_add(b, out, 2); }
    else if (code < 0x10000) {
        out[0] = (char)(0xE0 | code >> 12); out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F)); buf_add(b, out, 3);
    } else {
        out[0] = (char)(0xF0 | code >> 18); out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((code >> 6) & 0x3F)); out[3] = (char)(0x80 | (code & 0x3F)); buf_add(b, out, 4);
    }
}

static const char *json_hex4(const char *p, const char *end, unsigned *code) {
    if (end - p < 4) return NULL;
    char hex[5] = {p[0], p[1], p[2], p[3], 0};
    char *stop;
    *code = (unsigned)strtoul(hex, &stop, 16);
    return *stop ? NULL : p + 4;
}

/* A JSON string at p (after its opening quote) into out (NUL-terminated); the position after it, or NULL. */
static const char *json_string(const char *p, const char *end, struct buf *out) {
    while (p < end) {
        char c = *p++;
        if (c == '"') { buf_add(out, "", 1); return p; }
        if (c != '\\') { buf_add(out, &c, 1); continue; }
        if (p >= end) return NULL;
        c = *p++;
        switch (c) {
        case 'n': buf_add(out, "\n", 1); break;
        case 't': buf_add(out, "\t", 1); break;
        case 'r': buf_add(out, "\r", 1); break;
        case 'b': buf_add(out, "\b", 1); break;
        case 'f': buf_add(out, "\f", 1); break;
        case 'u': {
            unsigned code, low;
            if (!(p = json_hex4(p, end, &code))) return NULL;
            if (code >= 0xD800 && code < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u'
                && json_hex4(p + 2, end, &low) && low >= 0xDC00 && low < 0xE000) {
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            }
            utf8_put(out, code);
            break;
        }
        default: buf_add(out, &c, 1);
        }
    }
    return NULL;
}

static const char *json_skip(const char *p, const char *end) {
    int depth = 0;
    while (p < end) {
        char c = *p++;
        if (c == '"') {
            while (p < end && *p != '"') p += (*p == '\\') ? 2 : 1;
            p++;
        } else if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') { if (--depth == 0) return p; }
    }
    return NULL;
}

static void json_free(struct jobject *o) {
    for (int i = 0; i < o->count; i++) free(o->fields[i].text);
    o->count = 0;
}

/* A flat JSON object (nested values are skipped); false when it is not one. */
static bool json_parse(const char *p, size_t n, struct jobject *o) {
    const char *end = p + n;
    o->count = 0;
    p = json_ws(p, end);
    if (p >= end || *p++ != '{') return false;
    p = json_ws(p, end);
    if (p < end && *p == '}') return true;
    while (p < end) {
        struct buf key = {0}, text = {0};
        p = json_ws(p, end);
        if (p >= end || *p++ != '"' || !(p = json_string(p, end, &key))) { buf_free(&key); goto bad; }
        p = json_ws(p, end);
        if (p >= end || *p++ != ':') { buf_free(&key); goto bad; }
        p = json_ws(p, end);
        if (p >= end) { buf_free(&key); goto bad; }
        struct jfield field = {.type = J_OTHER};
        snprintf(field.key, sizeof field.key, "%s", key.data);
        buf_free(&key);
        if (*p == '"') {
            if (!(p = json_string(p + 1, end, &text))) { buf_free(&text); goto bad; }
            field.type = J_STRING;
            field.text = text.data;
        } else if (*p == '{' || *p == '[') {
            if (!(p = json_skip(p, end))) goto bad;
        } else if (end - p >= 4 && !memcmp(p, "true", 4)) { field.type = J_TRUE; p += 4; }
        else if (end - p >= 5 && !memcmp(p, "false", 5)) { field.type = J_FALSE; p += 5; }
        else if (end - p >= 4 && !memcmp(p, "null", 4)) { field.type = J_NULL; p += 4; }
        else {
            char number[64];
            size_t k = 0;
            while (p < end && k < sizeof number - 1 && strchr("+-0123456789.eE", *p)) number[k++] = *p++;
            number[k] = 0;
            char *stop;
            field.number = strtod(number, &stop);
            if (!k || *stop) goto bad;
            field.type = J_NUMBER;
        }
        if (o->count < 32) o->fields[o->count++] = field;
        else free(field.text);
        p = json_ws(p, end);
        if (p < end && *p == ',') { p++; continue; }
        if (p < end && *p == '}') return true;
        goto bad;
    }
bad:
    json_free(o);
    return false;
}

static struct jfield *json_get(struct jobject *o, const char *key) {
    for (int i = 0; i < o->count; i++)
        if (!strcmp(o->fields[i].key, key)) return &o->fields[i];
    return NULL;
}

/* Python's truth of request.get(key) */
static bool json_true(struct jobject *o, const char *key) {
    struct jfield *f = json_get(o, key);
    if (!f) return false;
    switch (f->type) {
    case J_TRUE: return true;
    case J_NUMBER: return f->number != 0;
    case J_STRING: return f->text[0] != 0;
    default: return false;
    }
}

static long json_int(struct jobject *o, const char *key, long fallback) {
    struct jfield *f = json_get(o, key);
    if (!f || f->type == J_NULL || f->type == J_FALSE) return fallback;
    if (f->type == J_NUMBER) return (long)f->number;
    if (f->type == J_TRUE) return 1;
    if (f->type == J_STRING) return strtol(f->text, NULL, 10);
    return fallback;
}

static const char *json_text(struct jobject *o, const char *key) {
    struct jfield *f = json_get(o, key);
    return f && f->type == J_STRING ? f->text : NULL;
}

/* ------------------------------------------------------------------ the options */

static struct {
    const char *id, *state_dir, *bundle, *runtime, *runtime_root, *exec_process;
    const char *hide_roots, *rootfs; /* runc without the other containers' roots (hide_other_roots) */
    int runc_ns;                     /* moord's namespace without any root, lent for runc create (-1: none) */
    bool tty, stdin_open, stdin_once;
    const char *log_path, *log_attrs;
    long long max_size;
    int max_file;
} opt = {.runtime = "runc", .max_size = -1, .max_file = 1, .runc_ns = -1};

static void parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE(flag, field) if (!strcmp(a, flag) && value) { field = value; i++; continue; }
        VALUE("--id", opt.id)
        VALUE("--state-dir", opt.state_dir)
        VALUE("--bundle", opt.bundle)
        VALUE("--runtime", opt.runtime)
        VALUE("--runtime-root", opt.runtime_root)
        VALUE("--exec", opt.exec_process)
        VALUE("--log-path", opt.log_path)
        VALUE("--log-attrs", opt.log_attrs)
        VALUE("--hide-roots", opt.hide_roots)
        VALUE("--rootfs", opt.rootfs)
#undef VALUE
        if (!strcmp(a, "--log-max-size") && value) { opt.max_size = atoll(value); i++; continue; }
        if (!strcmp(a, "--log-max-file") && value) { opt.max_file = atoi(value); i++; continue; }
        if (!strcmp(a, "--runc-mount-ns") && value) { opt.runc_ns = atoi(value); i++; continue; }
        if (!strcmp(a, "--tty")) { opt.tty = true; continue; }
        if (!strcmp(a, "--stdin")) { opt.stdin_open = true; continue; }
        if (!strcmp(a, "--stdin-once")) { opt.stdin_once = true; continue; }
        fprintf(stderr, "moor-shim: unknown argument %s\n", a);
        exit(2);
    }
    if (!opt.id || !opt.state_dir || !opt.bundle || !opt.runtime_root) {
        fprintf(stderr, "moor-shim: --id, --state-dir, --bundle and --runtime-root are required\n");
        exit(2);
    }
    if (opt.exec_process && !*opt.exec_process) opt.exec_process = NULL;
    if (opt.log_path && !*opt.log_path) opt.log_path = NULL;
    if (opt.hide_roots && *opt.hide_roots != '/') opt.hide_roots = NULL;
    if (opt.rootfs && !*opt.rootfs) opt.rootfs = NULL;
    /* fd 3 is the readiness pipe; a namespace is of use only to runc create keeping its root */
    if (opt.runc_ns < 4 || !opt.rootfs || !opt.hide_roots || opt.exec_process) opt.runc_ns = -1;
}

/* ------------------------------------------------------------------ the json-file log (moor.logdrivers.jsonfile) */

static int log_fd = -1;
static long long log_size;
static struct buf pending_line[2]; /* per stream: output after its last newline */
static const char *const STREAM_NAMES[2] = {"stdout", "stderr"};

static void mkdir_parents(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') { *p = 0; mkdir(dir, 0777); *p = '/'; }
    }
    mkdir(dir, 0777);
}

static bool log_open(char *error, size_t size) {
    mkdir_parents(opt.log_path);
    log_fd = open(opt.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (log_fd < 0) {
        snprintf(error, size, "[Errno %d] %s: '%s'", errno, strerror(errno), opt.log_path);
        return false;
    }
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
    char marker[PATH_MAX];
    snprintf(marker, sizeof marker, "%s.closed", opt.log_path);
    unlink(marker);
    return true;
}

static void log_rotate(void) {
    char from[PATH_MAX], to[PATH_MAX];
    close(log_fd);
    if (opt.max_file > 1) {
        for (int index = opt.max_file - 1; index > 1; index--) {
            for (int gz = 0; gz < 2; gz++) {
                snprintf(from, sizeof from, "%s.%d%s", opt.log_path, index - 1, gz ? ".gz" : "");
                snprintf(to, sizeof to, "%s.%d%s", opt.log_path, index, gz ? ".gz" : "");
                if (access(from, F_OK) == 0) rename(from, to);
            }
        }
        snprintf(to, sizeof to, "%s.1", opt.log_path);
        rename(opt.log_path, to);
    }
    log_fd = open(opt.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    log_size = 0;
}

static void log_record(int stream, const char *line, size_t n, const char *stamp) {
    struct buf record = {0};
    buf_str(&record, "{\"log\": ");
    buf_json_string(&record, (const unsigned char *)line, n);
    buf_fmt(&record, ", \"stream\": \"%s\", ", STREAM_NAMES[stream]);
    if (opt.log_attrs) buf_fmt(&record, "\"attrs\": %s, ", opt.log_attrs);
    buf_fmt(&record, "\"time\": \"%s\"}\n", stamp);
    if (opt.max_size > 0 && log_size + (long long)record.len > opt.max_size) log_rotate();
    if (log_fd >= 0 && !write_all(log_fd, record.data, record.len)) say("log driver failed: %s", strerror(errno));
    log_size += (long long)record.len;
    buf_free(&record);
}

/* Docker's RFC3339NanoFixed in UTC, as moor.timefmt.log_timestamp */
static void log_stamp(char *out, size_t size) {
    struct timespec t;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &t);
    gmtime_r(&t.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%09ldZ", t.tv_nsec);
}

/* LineLogger.feed: whole lines with their newline, one stamp per chunk; a rest over 16 KiB in one record */
static void log_feed(int stream, const char *data, size_t n) {
    if (log_fd < 0 && !opt.log_path) return;
    char stamp[64];
    log_stamp(stamp, sizeof stamp);
    struct buf *rest = &pending_line[stream];
    buf_add(rest, data, n);
    size_t start = 0;
    for (size_t i = 0; i < rest->len; i++) {
        if (rest->data[i] == '\n') {
            log_record(stream, rest->data + start, i + 1 - start, stamp);
            start = i + 1;
        }
    }
    buf_consume(rest, start);
    if (rest->len > LONG_LINE) {
        log_record(stream, rest->data, rest->len, stamp);
        rest->len = 0;
    }
}

static void log_close(void) {
    if (!opt.log_path) return;
    for (int stream = 0; stream < 2; stream++) {
        if (pending_line[stream].len) {
            char stamp[64];
            log_stamp(stamp, sizeof stamp);
            log_record(stream, pending_line[stream].data, pending_line[stream].len, stamp);
            pending_line[stream].len = 0;
        }
    }
    if (log_fd >= 0) close(log_fd);
    log_fd = -1;
    char marker[PATH_MAX];
    snprintf(marker, sizeof marker, "%s.closed", opt.log_path);
    int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0) close(fd);
}

/* ------------------------------------------------------------------ the event loop's objects */

enum kind { K_LISTENER, K_REQUEST, K_CLIENT, K_OUTPUT, K_STDIN, K_SIGNAL, K_TCP_LISTENER, K_TCP_SIDE, K_UDP_LISTENER,
            K_UDP_UPSTREAM, K_DELETE };

struct object { enum kind kind; int fd; bool dead; bool registered; uint32_t events; struct object *next_dead; };

static int epoll_fd;
static struct object *graveyard;

static void watch(struct object *o, uint32_t events) {
    if (o->dead || o->fd < 0) return;
    if (events == 0) {
        if (o->registered) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, o->fd, NULL);
        o->registered = false;
        o->events = 0;
        return;
    }
    if (o->registered && o->events == events) return;
    struct epoll_event ev = {.events = events, .data.ptr = o};
    epoll_ctl(epoll_fd, o->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, o->fd, &ev);
    o->registered = true;
    o->events = events;
}

/* Closed now, freed after this round of events (another event of the round may still name it). */
static void bury(struct object *o) {
    if (o->dead) return;
    watch(o, 0);
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    o->dead = true;
    o->next_dead = graveyard;
    graveyard = o;
}

/* ------------------------------------------------------------------ the monitor's state */

static bool exec_mode;
static pid_t container_pid;
static bool started, abandoned, finishing;
static bool have_exit;            /* the process has exited (exit_code and finished_at are set) */
static bool exited;               /* the exit is recorded: waiters are answered (Python's `exited` event) */
static int exit_code = -1;
static double finished_at, started_at;
static bool child_reaped;
static int child_status;
static double watchdog_at, drain_until, finish_at;
static bool draining;
static bool oom_killed_flag;
static char memory_cgroup[PATH_MAX];
static double runc_create_seconds, runc_create_cpu;
static double last_run_cpu; /* the CPU time (user + system) of the last command run() ran, with its children */

static int master_fd = -1;
static int child_fds[3] = {-1, -1, -1};

struct output { struct object o; int stream; };
static struct output *outputs[2];
static int output_count;
static bool outputs_paused;

struct stdin_sink { struct object o; struct buf pending; bool close_when_flushed; bool is_pty; };
static struct stdin_sink *stdin_sink;

struct client {
    struct object o;
    bool wants[2], framed, wants_stdin, input_done, feeding, alive;
    struct buf out;
    struct client *next;
};
static struct client *clients;

struct request_conn { struct object o; struct buf in; };

struct waiter { int fd; struct waiter *next; };
static struct waiter *waiters;

static struct object listener = {.kind = K_LISTENER, .fd = -1};
static struct object deleting = {.kind = K_DELETE, .fd = -1}; /* the pidfd of the last `runc delete` */
static pid_t delete_pid;
static double delete_deadline;
static struct object signals = {.kind = K_SIGNAL, .fd = -1};

static void finish(void);
static void update_feeders(void);
static void adopt_master(void);

/* ------------------------------------------------------------------ runc's mount namespace */

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* What the child of run() hides before it execs runc: nothing, every root but the container's own (--rootfs:
 * `runc create`, only when moord gave it), or every root (`runc exec` and `runc delete`, which need none). */
static enum { HIDE_NONE, HIDE_KEEPING_ROOTFS, HIDE_ALL } hide_in_child;

/* In the child about to exec runc create, with --runc-mount-ns (moor.containers.runcnamespace): the container's
 * root cloned here, then moord's namespace without any root entered, a copy of it made (so that nothing is left
 * behind in the lent one) and the clone attached in place. Nothing has to be copied or unmounted per
 * container. false with errno 0: not done, back in the namespace we came from (the usual way then); false with
 * errno set: that way back failed. */
static bool enter_lent_namespace(const char *keep_path) {
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, keep_path, OPEN_TREE_CLONE | O_CLOEXEC);
    if (tree < 0) { errno = 0; return false; }
    int ours = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (ours < 0 || setns(opt.runc_ns, CLONE_NEWNS) < 0) {
        if (ours >= 0) close(ours);
        close(tree);
        errno = 0;
        return false;
    }
    /* setns() moved the working directory to the namespace's root: back to the state directory */
    bool entered = unshare(CLONE_NEWNS) == 0 && chdir(opt.state_dir) == 0 &&
                   syscall(SYS_move_mount, tree, "", AT_FDCWD, keep_path, MOVE_MOUNT_F_EMPTY_PATH) == 0;
    close(tree);
    if (!entered) {
        errno = 0;
        if (setns(ours, CLONE_NEWNS) < 0 || chdir(opt.state_dir) < 0) { if (!errno) errno = EIO; }
        else errno = 0;
    }
    close(ours);
    return entered;
}

/* In the child about to exec runc, as moor.monitor.mountns.hide_other_roots does: a mount namespace of its own
 * where the mount --hide-roots (the storage driver's home, holding every container's root) is lazily unmounted
 * in one step, `keep` (the container's own root, under it) cloned first and attached again in place. runc then
 * reads a short mountinfo and the kernel copies a few mounts into the container's namespace, not one per
 * container. Steps that cannot be done before the unmount leave everything as it was (false, errno 0): runc sees
 * every root, as before. false with errno set: the others are gone and `keep` could not come back. */
static bool hide_other_roots(const char *keep_path) {
    errno = 0;
    size_t length = strlen(opt.hide_roots);
    bool keep = keep_path && !strncmp(keep_path, opt.hide_roots, length) && keep_path[length] == '/';
    if (keep && opt.runc_ns >= 0 && enter_lent_namespace(keep_path)) return true;
    if (errno) return false; /* lost between two namespaces: the start fails */
    char parent[PATH_MAX];
    if (snprintf(parent, sizeof parent, "%s", opt.hide_roots) >= (int)sizeof parent) return false;
    char *slash = strrchr(parent, '/');
    if (slash == parent) slash[1] = 0; else *slash = 0;
    /* a namespace of our own; its parent and the roots' mount private in it: nothing propagates back to moord */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, parent, NULL, MS_PRIVATE, NULL) < 0 ||
        mount(NULL, opt.hide_roots, NULL, MS_REC | MS_PRIVATE, NULL) < 0) { errno = 0; return false; }
    int tree = -1;
    if (keep && (tree = (int)syscall(SYS_open_tree, AT_FDCWD, keep_path, OPEN_TREE_CLONE | O_CLOEXEC)) < 0) {
        errno = 0;
        return false;
    }
    if (umount2(opt.hide_roots, MNT_DETACH) < 0) {
        if (tree >= 0) close(tree);
        errno = 0;
        return false;
    }
    if (tree < 0) return true;
    long attached = syscall(SYS_move_mount, tree, "", AT_FDCWD, keep_path, MOVE_MOUNT_F_EMPTY_PATH);
    int error = errno;
    close(tree);
    errno = error;
    return attached == 0;
}

/* The child's end when its own root is lost: the reason in runc's log, where runc_error() looks for it. */
static void hide_failed(void) {
    char line[256];
    int n = snprintf(line, sizeof line, "{\"level\":\"error\",\"msg\":\"cannot keep the container's root "
                     "filesystem in runc's mount namespace: %s\"}\n", strerror(errno));
    int fd = open(RUNC_LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && n > 0) {
        ssize_t ignored = write(fd, line, (size_t)n);
        (void)ignored;
    }
    _exit(1);
}

/* ------------------------------------------------------------------ running runc */

/* Run argv with stdio in/out/err (-1: /dev/null; err == -2: captured into *captured), from the state directory;
 * with console >= 0, receive the pty master on that listening socket into *master meanwhile. The exit status
 * (>= 0), or -1 with `error` set when it could not run. */
static int run(char *const argv[], int in, int out, int err, struct buf *captured, int console, int *master,
               char *error, size_t error_size) {
    int capture[2] = {-1, -1}, report[2];
    if (err == -2 && pipe2(capture, O_CLOEXEC) < 0) { snprintf(error, error_size, "pipe: %s", strerror(errno)); return -1; }
    if (pipe2(report, O_CLOEXEC) < 0) { snprintf(error, error_size, "pipe: %s", strerror(errno)); return -1; }
    pid_t pid = fork();
    if (pid < 0) { snprintf(error, error_size, "fork: %s", strerror(errno)); return -1; }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGXFSZ, SIG_DFL);
        int null = open("/dev/null", O_RDWR);
        int fds[3] = {in >= 0 ? in : null, out >= 0 ? out : null, err == -2 ? capture[1] : err >= 0 ? err : null};
        int high[3];
        for (int i = 0; i < 3; i++) high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
        for (int i = 0; i < 3; i++) dup2(high[i], i);
        syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
        if (hide_in_child != HIDE_NONE && opt.hide_roots &&
            !hide_other_roots(hide_in_child == HIDE_KEEPING_ROOTFS ? opt.rootfs : NULL) && errno) hide_failed();
        execvp(argv[0], argv);
        int code = errno;
        ssize_t ignored = write(report[1], &code, sizeof code);
        (void)ignored;
        _exit(127);
    }
    close(report[1]);
    if (capture[1] >= 0) close(capture[1]);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    double deadline = now_mono() + RUNC_TIMEOUT;
    bool exited_ = pidfd < 0, timed_out = false; /* no pidfd: waitpid below */
    while (!exited_ || capture[0] >= 0) {
        struct pollfd fds[3] = {{.fd = pidfd, .events = POLLIN}, {.fd = capture[0], .events = POLLIN},
                                {.fd = master && *master < 0 ? console : -1, .events = POLLIN}};
        if (exited_) fds[0].fd = -1;
        double left = deadline - now_mono();
        if (left <= 0) { timed_out = true; break; }
        int ready = poll(fds, 3, (int)(left * 1000) + 1);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;
        if (fds[1].revents) {
            char chunk[4096];
            ssize_t n = read(capture[0], chunk, sizeof chunk);
            if (n > 0) buf_add(captured, chunk, (size_t)n);
            else if (n == 0 || errno != EINTR) { close(capture[0]); capture[0] = -1; }
        }
        if (fds[2].revents) {
            int connection = accept4(console, NULL, NULL, SOCK_CLOEXEC);
            if (connection >= 0) {
                char data[4096], control[CMSG_SPACE(sizeof(int))];
                struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
                struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                                         .msg_controllen = sizeof control};
                if (recvmsg(connection, &message, MSG_CMSG_CLOEXEC) >= 0) {
                    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
                    if (c && c->cmsg_type == SCM_RIGHTS) memcpy(master, CMSG_DATA(c), sizeof(int));
                }
                close(connection);
            }
        }
        if (fds[0].revents) exited_ = true;
    }
    if (timed_out) kill(pid, SIGKILL);
    if (capture[0] >= 0) close(capture[0]);
    int status = 0;
    struct rusage usage = {0};
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {}
    last_run_cpu = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                   (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    if (pidfd >= 0) close(pidfd);
    int code = 0;
    ssize_t got = read(report[0], &code, sizeof code);
    close(report[0]);
    if (got == (ssize_t)sizeof code) {
        snprintf(error, error_size, "[Errno %d] %s: '%s'", code, strerror(code), argv[0]);
        return -1;
    }
    if (timed_out) {
        snprintf(error, error_size, "Command '%s' timed out after 60 seconds", argv[0]);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The last error runc logged (its --log file, JSON lines), else the last non-blank line of `fallback`. */
static void runc_error(const char *fallback, char *out, size_t size) {
    out[0] = 0;
    FILE *file = fopen(RUNC_LOG, "re");
    if (file) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, file)) > 0) {
            struct jobject record;
            if (!json_parse(line, (size_t)n, &record)) continue;
            const char *level = json_text(&record, "level");
            if (level && (!strcmp(level, "error") || !strcmp(level, "fatal"))) {
                const char *message = json_text(&record, "msg");
                snprintf(out, size, "%s", message ? message : "");
            }
            json_free(&record);
        }
        free(line);
        fclose(file);
    }
    if (out[0]) return;
    const char *last = NULL, *last_end = NULL, *p = fallback;
    while (*p) {
        const char *end = strchr(p, '\n');
        if (!end) end = p + strlen(p);
        for (const char *q = p; q < end; q++)
            if (!strchr(" \t\r\f\v", *q)) { last = p; last_end = end; break; }
        p = *end ? end + 1 : end;
    }
    if (last) {
        while (last < last_end && strchr(" \t\r\f\v", *last)) last++;
        while (last_end > last && strchr(" \t\r\f\v", last_end[-1])) last_end--;
        snprintf(out, size, "%.*s", (int)(last_end - last), last);
    } else snprintf(out, size, "runc failed");
}

static void runc_args(const char **argv, int *n) {
    argv[(*n)++] = opt.runtime;
    argv[(*n)++] = "--root";
    argv[(*n)++] = opt.runtime_root;
    argv[(*n)++] = "--log";
    argv[(*n)++] = RUNC_LOG;
    argv[(*n)++] = "--log-format";
    argv[(*n)++] = "json";
}

static void runc_delete(void) {
    const char *argv[] = {opt.runtime, "--root", opt.runtime_root, "delete", "--force", opt.id, NULL};
    struct buf ignored = {0};
    char error[512];
    if (run((char *const *)argv, -1, -1, -2, &ignored, -1, NULL, error, sizeof error) < 0)
        say("runc delete failed: %s", error);
    buf_free(&ignored);
}

/* Normalised absolute path components of `path` (relative to `base` when not absolute) into `out`. */
static int path_parts(const char *path, const char *base, char parts[][NAME_MAX + 1], int max) {
    char whole[PATH_MAX * 2];
    snprintf(whole, sizeof whole, "%s%s%s", path[0] == '/' ? "" : base, path[0] == '/' ? "" : "/", path);
    int n = 0;
    for (char *token = strtok(whole, "/"); token; token = strtok(NULL, "/")) {
        if (!strcmp(token, ".")) continue;
        if (!strcmp(token, "..")) { if (n) n--; continue; }
        if (n < max) snprintf(parts[n++], NAME_MAX + 1, "%s", token);
    }
    return n;
}

/* os.path.relpath(os.path.abspath(CONSOLE_NAME), os.path.abspath(bundle)) from the state directory */
static void console_path(char *out, size_t size) {
    static char target[64][NAME_MAX + 1], start[64][NAME_MAX + 1];
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "%s", opt.state_dir);
    char console[PATH_MAX + 32];
    snprintf(console, sizeof console, "%s/%s", cwd, CONSOLE_NAME);
    int t = path_parts(console, cwd, target, 64), s = path_parts(opt.bundle, cwd, start, 64);
    int common = 0;
    while (common < t && common < s && !strcmp(target[common], start[common])) common++;
    out[0] = 0;
    size_t used = 0;
    for (int i = common; i < s; i++) used += (size_t)snprintf(out + used, size - used, "%s..", used ? "/" : "");
    for (int i = common; i < t; i++) used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "/" : "", target[i]);
    if (!used) snprintf(out, size, ".");
}

static int console_listener(char *error, size_t size) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s", CONSOLE_NAME);
    unlink(CONSOLE_NAME);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, 1) < 0) {
        snprintf(error, size, "console socket: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* A runc command that sets the process up (create, exec); the pty master arrives on the console socket. */
static bool run_runc(const char **argv, int argc, char *error, size_t size) {
    int console = -1;
    char relative[PATH_MAX];
    if (opt.tty) {
        if ((console = console_listener(error, size)) < 0) return false;
        if (exec_mode) snprintf(relative, sizeof relative, "%s", CONSOLE_NAME);
        else console_path(relative, sizeof relative);
        argv[argc] = argv[argc - 1]; /* the ID stays last */
        argv[argc - 1] = "--console-socket";
        argv[argc + 1] = argv[argc];
        argv[argc] = relative;
        argc += 2;
    }
    argv[argc] = NULL;
    struct buf captured = {0};
    int received = -1;
    int code = opt.tty ? run((char *const *)argv, -1, -1, -2, &captured, console, &received, error, size)
                       : run((char *const *)argv, child_fds[0], child_fds[1], child_fds[2], NULL, -1, NULL, error, size);
    if (console >= 0) {
        if (code == 0 && received < 0) { /* runc sent it before leaving: it waits in the backlog */
            struct pollfd wait_for = {.fd = console, .events = POLLIN};
            if (poll(&wait_for, 1, 5000) > 0) {
                int connection = accept4(console, NULL, NULL, SOCK_CLOEXEC);
                if (connection >= 0) {
                    char data[64], control[CMSG_SPACE(sizeof(int))];
                    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
                    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                                             .msg_controllen = sizeof control};
                    if (recvmsg(connection, &message, MSG_CMSG_CLOEXEC) >= 0) {
                        struct cmsghdr *c = CMSG_FIRSTHDR(&message);
                        if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&received, CMSG_DATA(c), sizeof(int));
                    }
                    close(connection);
                }
            }
        }
        close(console);
        unlink(CONSOLE_NAME);
        if (received >= 0) master_fd = received;
    }
    if (code < 0) { buf_free(&captured); return false; }
    if (code != 0) {
        buf_add(&captured, "", 1);
        runc_error(captured.data, error, size);
        buf_free(&captured);
        return false;
    }
    buf_free(&captured);
    if (opt.tty && master_fd < 0) { snprintf(error, size, "runc did not send the console"); return false; }
    return true;
}

static void close_child_ends(void) {
    for (int i = 0; i < 3; i++) {
        if (child_fds[i] < 0) continue;
        bool seen = false;
        for (int j = 0; j < i; j++) seen = seen || child_fds[j] == child_fds[i];
        if (!seen) close(child_fds[i]);
    }
    child_fds[0] = child_fds[1] = child_fds[2] = -1;
}

static bool read_pid(pid_t *pid, char *error, size_t size) {
    FILE *file = fopen(PID_FILE, "re");
    long value = 0;
    if (!file || fscanf(file, "%ld", &value) != 1) {
        snprintf(error, size, "[Errno %d] %s: '%s'", file ? EINVAL : errno, strerror(file ? EINVAL : errno), PID_FILE);
        if (file) fclose(file);
        return false;
    }
    fclose(file);
    *pid = (pid_t)value;
    return true;
}

/* ------------------------------------------------------------------ cgroups: was the process OOM-killed? */

static void unescape_octal(char *s) {
    char *out = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] && p[3]) {
            *out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else *out++ = *p;
    }
    *out = 0;
}

/* The memory cgroup directory of `pid`, as moor.containers.cgroups.cgroup_paths finds it. */
static void find_memory_cgroup(pid_t pid) {
    char path[64], line[4096], cgroup[PATH_MAX] = "";
    bool unified = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0, found = false;
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    FILE *file = fopen(path, "re");
    if (!file) return;
    while (fgets(line, sizeof line, file)) {
        line[strcspn(line, "\n")] = 0;
        char *first = strchr(line, ':');
        char *second = first ? strchr(first + 1, ':') : NULL;
        if (!second) continue;
        *first = *second = 0;
        if (unified) {
            if (!strcmp(line, "0") && first + 1 == second) { snprintf(cgroup, sizeof cgroup, "%s", second + 1); found = true; }
            continue;
        }
        for (char *c = strtok(first + 1, ","); c; c = strtok(NULL, ","))
            if (!strcmp(c, "memory")) { snprintf(cgroup, sizeof cgroup, "%s", second + 1); found = true; }
    }
    fclose(file);
    if (!found) return;
    /* The usual place first: the hierarchy mounted whole at /sys/fs/cgroup[/memory], where the cgroup's own
     * memory file proves it. The mount table is read only when that is not it: with a thousand containers it
     * is some 600 KB the kernel writes out for every reader (10 ms of CPU, more under load). */
    char usual[PATH_MAX], probe[PATH_MAX + 32];
    if (snprintf(usual, sizeof usual, "%s%s", unified ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory",
                 strcmp(cgroup, "/") ? cgroup : "") < (int)sizeof usual) {
        snprintf(probe, sizeof probe, "%s/%s", usual, unified ? "memory.events" : "memory.oom_control");
        if (access(probe, F_OK) == 0) {
            snprintf(memory_cgroup, sizeof memory_cgroup, "%s", usual);
            return;
        }
    }
    file = fopen("/proc/self/mountinfo", "re");
    if (!file) return;
    char root[PATH_MAX] = "", mount[PATH_MAX] = "";
    bool have_mount = false;
    while (fgets(line, sizeof line, file)) {
        char *dash = strstr(line, " - ");
        if (!dash) continue;
        char r[PATH_MAX], m[PATH_MAX], type[64], source[PATH_MAX], super[1024];
        if (sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2) continue;
        if (sscanf(dash + 3, "%63s %4095s %1023s", type, source, super) != 3) continue;
        unescape_octal(r);
        unescape_octal(m);
        bool match = false;
        if (unified) match = !strcmp(type, "cgroup2") && (!have_mount || !strcmp(m, "/sys/fs/cgroup"));
        else if (!strcmp(type, "cgroup") && !have_mount)
            for (char *o = strtok(super, ","); o; o = strtok(NULL, ",")) match = match || !strcmp(o, "memory");
        if (match) { snprintf(root, sizeof root, "%s", r); snprintf(mount, sizeof mount, "%s", m); have_mount = true; }
    }
    fclose(file);
    if (!have_mount) return;
    const char *rest = cgroup;
    size_t root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/') root_len--;
    if (strcmp(root, "/") != 0 && (!strcmp(cgroup, root) || (!strncmp(cgroup, root, root_len) && cgroup[root_len] == '/')))
        rest = cgroup + strlen(root);
    while (*rest == '/') rest++;
    snprintf(memory_cgroup, sizeof memory_cgroup, "%s%s%s", mount, *rest ? "/" : "", rest);
}

static bool oom_killed(void) {
    if (!memory_cgroup[0]) return false;
    const char *names[] = {"memory.events", "memory.oom_control"};
    for (int i = 0; i < 2; i++) {
        char path[PATH_MAX + 32], key[64];
        long long value;
        snprintf(path, sizeof path, "%s/%s", memory_cgroup, names[i]);
        FILE *file = fopen(path, "re");
        if (!file) continue;
        bool found = false;
        while (fscanf(file, "%63s %lld", key, &value) == 2)
            if (!strcmp(key, "oom_kill")) { found = true; break; }
        fclose(file);
        if (found) return value > 0;
    }
    return false;
}

/* ------------------------------------------------------------------ attached clients and output */

static void client_rearm(struct client *c) {
    uint32_t events = 0;
    if (c->feeding && !(stdin_sink && stdin_sink->pending.len)) events |= EPOLLIN;
    if (c->out.len) events |= EPOLLOUT;
    watch(&c->o, events);
}

static void client_drop(struct client *c) {
    c->alive = false;
    buf_free(&c->out);
    for (struct client **p = &clients; *p; p = &(*p)->next)
        if (*p == c) { *p = c->next; break; }
    bury(&c->o);
}

static void outputs_rearm(void) {
    if (!started || finishing) return; /* read from the start on, as the Python monitor's pumps */
    bool behind = false;
    for (struct client *c = clients; c; c = c->next) behind = behind || c->out.len > CLIENT_HIGH;
    outputs_paused = behind;
    for (int i = 0; i < output_count; i++)
        if (outputs[i] && !outputs[i]->o.dead) watch(&outputs[i]->o, behind ? 0 : EPOLLIN);
}

static void client_flush(struct client *c) {
    while (c->out.len) {
        ssize_t n = send(c->o.fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) { client_drop(c); return; }
            break;
        }
        buf_consume(&c->out, (size_t)n);
    }
    client_rearm(c);
}

/* Hub.publish: the log first, then every attached client that wants this stream */
static void publish(int stream, const char *data, size_t n) {
    if (opt.log_path) log_feed(stream, data, n);
    struct client *next;
    for (struct client *c = clients; c; c = next) {
        next = c->next;
        if (!c->alive || !c->wants[stream]) continue;
        if (c->framed) {
            unsigned char header[8] = {(unsigned char)(stream + 1), 0, 0, 0, (unsigned char)(n >> 24),
                                       (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
            buf_add(&c->out, header, 8);
        }
        buf_add(&c->out, data, n);
        client_flush(c);
    }
    outputs_rearm();
}

static char chunk[READ_CHUNK];

static void output_ready(struct output *o) {
    ssize_t n = read(o->o.fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) { /* EOF, or EIO from a pty whose other side closed */
        bury(&o->o);
        for (int i = 0; i < output_count; i++)
            if (outputs[i] == o) outputs[i] = NULL;
        return;
    }
    publish(o->stream, chunk, (size_t)n);
}

static int open_outputs(void) {
    int open_ = 0;
    for (int i = 0; i < output_count; i++) open_ += outputs[i] != NULL;
    return open_;
}

/* Hub.close: every client gets what is queued for it (a few seconds at most), then the socket is shut */
static void clients_close(void) {
    while (clients) {
        struct client *c = clients;
        if (c->out.len) {
            set_nonblocking(c->o.fd, false);
            struct timeval limit = {.tv_sec = 5};
            setsockopt(c->o.fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
            size_t done = 0;
            while (done < c->out.len) {
                ssize_t n = send(c->o.fd, c->out.data + done, c->out.len - done, MSG_NOSIGNAL);
                if (n <= 0) break;
                done += (size_t)n;
            }
            c->out.len = 0;
        }
        shutdown(c->o.fd, SHUT_RDWR);
        client_drop(c);
    }
}

/* ------------------------------------------------------------------ stdin */

static void stdin_close(void) {
    if (!stdin_sink || stdin_sink->is_pty) return;
    buf_free(&stdin_sink->pending);
    bury(&stdin_sink->o);
    stdin_sink = NULL;
    update_feeders();
}

static void stdin_flush(void) {
    struct stdin_sink *s = stdin_sink;
    while (s->pending.len) {
        ssize_t n = write(s->o.fd, s->pending.data, s->pending.len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            s->pending.len = 0; /* the process will not read it: as a failed write, what was sent is lost */
            break;
        }
        buf_consume(&s->pending, (size_t)n);
    }
    watch(&s->o, s->pending.len ? EPOLLOUT : 0);
    if (!s->pending.len && s->close_when_flushed) { stdin_close(); return; }
    update_feeders();
}

static void update_feeders(void) {
    for (struct client *c = clients; c; c = c->next) {
        c->feeding = c->wants_stdin && !c->input_done && stdin_sink != NULL;
        client_rearm(c);
    }
}

static void stdin_feed(const char *data, size_t n) {
    if (!stdin_sink) return;
    buf_add(&stdin_sink->pending, data, n);
    stdin_flush();
}

static void client_readable(struct client *c) {
    char *data = chunk;
    ssize_t n = recv(c->o.fd, data, READ_CHUNK, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) { /* the client is done sending (half-closed): its input ends */
        c->feeding = false;
        c->input_done = true;
        if (opt.stdin_once) {
            if (stdin_sink && stdin_sink->pending.len) stdin_sink->close_when_flushed = true;
            else stdin_close();
        }
        client_rearm(c);
        return;
    }
    stdin_feed(data, (size_t)n);
}

/* ------------------------------------------------------------------ replies */

static void reply(int fd, struct buf *message) {
    buf_add(message, "\n", 1);
    set_nonblocking(fd, false);
    struct timeval limit = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    size_t done = 0;
    while (done < message->len) {
        ssize_t n = send(fd, message->data + done, message->len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
    }
}

static void reply_error(int fd, const char *error) {
    struct buf message = {0};
    buf_str(&message, "{\"ok\":false,\"error\":");
    buf_json_cstr(&message, error);
    buf_str(&message, "}");
    reply(fd, &message);
    buf_free(&message);
}

static void reply_ok(int fd) {
    struct buf message = {0};
    buf_str(&message, "{\"ok\":true}");
    reply(fd, &message);
    buf_free(&message);
}

static void wait_reply(struct buf *message) {
    buf_fmt(message, "{\"ok\":true,\"exit_code\":%d,\"finished_at\":", exit_code);
    buf_float(message, finished_at);
    buf_fmt(message, ",\"oom_killed\":%s}", oom_killed_flag ? "true" : "false");
}

/* ------------------------------------------------------------------ port proxies (moor.monitor.ports) */

struct tcp_proxy { struct object o; struct sockaddr_storage target; socklen_t target_len; };

struct tcp_pair;
struct tcp_side { struct object o; struct tcp_pair *pair; int index; };
struct tcp_pair {
    struct tcp_side side[2];            /* 0: the client, 1: the container */
    struct buf from[2];                 /* read from side i, to be written to the other */
    bool eof[2], shut[2], connecting, freed;
    double deadline;
    struct tcp_pair *next;
};
static struct tcp_pair *pairs, *dead_pairs;

struct udp_upstream;
struct udp_proxy {
    struct object o;
    struct sockaddr_in target;
    struct udp_upstream *upstreams;
};
struct udp_upstream {
    struct object o;
    struct udp_proxy *proxy;
    struct sockaddr_storage client;
    socklen_t client_len;
    double deadline;
    struct udp_upstream *next;
};

static bool parse_address(const char *ip, int port, struct sockaddr_storage *out, socklen_t *len) {
    memset(out, 0, sizeof *out);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
        return inet_pton(AF_INET6, ip, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof *a;
    return inet_pton(AF_INET, *ip ? ip : "0.0.0.0", &a->sin_addr) == 1;
}

/* A socket bound to the host port, or docker-proxy's error */
static int proxy_bind(int type, const char *host_ip, int host_port, char *error, size_t size) {
    struct sockaddr_storage address;
    socklen_t length;
    bool v6 = strchr(host_ip, ':') != NULL;
    int fd = -1, code = EINVAL;
    if (parse_address(host_ip, host_port, &address, &length)) {
        fd = socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        if (fd >= 0 && v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (fd >= 0 && type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&address, length) == 0) return fd;
        code = errno;
        if (fd >= 0) close(fd);
    }
    char reason[256];
    snprintf(reason, sizeof reason, "%s", strerror(code));
    if (reason[0] >= 'A' && reason[0] <= 'Z') reason[0] = (char)(reason[0] - 'A' + 'a');
    snprintf(error, size, "Error starting userland proxy: listen %s%s %s%s%s:%d: bind: %s",
             type == SOCK_STREAM ? "tcp" : "udp", v6 ? "6" : "4", v6 ? "[" : "", *host_ip ? host_ip : "0.0.0.0",
             v6 ? "]" : "", host_port, reason);
    return -1;
}

static int bound_port(int fd) {
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) < 0) return 0;
    return ntohs(address.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&address)->sin6_port
                                               : ((struct sockaddr_in *)&address)->sin_port);
}

static void pair_free(struct tcp_pair *p) {
    if (p->freed) return;
    p->freed = true;
    for (struct tcp_pair **q = &pairs; *q; q = &(*q)->next)
        if (*q == p) { *q = p->next; break; }
    bury(&p->side[0].o);
    bury(&p->side[1].o);
    p->next = dead_pairs; /* freed after this round of events */
    dead_pairs = p;
}

static void pair_rearm(struct tcp_pair *p) {
    if (p->freed) return;
    for (int d = 0; d < 2; d++) /* data read from side d, all written on: its end goes on as a half-close */
        if (p->eof[d] && !p->from[d].len && !p->shut[d]) {
            shutdown(p->side[1 - d].o.fd, SHUT_WR);
            p->shut[d] = true;
        }
    if (p->shut[0] && p->shut[1]) { pair_free(p); return; }
    for (int i = 0; i < 2; i++) {
        uint32_t events = 0;
        if (p->connecting) events = i == 1 ? EPOLLOUT : 0;
        else {
            if (!p->eof[i] && p->from[i].len < TCP_BUFFER) events |= EPOLLIN;
            if (p->from[1 - i].len) events |= EPOLLOUT;
        }
        watch(&p->side[i].o, events);
    }
}

static void tcp_side_ready(struct tcp_side *s, uint32_t events) {
    struct tcp_pair *p = s->pair;
    int i = s->index;
    if (p->freed) return;
    if (p->connecting) {
        int code = 0;
        socklen_t length = sizeof code;
        getsockopt(s->o.fd, SOL_SOCKET, SO_ERROR, &code, &length);
        if (code) { pair_free(p); return; }
        p->connecting = false;
        pair_rearm(p);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        while (!p->eof[i] && p->from[i].len < TCP_BUFFER) {
            ssize_t n = recv(s->o.fd, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) break;
            if (n <= 0) { p->eof[i] = true; break; }
            buf_add(&p->from[i], chunk, (size_t)n);
        }
    }
    for (int d = 0; d < 2; d++) { /* write on what waits for either side */
        struct buf *b = &p->from[d];
        while (b->len) {
            ssize_t n = send(p->side[1 - d].o.fd, b->data, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) break;
            if (n <= 0) { b->len = 0; p->eof[d] = true; break; } /* the other side is gone: this direction ends */
            buf_consume(b, (size_t)n);
        }
    }
    if (events & (EPOLLHUP | EPOLLERR)) { /* nothing can reach this side any more */
        p->from[1 - i].len = 0;
        p->eof[1 - i] = true;
    }
    pair_rearm(p);
}

static void tcp_accept(struct tcp_proxy *proxy) {
    for (;;) {
        int client = accept4(proxy->o.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) return;
        int upstream = socket(proxy->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (upstream < 0) { close(client); continue; }
        struct tcp_pair *p = calloc(1, sizeof *p);
        if (!p) abort();
        for (int i = 0; i < 2; i++) {
            p->side[i].o.kind = K_TCP_SIDE;
            p->side[i].pair = p;
            p->side[i].index = i;
        }
        p->side[0].o.fd = client;
        p->side[1].o.fd = upstream;
        p->next = pairs;
        pairs = p;
        if (connect(upstream, (struct sockaddr *)&proxy->target, proxy->target_len) < 0 && errno != EINPROGRESS) {
            pair_free(p);
            continue;
        }
        p->connecting = true;
        p->deadline = now_mono() + TCP_CONNECT_TIMEOUT;
        pair_rearm(p);
    }
}

static void udp_drop(struct udp_upstream *u) {
    for (struct udp_upstream **q = &u->proxy->upstreams; *q; q = &(*q)->next)
        if (*q == u) { *q = u->next; break; }
    bury(&u->o);
}

static void udp_receive(struct udp_proxy *proxy) {
    for (;;) {
        struct sockaddr_storage client;
        socklen_t length = sizeof client;
        ssize_t n = recvfrom(proxy->o.fd, chunk, sizeof chunk, MSG_DONTWAIT, (struct sockaddr *)&client, &length);
        if (n < 0) return;
        struct udp_upstream *u = proxy->upstreams;
        while (u && !(u->client_len == length && !memcmp(&u->client, &client, length))) u = u->next;
        if (!u) {
            int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (fd < 0) continue;
            if (connect(fd, (struct sockaddr *)&proxy->target, sizeof proxy->target) < 0) { close(fd); continue; }
            u = calloc(1, sizeof *u);
            if (!u) abort();
            u->o.kind = K_UDP_UPSTREAM;
            u->o.fd = fd;
            u->proxy = proxy;
            u->client = client;
            u->client_len = length;
            u->next = proxy->upstreams;
            proxy->upstreams = u;
            u->deadline = now_mono() + UDP_IDLE;
            watch(&u->o, EPOLLIN);
        }
        send(u->o.fd, chunk, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT); /* a refusal: UDP has no one to tell */
    }
}

static void udp_reply(struct udp_upstream *u) {
    for (;;) {
        ssize_t n = recv(u->o.fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n < 0 && errno == ECONNREFUSED) { u->deadline = now_mono() + UDP_IDLE; continue; }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n < 0) { udp_drop(u); return; }
        u->deadline = now_mono() + UDP_IDLE;
        if (sendto(u->proxy->o.fd, chunk, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&u->client,
                   u->client_len) < 0 && errno != EAGAIN) {
            udp_drop(u);
            return;
        }
    }
}

static struct udp_proxy *udp_proxies[64];
static int udp_proxy_count;

static void publish_port(int fd, struct jobject *request) {
    const char *protocol = json_text(request, "protocol");
    const char *host_ip = json_text(request, "host_ip");
    const char *target = json_text(request, "target");
    if (!protocol || !*protocol) protocol = "tcp";
    if (!host_ip) host_ip = "";
    int host_port = (int)json_int(request, "host_port", 0), target_port = (int)json_int(request, "target_port", 0);
    char error[512];
    if (!target) { reply_error(fd, "'target'"); return; }
    if (strcmp(protocol, "tcp") && strcmp(protocol, "udp")) {
        snprintf(error, sizeof error, "unsupported protocol '%s'", protocol);
        reply_error(fd, error);
        return;
    }
    bool udp = !strcmp(protocol, "udp");
    struct sockaddr_storage address;
    socklen_t length;
    if (!parse_address(target, target_port, &address, &length) || (udp && address.ss_family != AF_INET)) {
        snprintf(error, sizeof error, "[Errno -2] Name or service not known");
        reply_error(fd, error);
        return;
    }
    int sock = proxy_bind(udp ? SOCK_DGRAM : SOCK_STREAM, host_ip, host_port, error, sizeof error);
    if (sock < 0) { reply_error(fd, error); return; }
    if (udp) {
        struct udp_proxy *proxy = calloc(1, sizeof *proxy);
        if (!proxy) abort();
        proxy->o.kind = K_UDP_LISTENER;
        proxy->o.fd = sock;
        memcpy(&proxy->target, &address, sizeof proxy->target);
        if (udp_proxy_count < 64) udp_proxies[udp_proxy_count++] = proxy;
        watch(&proxy->o, EPOLLIN);
    } else {
        listen(sock, 128);
        struct tcp_proxy *proxy = calloc(1, sizeof *proxy);
        if (!proxy) abort();
        proxy->o.kind = K_TCP_LISTENER;
        proxy->o.fd = sock;
        proxy->target = address;
        proxy->target_len = length;
        watch(&proxy->o, EPOLLIN);
    }
    struct buf message = {0};
    buf_fmt(&message, "{\"ok\":true,\"host_port\":%d}", bound_port(sock));
    reply(fd, &message);
    buf_free(&message);
}

/* ------------------------------------------------------------------ lifecycle */

static void start_outputs(void) {
    for (int i = 0; i < output_count; i++) {
        set_nonblocking(outputs[i]->o.fd, true);
        watch(&outputs[i]->o, EPOLLIN);
    }
}

static void begin_exit(int status_code) {
    exit_code = status_code;
    finished_at = now_real();
    have_exit = true;
    draining = true;
    drain_until = now_mono() + DRAIN_TIMEOUT;
}

/* Whether `pid` has ended (gone, or a zombie not yet reaped). */
static bool process_ended(pid_t pid) {
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0) return true;
    text[got] = 0;
    const char *state = strrchr(text, ')'); /* "pid (comm) S ..." */
    return state == NULL || state[1] == 0 || state[2] == 'Z' || state[2] == 'X';
}

/* What `runc start` does to a created container, without starting runc (a Go program: 5-10 ms, more under
 * load): open its exec.fifo for reading, which lets its init (blocked opening the other end) write its byte,
 * read that byte and remove the fifo; the init then execs the process. 1: started; 0: no such fifo (another
 * runtime, another layout): run `runc start`; -1: failed, `error` set. */
static int start_by_exec_fifo(char *error, size_t size) {
    const char *name = strrchr(opt.runtime, '/');
    if (strcmp(name ? name + 1 : opt.runtime, "runc") != 0) return 0;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s/exec.fifo", opt.runtime_root, opt.id) >= (int)sizeof path) return 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
        if (fd >= 0) close(fd);
        return 0;
    }
    double deadline = now_mono() + 60;
    for (;;) {
        struct pollfd wait_for = {.fd = fd, .events = POLLIN};
        int ready = poll(&wait_for, 1, 100);
        if (ready > 0) {
            char byte;
            ssize_t got = read(fd, &byte, 1);
            if (got == 1) break;
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            close(fd); /* the writer came and went without its byte */
            snprintf(error, size, "container process is already dead");
            return -1;
        }
        if (ready < 0 && errno != EINTR) {
            snprintf(error, size, "poll exec fifo: %s", strerror(errno));
            close(fd);
            return -1;
        }
        if (process_ended(container_pid) || now_mono() > deadline) {
            close(fd);
            snprintf(error, size, "container process is already dead");
            return -1;
        }
    }
    close(fd);
    unlink(path);
    return 1;
}

/* Start the process (init: runc start; exec: runc exec --detach); its pid, or -1 with `error` set. */
static long start_process(char *error, size_t size) {
    if (abandoned) { snprintf(error, size, "the container was abandoned: no start request arrived in time"); return -1; }
    if (started) return container_pid;
    const char *argv[24];
    int argc = 0;
    runc_args(argv, &argc);
    if (exec_mode) {
        argv[argc++] = "exec";
        argv[argc++] = "--process";
        argv[argc++] = opt.exec_process;
        argv[argc++] = "--pid-file";
        argv[argc++] = PID_FILE;
        argv[argc++] = "--detach";
        argv[argc++] = opt.id;
        hide_in_child = HIDE_ALL; /* runc exec joins the container's namespaces: it needs no root of ours */
        bool ran = run_runc(argv, argc, error, size);
        hide_in_child = HIDE_NONE;
        if (!ran) return -1;
        close_child_ends();
        if (!read_pid(&container_pid, error, size)) return -1;
        if (opt.tty) adopt_master();
    } else {
        int by_fifo = start_by_exec_fifo(error, size);
        if (by_fifo < 0) return -1;
        argv[argc++] = "start";
        argv[argc++] = opt.id;
        argv[argc] = NULL;
        struct buf captured = {0};
        int code = by_fifo ? 0 : run((char *const *)argv, -1, -1, -2, &captured, -1, NULL, error, size);
        if (code != 0) {
            if (code > 0) {
                buf_add(&captured, "", 1);
                runc_error(captured.data, error, size);
            }
            buf_free(&captured);
            return -1;
        }
        buf_free(&captured);
    }
    started = true;
    started_at = now_real();
    start_outputs();
    if (child_reaped) begin_exit(child_status);
    return container_pid;
}

static void abandon_unless_started(void) {
    if (started || finishing) return;
    abandoned = true;
    say("no start request arrived: abandoning the container");
    exit_code = 128;
    finished_at = now_real();
    have_exit = true;
    finish();
}

static void fail_later(const char *message) {
    say("start failed: %s", message);
    char lower[4096];
    snprintf(lower, sizeof lower, "%s", message);
    for (char *p = lower; *p; p++) if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    exit_code = strstr(message, "not found") || strstr(lower, "no such file") ? 127 : 128;
    finished_at = now_real();
    have_exit = true;
    if (finish_at == 0) finish_at = now_mono() + 0.2;
}

static void write_exit_record(void) {
    struct buf record = {0};
    buf_fmt(&record, "{\"exit_code\": %d, \"finished_at\": ", exit_code);
    buf_float(&record, finished_at);
    buf_str(&record, ", \"started_at\": ");
    buf_float(&record, started_at);
    buf_fmt(&record, ", \"oom_killed\": %s}", oom_killed_flag ? "true" : "false");
    int fd = open("exit.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || !write_all(fd, record.data, record.len) || fsync(fd) < 0) {
        say("recording the exit failed: [Errno %d] %s: 'exit.json.tmp'", errno, strerror(errno));
        if (fd >= 0) close(fd);
    } else {
        close(fd);
        if (rename("exit.json.tmp", "exit.json") < 0) say("recording the exit failed: %s", strerror(errno));
    }
    buf_free(&record);
}

static void leave(void) {
    unlink(SOCKET_NAME);
    _exit(0);
}

/* `runc delete --force` in the background, watched through its pidfd; false when it could not start. */
static bool delete_in_background(void) {
    const char *argv[] = {opt.runtime, "--root", opt.runtime_root, "delete", "--force", opt.id, NULL};
    pid_t pid = fork();
    if (pid < 0) { say("runc delete failed: fork: %s", strerror(errno)); return false; }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        syscall(SYS_close_range, 3, ~0U, 0);
        if (opt.hide_roots) hide_other_roots(NULL); /* runc delete needs no root: nothing can be lost */
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    delete_pid = pid;
    deleting.fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (deleting.fd < 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return false;
    }
    delete_deadline = now_mono() + RUNC_TIMEOUT;
    watch(&deleting, EPOLLIN);
    return true;
}

static void delete_done(void) {
    int status;
    if (waitpid(delete_pid, &status, 0) == delete_pid && WIFEXITED(status) && WEXITSTATUS(status) == 127)
        say("runc delete failed: [Errno 2] No such file or directory: '%s'", opt.runtime);
    leave();
}

/* Record the exit, answer the waiters, clean up runc's state, and leave. */
static void finish(void) {
    if (finishing) return;
    finishing = true;
    log_close();
    clients_close();
    if (memory_cgroup[0]) oom_killed_flag = oom_killed(); /* before runc delete removes the cgroup */
    write_exit_record();
    exited = true;
    struct buf message = {0};
    wait_reply(&message);
    while (waiters) {
        struct waiter *w = waiters;
        struct buf copy = {0};
        buf_add(&copy, message.data, message.len);
        reply(w->fd, &copy);
        buf_free(&copy);
        close(w->fd);
        waiters = w->next;
        free(w);
    }
    buf_free(&message);
    draining = false;
    finish_at = 0;
    for (int i = 0; i < output_count; i++)
        if (outputs[i]) { bury(&outputs[i]->o); outputs[i] = NULL; }
    if (exec_mode || !delete_in_background()) leave();
    /* requests are answered on until runc is done (moord's `rm -f` waits for control.sock to go) */
}

/* ------------------------------------------------------------------ requests */

static void attach(int fd, struct jobject *request, const char *rest, size_t rest_len, bool *keep) {
    if (exited || finishing) { reply_error(fd, "the container process has exited"); return; }
    reply_ok(fd);
    set_nonblocking(fd, true);
    struct client *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->o.kind = K_CLIENT;
    c->o.fd = fd;
    c->alive = true;
    c->wants[0] = json_true(request, "stdout");
    c->wants[1] = json_true(request, "stderr");
    c->framed = !opt.tty;
    c->wants_stdin = json_true(request, "stdin");
    c->feeding = c->wants_stdin && stdin_sink != NULL; /* an exec's pty arrives with its start */
    c->next = clients;
    clients = c;
    *keep = true;
    if (c->feeding && rest_len) stdin_feed(rest, rest_len);
    client_rearm(c);
}

static void handle(struct request_conn *conn, const char *line, size_t length, const char *rest, size_t rest_len) {
    int fd = conn->o.fd;
    struct jobject request;
    bool keep = false;
    if (!json_parse(line, length, &request)) {
        reply_error(fd, "the request is not a JSON object");
        return;
    }
    const char *op = json_text(&request, "op");
    op = op ? op : "";
    char error[2048];
    struct buf message = {0};
    if (!strcmp(op, "attach")) {
        attach(fd, &request, rest, rest_len, &keep);
    } else if (!strcmp(op, "start")) {
        long pid = start_process(error, sizeof error);
        if (pid < 0) {
            fail_later(error);
            reply_error(fd, error);
        } else {
            buf_fmt(&message, "{\"ok\":true,\"pid\":%ld}", pid);
            reply(fd, &message);
        }
    } else if (!strcmp(op, "wait")) {
        if (exited) {
            wait_reply(&message);
            reply(fd, &message);
        } else {
            struct waiter *w = calloc(1, sizeof *w);
            if (!w) abort();
            w->fd = fd;
            w->next = waiters;
            waiters = w;
            keep = true;
        }
    } else if (!strcmp(op, "state")) {
        buf_fmt(&message, "{\"ok\":true,\"pid\":%d,\"running\":%s,\"exit_code\":", (int)container_pid,
                started && !exited ? "true" : "false");
        if (have_exit) buf_fmt(&message, "%d}", exit_code);
        else buf_str(&message, "null}");
        reply(fd, &message);
    } else if (!strcmp(op, "resize")) {
        if (master_fd < 0) reply_error(fd, "the process has no terminal");
        else {
            struct winsize size = {.ws_row = (unsigned short)json_int(&request, "height", 24),
                                   .ws_col = (unsigned short)json_int(&request, "width", 80)};
            if (ioctl(master_fd, TIOCSWINSZ, &size) < 0) {
                snprintf(error, sizeof error, "[Errno %d] %s", errno, strerror(errno));
                reply_error(fd, error);
            } else reply_ok(fd);
        }
    } else if (!strcmp(op, "close-stdin")) {
        if (stdin_sink && stdin_sink->pending.len) stdin_sink->close_when_flushed = true;
        else stdin_close();
        reply_ok(fd);
    } else if (!strcmp(op, "publish")) {
        publish_port(fd, &request);
    } else if (!strcmp(op, "abort")) { /* moord gave up on starting this process: remove it now */
        reply_ok(fd);
        json_free(&request);
        buf_free(&message);
        close(fd);
        conn->o.fd = -1;
        abandon_unless_started();
        return;
    } else {
        reply_error(fd, "unknown op");
    }
    json_free(&request);
    buf_free(&message);
    if (keep) conn->o.fd = -1; /* the socket lives on as a client or a waiter */
}

static void request_readable(struct request_conn *conn) {
    char data[4096];
    for (;;) {
        ssize_t n = recv(conn->o.fd, data, sizeof data, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) { /* EOF: a request without its newline is answered as Python's json.loads would fail */
            if (conn->in.len) reply_error(conn->o.fd, "the request is not a JSON object");
            buf_free(&conn->in);
            bury(&conn->o);
            return;
        }
        buf_add(&conn->in, data, (size_t)n);
        char *newline = memchr(conn->in.data, '\n', conn->in.len);
        if (newline) {
            size_t length = (size_t)(newline - conn->in.data) + 1;
            watch(&conn->o, 0);
            handle(conn, conn->in.data, length, conn->in.data + length, conn->in.len - length);
            buf_free(&conn->in);
            bury(&conn->o); /* closes it, unless it lives on as a client or a waiter */
            return;
        }
        if (conn->in.len > MAX_LINE) {
            reply_error(conn->o.fd, "request line too long");
            buf_free(&conn->in);
            bury(&conn->o);
            return;
        }
    }
}

static void accept_requests(void) {
    for (;;) {
        int fd = accept4(listener.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        struct request_conn *conn = calloc(1, sizeof *conn);
        if (!conn) abort();
        conn->o.kind = K_REQUEST;
        conn->o.fd = fd;
        watch(&conn->o, EPOLLIN);
    }
}

static void reap_children(void) {
    struct signalfd_siginfo info;
    while (read(signals.fd, &info, sizeof info) == sizeof info) {}
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        if (pid != container_pid || container_pid == 0) continue;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
        child_reaped = true;
        child_status = code;
        if (started && !have_exit) begin_exit(code);
    }
}

/* ------------------------------------------------------------------ set-up */

static void report(const char *json) {
    size_t n = strlen(json);
    char *line = malloc(n + 2);
    if (!line) abort();
    memcpy(line, json, n);
    line[n] = '\n';
    write_all(SYNC_FD, line, n + 1);
    free(line);
    close(SYNC_FD);
}

static bool setup_pipes(char *error, size_t size) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (opt.stdin_open) {
        int ends[2];
        if (pipe2(ends, O_CLOEXEC) < 0) { snprintf(error, size, "pipe: %s", strerror(errno)); return false; }
        child_fds[0] = ends[0];
        stdin_sink = calloc(1, sizeof *stdin_sink);
        if (!stdin_sink) abort();
        stdin_sink->o.kind = K_STDIN;
        stdin_sink->o.fd = ends[1];
        set_nonblocking(ends[1], true);
    } else child_fds[0] = null;
    for (int stream = 0; stream < 2; stream++) {
        int ends[2];
        if (pipe2(ends, O_CLOEXEC) < 0) { snprintf(error, size, "pipe: %s", strerror(errno)); return false; }
        child_fds[1 + stream] = ends[1];
        struct output *o = calloc(1, sizeof *o);
        if (!o) abort();
        o->o.kind = K_OUTPUT;
        o->o.fd = ends[0];
        o->stream = stream;
        outputs[output_count++] = o;
    }
    return true;
}

/* After a tty process is set up: the pty master is its output and (a second descriptor of it) its input. */
static void adopt_master(void) {
    set_nonblocking(master_fd, true);
    struct output *o = calloc(1, sizeof *o);
    if (!o) abort();
    o->o.kind = K_OUTPUT;
    o->o.fd = master_fd;
    o->stream = 0;
    outputs[output_count++] = o;
    stdin_sink = calloc(1, sizeof *stdin_sink);
    if (!stdin_sink) abort();
    stdin_sink->o.kind = K_STDIN;
    stdin_sink->o.fd = fcntl(master_fd, F_DUPFD_CLOEXEC, 0);
    stdin_sink->is_pty = true;
    update_feeders();
}

static bool prepare(char *error, size_t size) {
    if (!opt.tty && !setup_pipes(error, size)) return false;
    if (exec_mode) return true;
    const char *argv[24];
    int argc = 0;
    runc_args(argv, &argc);
    argv[argc++] = "create";
    argv[argc++] = "--bundle";
    argv[argc++] = opt.bundle;
    argv[argc++] = "--pid-file";
    argv[argc++] = PID_FILE;
    argv[argc++] = opt.id;
    double began = now_mono();
    const char *again[24];
    memcpy(again, argv, sizeof argv);
    /* without --rootfs (a bind of the container reaches into the storage root) runc create sees every root */
    hide_in_child = opt.rootfs ? HIDE_KEEPING_ROOTFS : HIDE_NONE;
    bool created = run_runc(argv, argc, error, size);
    if (!created && strstr(error, "already exists")) {
        /* the previous run's monitor answered its waiters before deleting the runc state */
        hide_in_child = HIDE_NONE;
        runc_delete();
        hide_in_child = opt.rootfs ? HIDE_KEEPING_ROOTFS : HIDE_NONE;
        created = run_runc(again, argc, error, size);
    }
    hide_in_child = HIDE_NONE;
    if (opt.runc_ns >= 0) { close(opt.runc_ns); opt.runc_ns = -1; } /* it must not pin the namespace */
    if (!created) return false;
    runc_create_seconds = now_mono() - began;
    runc_create_cpu = last_run_cpu;
    close_child_ends();
    if (!read_pid(&container_pid, error, size)) return false;
    find_memory_cgroup(container_pid);
    return true;
}

static void daemonize(void) {
    if (chdir(opt.state_dir) < 0) { perror("moor-shim: chdir"); exit(1); }
    int log = open("monitor.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    close(null);
    close(log);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) say("prctl(PR_SET_CHILD_SUBREAPER) failed: %s", strerror(errno));
}

static void setup_failed(const char *error) {
    say("setup failed: %s", error);
    if (!exec_mode) runc_delete();
    unlink(SOCKET_NAME);
    struct buf message = {0};
    buf_str(&message, "{\"ok\":false,\"error\":");
    buf_json_cstr(&message, error);
    buf_str(&message, "}");
    buf_add(&message, "", 1);
    report(message.data);
    buf_free(&message);
    exit(1);
}

static void serve(void) {
    struct epoll_event events[64];
    for (;;) {
        double now = now_mono(), next = now + 3600;
        if (!started && !abandoned) next = next < watchdog_at ? next : watchdog_at;
        if (draining) next = next < drain_until ? next : drain_until;
        if (finish_at) next = next < finish_at ? next : finish_at;
        if (deleting.fd >= 0) next = next < delete_deadline ? next : delete_deadline;
        for (struct tcp_pair *p = pairs; p; p = p->next)
            if (p->connecting && p->deadline < next) next = p->deadline;
        for (int i = 0; i < udp_proxy_count; i++)
            for (struct udp_upstream *u = udp_proxies[i]->upstreams; u; u = u->next)
                if (u->deadline < next) next = u->deadline;
        int timeout = next <= now ? 0 : (int)((next - now) * 1000) + 1;
        int n = epoll_wait(epoll_fd, events, 64, timeout);
        for (int i = 0; i < n; i++) {
            struct object *o = events[i].data.ptr;
            if (o->dead) continue;
            uint32_t got = events[i].events;
            switch (o->kind) {
            case K_LISTENER: accept_requests(); break;
            case K_SIGNAL: reap_children(); break;
            case K_REQUEST: request_readable((struct request_conn *)o); break;
            case K_OUTPUT: output_ready((struct output *)o); break;
            case K_STDIN: stdin_flush(); break;
            case K_CLIENT: {
                struct client *c = (struct client *)o;
                if (got & EPOLLOUT) client_flush(c);
                if (!c->o.dead && (got & EPOLLIN)) client_readable(c);
                /* gone altogether: dropped once what it sent before is read */
                if (!c->o.dead && (got & (EPOLLHUP | EPOLLERR)) && !((got & EPOLLIN) && c->feeding)) client_drop(c);
                outputs_rearm();
                break;
            }
            case K_TCP_LISTENER: tcp_accept((struct tcp_proxy *)o); break;
            case K_TCP_SIDE: tcp_side_ready((struct tcp_side *)o, got); break;
            case K_UDP_LISTENER: udp_receive((struct udp_proxy *)o); break;
            case K_UDP_UPSTREAM: udp_reply((struct udp_upstream *)o); break;
            case K_DELETE: delete_done(); break;
            }
        }
        now = now_mono();
        if (!started && !abandoned && !finishing && now >= watchdog_at) abandon_unless_started();
        if (deleting.fd >= 0 && now >= delete_deadline) { kill(delete_pid, SIGKILL); delete_done(); }
        if (finish_at && now >= finish_at) finish();
        if (draining && (open_outputs() == 0 || now >= drain_until)) finish();
        struct tcp_pair *next_pair;
        for (struct tcp_pair *p = pairs; p; p = next_pair) {
            next_pair = p->next;
            if (p->connecting && now >= p->deadline) pair_free(p);
        }
        for (int i = 0; i < udp_proxy_count; i++) {
            struct udp_upstream *next_upstream;
            for (struct udp_upstream *u = udp_proxies[i]->upstreams; u; u = next_upstream) {
                next_upstream = u->next;
                if (now >= u->deadline) udp_drop(u);
            }
        }
        while (graveyard) { /* the round is over: nothing names them now */
            struct object *o = graveyard;
            graveyard = o->next_dead;
            if (o->kind == K_TCP_SIDE || o->kind == K_LISTENER || o->kind == K_SIGNAL || o->kind == K_DELETE) continue;
            free(o);
        }
        while (dead_pairs) {
            struct tcp_pair *p = dead_pairs;
            dead_pairs = p->next;
            buf_free(&p->from[0]);
            buf_free(&p->from[1]);
            free(p);
        }
    }
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    exec_mode = opt.exec_process != NULL;
    /* the first process leaves at once: moord reaps it, and the monitor is nobody's child but init's */
    pid_t first = fork();
    if (first < 0) { perror("moor-shim: fork"); return 1; }
    if (first > 0) _exit(0);
    setsid();
    if (opt.runc_ns >= 0) { /* kept until runc create is done (prepare()), out of every child's reach */
        if (opt.runc_ns > 4) syscall(SYS_close_range, 4, opt.runc_ns - 1, 0);
        syscall(SYS_close_range, opt.runc_ns + 1, ~0U, 0);
        if (fcntl(opt.runc_ns, F_SETFD, FD_CLOEXEC) < 0) opt.runc_ns = -1;
    } else {
        syscall(SYS_close_range, 4, ~0U, 0);
    }
    daemonize();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    char error[4096];
    error[0] = 0;
    listener.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s", SOCKET_NAME);
    mode_t old = umask(0177);
    int bound = listener.fd >= 0 ? bind(listener.fd, (struct sockaddr *)&address, sizeof address) : -1;
    umask(old);
    if (bound < 0 || listen(listener.fd, 16) < 0) {
        snprintf(error, sizeof error, "[Errno %d] %s", errno, strerror(errno));
        setup_failed(error);
    }
    if (opt.log_path && !exec_mode && !log_open(error, sizeof error)) setup_failed(error);
    if (!prepare(error, sizeof error)) setup_failed(error);
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (!exec_mode && opt.tty) adopt_master();
    signals.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    watch(&listener, EPOLLIN);
    watch(&signals, EPOLLIN);
    char ready[160];
    snprintf(ready, sizeof ready, "{\"ok\":true,\"pid\":%d,\"runc_create\":%.6f,\"runc_create_cpu\":%.6f}",
             (int)container_pid, runc_create_seconds, runc_create_cpu);
    report(ready);
    watchdog_at = now_mono() + START_TIMEOUT;
    reap_children(); /* a process that died before the signalfd existed */
    serve();
    return 0;
}
