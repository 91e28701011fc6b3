/*
 * wasi_internal.h — what the WASI files share: the context and its fd table, guest
 * memory access, errno translation, and the sandboxed path resolver.
 *
 *   wasi_ctx.c     context, configuration, fd table, guest memory, errno
 *   wasi_path.c    sandboxed resolution and the path_* functions
 *   wasi_fd.c      the fd_* functions
 *   wasi_env.c     args, environ, clocks, random, proc, sched, sockets
 *   wasi_poll.c    poll_oneoff
 *   wasi_link.c    the table of preview-1 functions and wasi_link()
 *   wasi_state.c   wasi_ctx_save / wasi_ctx_restore
 *
 * Every preview-1 function is implemented as `uint16_t wasi_NAME(wasi_call *, const
 * wasm_slot *args)` returning a WASI errno, so tests can call it with a plain byte
 * buffer as guest memory and no engine at all.
 */
#ifndef LIQUID_WASI_INTERNAL_H
#define LIQUID_WASI_INTERNAL_H

#include "wasi.h"

#include <dirent.h>
#include <stdint.h>
#include <time.h>

/* ------------------------------------------------------------ WASI numbers */

enum {
    WASI_ESUCCESS = 0, WASI_E2BIG = 1, WASI_EACCES = 2, WASI_EADDRINUSE = 3,
    WASI_EADDRNOTAVAIL = 4, WASI_EAFNOSUPPORT = 5, WASI_EAGAIN = 6, WASI_EALREADY = 7,
    WASI_EBADF = 8, WASI_EBADMSG = 9, WASI_EBUSY = 10, WASI_ECANCELED = 11, WASI_ECHILD = 12,
    WASI_ECONNABORTED = 13, WASI_ECONNREFUSED = 14, WASI_ECONNRESET = 15, WASI_EDEADLK = 16,
    WASI_EDESTADDRREQ = 17, WASI_EDOM = 18, WASI_EDQUOT = 19, WASI_EEXIST = 20,
    WASI_EFAULT = 21, WASI_EFBIG = 22, WASI_EHOSTUNREACH = 23, WASI_EIDRM = 24,
    WASI_EILSEQ = 25, WASI_EINPROGRESS = 26, WASI_EINTR = 27, WASI_EINVAL = 28, WASI_EIO = 29,
    WASI_EISCONN = 30, WASI_EISDIR = 31, WASI_ELOOP = 32, WASI_EMFILE = 33, WASI_EMLINK = 34,
    WASI_EMSGSIZE = 35, WASI_EMULTIHOP = 36, WASI_ENAMETOOLONG = 37, WASI_ENETDOWN = 38,
    WASI_ENETRESET = 39, WASI_ENETUNREACH = 40, WASI_ENFILE = 41, WASI_ENOBUFS = 42,
    WASI_ENODEV = 43, WASI_ENOENT = 44, WASI_ENOEXEC = 45, WASI_ENOLCK = 46,
    WASI_ENOLINK = 47, WASI_ENOMEM = 48, WASI_ENOMSG = 49, WASI_ENOPROTOOPT = 50,
    WASI_ENOSPC = 51, WASI_ENOSYS = 52, WASI_ENOTCONN = 53, WASI_ENOTDIR = 54,
    WASI_ENOTEMPTY = 55, WASI_ENOTRECOVERABLE = 56, WASI_ENOTSOCK = 57, WASI_ENOTSUP = 58,
    WASI_ENOTTY = 59, WASI_ENXIO = 60, WASI_EOVERFLOW = 61, WASI_EOWNERDEAD = 62,
    WASI_EPERM = 63, WASI_EPIPE = 64, WASI_EPROTO = 65, WASI_EPROTONOSUPPORT = 66,
    WASI_EPROTOTYPE = 67, WASI_ERANGE = 68, WASI_EROFS = 69, WASI_ESPIPE = 70,
    WASI_ESRCH = 71, WASI_ESTALE = 72, WASI_ETIMEDOUT = 73, WASI_ETXTBSY = 74,
    WASI_EXDEV = 75, WASI_ENOTCAPABLE = 76,
};

