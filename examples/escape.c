/*
 * escape.c — tries to leave its sandbox every way a guest could, and reports the
 * WASI error each attempt gets. Run with one preopened directory holding:
 *
 *   inside.txt         a file it may read (proves the sandbox is not just closed)
 *   sub/               an empty directory
 *   link-out  -> ../outside           link-abs -> /absolute/host/path
 *   link-dir  -> ..                   link-nested -> link-out
 *
 * It talks to WASI directly (wasi/api.h), not through wasi-libc, so every path
 * reaches the host's resolver as written. Exit status: 0 if every escape was
 * refused, 1 if any succeeded, 2 if even the allowed read failed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static const char *errno_name(__wasi_errno_t e)
{
    switch (e) {
    case __WASI_ERRNO_ACCES: return "EACCES";
    case __WASI_ERRNO_BADF: return "EBADF";
    case __WASI_ERRNO_EXIST: return "EEXIST";
    case __WASI_ERRNO_INVAL: return "EINVAL";
    case __WASI_ERRNO_LOOP: return "ELOOP";
    case __WASI_ERRNO_NOENT: return "ENOENT";
    case __WASI_ERRNO_NOTDIR: return "ENOTDIR";
    case __WASI_ERRNO_PERM: return "EPERM";
    case __WASI_ERRNO_NOTCAPABLE: return "ENOTCAPABLE";
    default: return "other";
    }
}

static int escapes;

/* An attempt that must fail; a success is an escape. */
static void expect_refused(const char *what, __wasi_errno_t e)
{
    if (e == 0) {
        printf("ESCAPED: %s succeeded\n", what);
        escapes++;
    } else {
        printf("refused: %s: errno %u (%s)\n", what, (unsigned)e, errno_name(e));
    }
}

static __wasi_fd_t first_preopen(void)
{
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t prestat;
        if (__wasi_fd_prestat_get(fd, &prestat) == 0 && prestat.tag == __WASI_PREOPENTYPE_DIR)
            return fd;
    }
    return (__wasi_fd_t)-1;
}

static __wasi_errno_t open_path(__wasi_fd_t dir, const char *path, __wasi_oflags_t oflags,
                                __wasi_rights_t rights)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, oflags,
                                        rights, 0, 0, &fd);
    if (e == 0)
        (void)__wasi_fd_close(fd);
    return e;
}

int main(void)
{
    const __wasi_rights_t read = __WASI_RIGHTS_FD_READ;
    const __wasi_rights_t write = __WASI_RIGHTS_FD_WRITE;
    __wasi_fd_t dir = first_preopen();
    if (dir == (__wasi_fd_t)-1) {
        printf("no preopened directory\n");
        return 2;
    }

    /* Reading what is inside must work, or the refusals below prove nothing. */
    __wasi_errno_t e = open_path(dir, "inside.txt", 0, read);
    printf("inside.txt: %s\n", e == 0 ? "readable" : errno_name(e));
    if (e != 0)
        return 2;

    expect_refused("open ../outside", open_path(dir, "../outside", 0, read));
    expect_refused("open sub/../../outside", open_path(dir, "sub/../../outside", 0, read));
    expect_refused("open /etc/passwd", open_path(dir, "/etc/passwd", 0, read));
    expect_refused("open link-out (-> ../outside)", open_path(dir, "link-out", 0, read));
    expect_refused("open link-abs (-> absolute path)", open_path(dir, "link-abs", 0, read));
    expect_refused("open link-dir/outside (link-dir -> ..)",
                   open_path(dir, "link-dir/outside", 0, read));
    expect_refused("open link-nested (-> link-out)", open_path(dir, "link-nested", 0, read));
    expect_refused("create ../created-outside",
                   open_path(dir, "../created-outside", __WASI_OFLAGS_CREAT, write));
    expect_refused("create link-dir/created-outside",
                   open_path(dir, "link-dir/created-outside", __WASI_OFLAGS_CREAT, write));
    expect_refused("mkdir ../made-outside", __wasi_path_create_directory(dir, "../made-outside"));
    expect_refused("rename inside.txt -> ../moved-outside",
                   __wasi_path_rename(dir, "inside.txt", dir, "../moved-outside"));
    expect_refused("symlink abs-made -> /etc", __wasi_path_symlink("/etc", dir, "abs-made"));
    expect_refused("hard link of link-out (followed)",
                   __wasi_path_link(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link-out", dir,
                                    "hardlink"));
    __wasi_filestat_t st;
    expect_refused("stat link-out (followed)",
                   __wasi_path_filestat_get(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link-out",
                                            &st));
    expect_refused("unlink ../outside", __wasi_path_unlink_file(dir, "../outside"));

    /* And through wasi-libc, as an ordinary program would try it. */
    FILE *f = fopen("/etc/passwd", "r");
    if (f) {
        printf("ESCAPED: fopen /etc/passwd succeeded\n");
        escapes++;
        fclose(f);
    } else {
        printf("refused: fopen /etc/passwd: %s\n", strerror(errno));
    }

    printf("%d escape(s)\n", escapes);
    return escapes ? 1 : 0;
}