enum {
    WASI_FILETYPE_UNKNOWN = 0, WASI_FILETYPE_BLOCK_DEVICE = 1,
    WASI_FILETYPE_CHARACTER_DEVICE = 2, WASI_FILETYPE_DIRECTORY = 3,
    WASI_FILETYPE_REGULAR_FILE = 4, WASI_FILETYPE_SOCKET_DGRAM = 5,
    WASI_FILETYPE_SOCKET_STREAM = 6, WASI_FILETYPE_SYMBOLIC_LINK = 7,
};

enum { WASI_FDFLAG_APPEND = 1, WASI_FDFLAG_DSYNC = 2, WASI_FDFLAG_NONBLOCK = 4,
       WASI_FDFLAG_RSYNC = 8, WASI_FDFLAG_SYNC = 16 };
enum { WASI_OFLAG_CREAT = 1, WASI_OFLAG_DIRECTORY = 2, WASI_OFLAG_EXCL = 4,
       WASI_OFLAG_TRUNC = 8 };
enum { WASI_LOOKUP_SYMLINK_FOLLOW = 1 };
enum { WASI_FSTFLAG_ATIM = 1, WASI_FSTFLAG_ATIM_NOW = 2, WASI_FSTFLAG_MTIM = 4,
       WASI_FSTFLAG_MTIM_NOW = 8 };

#define WASI_RIGHT_FD_DATASYNC (UINT64_C(1) << 0)
#define WASI_RIGHT_FD_READ (UINT64_C(1) << 1)
#define WASI_RIGHT_FD_SEEK (UINT64_C(1) << 2)
#define WASI_RIGHT_FD_WRITE (UINT64_C(1) << 6)
#define WASI_RIGHT_FD_ALLOCATE (UINT64_C(1) << 8)
#define WASI_RIGHT_FD_READDIR (UINT64_C(1) << 14)
#define WASI_RIGHT_FD_FILESTAT_SET_SIZE (UINT64_C(1) << 22)
#define WASI_RIGHTS_ALL ((UINT64_C(1) << 30) - 1)
/* Rights that only make sense on a directory: the path_* family and readdir. */
#define WASI_RIGHTS_DIRECTORY_ONLY                                                         \
    ((UINT64_C(0xfff) << 9) /* path_create_directory .. path_filestat_set_times */ |      \
     (UINT64_C(3) << 24) /* symlink, remove_directory */ | (UINT64_C(1) << 26))
#define WASI_RIGHTS_FILE (WASI_RIGHTS_ALL & ~WASI_RIGHTS_DIRECTORY_ONLY)

/* ------------------------------------------------------------- the context */

typedef struct wasi_buffer {
    uint8_t *data;
    size_t size, capacity;
} wasi_buffer;

typedef enum wasi_fd_kind {
    WASI_FD_FREE = 0,
    WASI_FD_HOST,       /* a host fd: stdio passed through, a file or directory opened */
    WASI_FD_CAPTURE,    /* stdout/stderr collected in a buffer */
    WASI_FD_EMPTY,      /* stdin with nothing behind it */
} wasi_fd_kind;

typedef struct wasi_fd_entry {
    wasi_fd_kind kind;
    int host_fd;
    bool owns_host_fd;
    bool is_preopen;
    bool is_stdio;
    uint8_t filetype;
    uint16_t fdflags;
    uint64_t rights_base, rights_inheriting;
    wasi_buffer *capture;   /* WASI_FD_CAPTURE */
    DIR *dir;               /* fd_readdir's stream, opened on first use */
    uint64_t dir_position;  /* how many entries of dir were read: the next cookie */
    /* Where the guest found it, for wasi_ctx_save: a preopen's guest name; for an
     * opened file, the preopen it lies under and its path beneath it. */
    char *preopen_name;
    char *path;
    bool readable, writable;
} wasi_fd_entry;

struct wasi_ctx {
    char **args;
    uint32_t arg_count;
    char **envs;
    uint32_t env_count;
    wasi_fd_entry *fds;
    uint32_t fd_capacity;
    wasi_buffer stdout_buffer, stderr_buffer;
};

/* What a preview-1 function sees: its context, the caller's memory (base NULL when
 * the caller has none) and, inside the engine, the host call (NULL in tests). */
typedef struct wasi_call {
    wasi_ctx *ctx;
    uint8_t *memory;
    uint64_t memory_size;
    wasm_host_call *host;
    bool exited;            /* proc_exit asked to end the program with exit_code */
    int exit_code;
} wasi_call;

typedef uint16_t (*wasi_impl)(wasi_call *call, const wasm_slot *args);

/* ------------------------------------------------------------ guest memory */

/* The host address of guest bytes [ptr, ptr + len), or NULL if any of it lies
 * outside memory (the caller answers EFAULT). len 0 is fine anywhere in bounds. */
uint8_t *wasi_guest_range(const wasi_call *call, uint32_t ptr, uint64_t len);
/* Little-endian stores and loads; false if out of bounds. */
bool wasi_store_u8(const wasi_call *call, uint32_t ptr, uint8_t v);
bool wasi_store_u16(const wasi_call *call, uint32_t ptr, uint16_t v);
bool wasi_store_u32(const wasi_call *call, uint32_t ptr, uint32_t v);
bool wasi_store_u64(const wasi_call *call, uint32_t ptr, uint64_t v);
bool wasi_load_u32(const wasi_call *call, uint32_t ptr, uint32_t *v);
bool wasi_load_u64(const wasi_call *call, uint32_t ptr, uint64_t *v);
void wasi_put_u16(uint8_t *p, uint16_t v);
void wasi_put_u32(uint8_t *p, uint32_t v);
void wasi_put_u64(uint8_t *p, uint64_t v);
uint32_t wasi_get_u32(const uint8_t *p);
uint64_t wasi_get_u64(const uint8_t *p);

static inline uint32_t wasi_arg_u32(const wasm_slot *args, int i) { return (uint32_t)args[i]; }
static inline uint64_t wasi_arg_u64(const wasm_slot *args, int i) { return (uint64_t)args[i]; }

/* ------------------------------------------------------------ the fd table */

/* The entry for a guest fd, or NULL if it is not open. */
wasi_fd_entry *wasi_fd_get(wasi_ctx *ctx, uint32_t fd);
/* A free guest fd (the lowest), or false with *err (EMFILE/ENOMEM). */
bool wasi_fd_new_slot(wasi_ctx *ctx, uint32_t *fd, uint16_t *err);
/* Closes what the entry owns and marks it free. */
void wasi_fd_release(wasi_fd_entry *entry);
/* The WASI file type of a host fd (fstat). */
uint8_t wasi_filetype_of_mode(unsigned mode);
/* A directory entry (a preopen or an opened directory) to resolve paths from. */
uint16_t wasi_fd_directory(wasi_ctx *ctx, uint32_t fd, wasi_fd_entry **out);

uint16_t wasi_errno_from_host(int host_errno);
/* Now on WASI clock id, in nanoseconds; EINVAL for an unknown clock. */
uint16_t wasi_clock_now(uint32_t id, uint64_t *ns);
/* The WASI filestat of a host stat, stored at guest ptr (64 bytes). */
struct stat;
bool wasi_store_filestat(const wasi_call *call, uint32_t ptr, const struct stat *st);
/* The timespec pair of utimensat() for WASI times and fstflags; EINVAL if both a
 * time and "now" are asked for one of them. */
uint16_t wasi_times_from_flags(uint64_t atim, uint64_t mtim, uint16_t fstflags,
                               struct timespec times[2]);
bool wasi_buffer_append(wasi_buffer *buffer, const void *data, size_t size);

/* -------------------------------------------------------- path resolution */

#define WASI_MAX_SYMLINKS 40
#define WASI_MAX_PATH 65536u     /* longer guest paths get ENAMETOOLONG */

/* A path resolved beneath a directory: the host directory that holds its final
 * component and that component's name. Operations then use *at(dirfd, name) with
 * symlinks not followed, so nothing can lead them outside. */
typedef struct wasi_resolved {
    int dirfd;
    bool owns_dirfd;
    char *name;             /* never contains '/', never ".." */
    bool trailing_slash;    /* the guest wrote "dir/": the final must be a directory */
} wasi_resolved;

/* Resolves path (len bytes, not NUL-terminated) beneath root_fd. Every intermediate
 * component is opened with O_NOFOLLOW; symbolic links are read and followed by
 * hand, also beneath root_fd; the final component is followed only when
 * follow_final. Absolute paths, and `..` or links that would climb above root_fd,
 * give ENOTCAPABLE. Returns a WASI errno; on success release *out afterwards. */
uint16_t wasi_path_resolve(int root_fd, const char *path, size_t len, bool follow_final,
                           wasi_resolved *out);
void wasi_resolved_release(wasi_resolved *resolved);

/* Opens path beneath preopen entry dir for restoring; used by wasi_state.c. */
uint16_t wasi_path_open_host(int root_fd, const char *path, size_t len, int host_flags,
                             int *host_fd);

/* ------------------------------------------------------ preview-1 functions */

#define WASI_FUNCTIONS(X)                                                      \
    X(args_get, "ii", "i") X(args_sizes_get, "ii", "i")                        \
    X(environ_get, "ii", "i") X(environ_sizes_get, "ii", "i")                  \
    X(clock_res_get, "ii", "i") X(clock_time_get, "iIi", "i")                  \
    X(fd_advise, "iIIi", "i") X(fd_allocate, "iII", "i")                       \
    X(fd_close, "i", "i") X(fd_datasync, "i", "i")                             \
    X(fd_fdstat_get, "ii", "i") X(fd_fdstat_set_flags, "ii", "i")              \
    X(fd_fdstat_set_rights, "iII", "i") X(fd_filestat_get, "ii", "i")          \
    X(fd_filestat_set_size, "iI", "i") X(fd_filestat_set_times, "iIIi", "i")   \
    X(fd_pread, "iiiIi", "i") X(fd_prestat_get, "ii", "i")                     \
    X(fd_prestat_dir_name, "iii", "i") X(fd_pwrite, "iiiIi", "i")              \
    X(fd_read, "iiii", "i") X(fd_readdir, "iiiIi", "i")                        \
    X(fd_renumber, "ii", "i") X(fd_seek, "iIii", "i")                          \
    X(fd_sync, "i", "i") X(fd_tell, "ii", "i") X(fd_write, "iiii", "i")        \
    X(path_create_directory, "iii", "i") X(path_filestat_get, "iiiii", "i")    \
    X(path_filestat_set_times, "iiiiIIi", "i") X(path_link, "iiiiiii", "i")    \
    X(path_open, "iiiiiIIii", "i") X(path_readlink, "iiiiii", "i")             \
    X(path_remove_directory, "iii", "i") X(path_rename, "iiiiii", "i")         \
    X(path_symlink, "iiiii", "i") X(path_unlink_file, "iii", "i")              \
    X(poll_oneoff, "iiii", "i") X(proc_exit, "i", "")                          \
    X(proc_raise, "i", "i") X(sched_yield, "", "i") X(random_get, "ii", "i")   \
    X(sock_accept, "iii", "i") X(sock_recv, "iiiiii", "i")                     \
    X(sock_send, "iiiii", "i") X(sock_shutdown, "ii", "i")

#define WASI_DECLARE(name, params, results) uint16_t wasi_##name(wasi_call *call, const wasm_slot *args);
WASI_FUNCTIONS(WASI_DECLARE)
#undef WASI_DECLARE

#endif
