/*
 * livec.c -- the compiler driver (PROTOCOL.md "The compiler").
 *
 *   livec [-o OUT] [--emit-c] [--check] [--line-directives] FILE.live
 *   livec test FILE.live [TEST-NAME...]    (runs the file's test blocks)
 *   livec --help | --version
 *
 * Reads the file, parses it (dsl/), checks it (sema.c), writes C (emit.c)
 * and, unless --check or --emit-c, compiles that C with $CC (default
 * LIVEC_DEFAULT_CC) and links it with the runtime library into the game
 * server binary NAME (from `game NAME`) or OUT.  The C and the binary are
 * made in a private temporary directory under fixed short names; the binary
 * is then moved to OUT, so a path that cannot be written is reported as the
 * user's I/O problem (exit 2), not as a C compiler failure.
 *
 * Exit status: 0 success, 1 errors in the program, 2 usage or I/O problems
 * (and a C compiler failure on generated code, which is a livec bug).
 *
 * The runtime (live.h and libliveruntime.a) is found, in order: in
 * $LIVEC_RUNTIME_DIR; in the build tree when this livec runs from it; at
 * ../include/livec and ../lib/livec next to this executable (an installed
 * tree, movable to any prefix); at the configured install directories.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ast.h"
#include "diag.h"
#include "emit.h"
#include "parse.h"
#include "sema.h"

#ifndef LIVEC_ABS_BUILDDIR
#define LIVEC_ABS_BUILDDIR ""
#endif
#ifndef LIVEC_ABS_SRCDIR
#define LIVEC_ABS_SRCDIR ""
#endif
#ifndef LIVEC_PKGLIBDIR
#define LIVEC_PKGLIBDIR "/usr/local/lib/livec"
#endif
#ifndef LIVEC_PKGINCLUDEDIR
#define LIVEC_PKGINCLUDEDIR "/usr/local/include/livec"
#endif

/* Largest .live file we read (the lexer keeps it in memory). */
#define MAX_SOURCE_BYTES (16 * 1024 * 1024)
/* Names inside livec's private temporary directory: fixed and short, so
 * that no game name (up to the lexer's limit) makes them too long. */
#define TMP_DIR_TEMPLATE "livec-XXXXXX"
#define TMP_C_NAME "game.c"
#define TMP_EXE_NAME "game"
/* Bytes copied at a time when the binary is moved to another file system. */
#define COPY_CHUNK 65536
/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_PROGRAM = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: livec [-o OUT] [--emit-c] [--check] [--line-directives] FILE.live\n"
    "       livec test FILE.live [TEST-NAME...]\n"
    "       livec --help | --version\n"
    "\n"
    "Compiles a .live game to a server binary named after `game NAME`.\n"
    "'livec test' runs the file's test blocks instead (docs/testing.md):\n"
    "one line per test, then 'N passed, M failed'; exit status 1 if any failed.\n"
    "\n"
    "  -o OUT             write the binary (or the C, with --emit-c) to OUT\n"
    "  --emit-c           write only the generated C (NAME.c, or OUT; '-' is stdout)\n"
    "  --check            only report diagnostics\n"
    "  --line-directives  put #line directives in the C (debug in .live terms)\n"
    "  -h, --help         print this help\n"
    "  --version          print the version\n"
    "  --                 what follows is the file, even if it starts with '-'\n"
    "\n"
    "Environment: CC (default " LIVEC_DEFAULT_CC "), CFLAGS (default -O2),\n"
    "LIVEC_RUNTIME_DIR (a directory holding live.h and libliveruntime.a, and\n"
    "testing.h for 'livec test'), LIVEC_KEEP_C=1 (keep the generated C, and the\n"
    "test program, in the temporary directory named on stderr).\n"
    "Warnings (FILE:LINE:COL: warning: ...) do not change the exit status.\n"
    "Exit status: 0 success, 1 errors in the program, 2 usage or I/O problems.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("livec: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see 'livec --help')\n", stderr);
    return EXIT_USAGE;
}

/* Reads a whole file into a NUL-terminated heap buffer (caller frees).
 * Returns NULL with a message on stderr. */
static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    struct stat st;
    if (!fp) {
        fprintf(stderr, "livec: cannot read '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "livec: cannot read '%s': Is a directory\n", path);
        fclose(fp);
        return NULL;
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "livec: out of memory reading '%s'\n", path);
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, fp);
        n += r;
        if (n > MAX_SOURCE_BYTES) {
            fprintf(stderr, "livec: '%s' is larger than %d bytes\n", path, MAX_SOURCE_BYTES);
            free(buf);
            fclose(fp);
            return NULL;
        }
        if (r == 0)
            break;
    }
    if (ferror(fp)) {
        fprintf(stderr, "livec: cannot read '%s': %s\n", path, strerror(errno));
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* buf = dir + suffix; false if it did not fit (then buf names no file). */
static bool join(char *buf, size_t n, const char *dir, const char *suffix)
{
    int r = snprintf(buf, n, "%s%s", dir, suffix);
    if (r < 0 || (size_t)r >= n) {
        buf[0] = 0;
        return false;
    }
    return true;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds the runtime: fills hdr_dir (holding live.h) and lib (the path of
 * libliveruntime.a).  Returns false (after a message) if none is found. */
static bool find_runtime(char *hdr_dir, char *lib, size_t n)
{
    char exe[PATH_MAX], buf[PATH_MAX + 64];
    const char *env = getenv("LIVEC_RUNTIME_DIR");
    ssize_t len;

    if (env && *env) {
        join(hdr_dir, n, env, "");
        join(lib, n, env, "/libliveruntime.a");
        join(buf, sizeof buf, env, "/live.h");
        if (is_file(buf) && is_file(lib))
            return true;
        fprintf(stderr, "livec: LIVEC_RUNTIME_DIR='%s' does not hold live.h and libliveruntime.a\n", env);
        return false;
    }
    len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        char real_build[PATH_MAX];
        char *slash;
        exe[len] = 0;
        slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        /* (2) running from the build tree */
        if (LIVEC_ABS_BUILDDIR[0] && realpath(LIVEC_ABS_BUILDDIR, real_build) &&
            strcmp(real_build, exe) == 0) {
            join(hdr_dir, n, LIVEC_ABS_SRCDIR, "/runtime");
            join(lib, n, LIVEC_ABS_BUILDDIR, "/runtime/libliveruntime.a");
            join(buf, sizeof buf, hdr_dir, "/live.h");
            if (is_file(buf) && is_file(lib))
                return true;
        }
        /* (3) an installed tree, wherever it was moved */
        join(hdr_dir, n, exe, "/../include/livec");
        join(lib, n, exe, "/../lib/livec/libliveruntime.a");
        join(buf, sizeof buf, hdr_dir, "/live.h");
        if (is_file(buf) && is_file(lib))
            return true;
    }
    /* (4) the configured install directories */
    join(hdr_dir, n, LIVEC_PKGINCLUDEDIR, "");
    join(lib, n, LIVEC_PKGLIBDIR, "/libliveruntime.a");
    join(buf, sizeof buf, hdr_dir, "/live.h");
    if (is_file(buf) && is_file(lib))
        return true;
    fprintf(stderr, "livec: cannot find the runtime (live.h and libliveruntime.a); "
                    "set LIVEC_RUNTIME_DIR to the directory that holds them\n");
    return false;
}

/* True if out_path looks writable: it is not empty, its directory exists
 * and is writable, and it is not a directory; else says why (the user's I/O
 * problem, no livec bug; `game` names the binary in the hint).  A quick
 * check before the slow compile; the final word is install_binary()'s. */
static bool writable_target(const char *out_path, const char *game)
{
    char dir[PATH_MAX];
    if (!*out_path) {
        fprintf(stderr, "livec: cannot write '': %s\n", strerror(ENOENT));
        return false;
    }
    snprintf(dir, sizeof dir, "%s", out_path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(out_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* `cda/cda.live` of game cda makes `cda`: the folder itself */
        size_t n = strlen(out_path);
        while (n > 1 && out_path[n - 1] == '/')
            n--;
        fprintf(stderr, "livec: cannot write '%s': it is a directory (name the binary with "
                "-o, e.g. -o %.*s%s%s)\n", out_path, (int)n, out_path,
                out_path[n - 1] == '/' ? "" : "/", game);
        return false;
    }
    if (stat(out_path, &st) != 0 && errno != ENOENT) {
        fprintf(stderr, "livec: cannot write '%s': %s\n", out_path, strerror(errno));
        return false;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "livec: cannot write '%s': %s\n", out_path, strerror(errno));
        return false;
    }
    return true;
}

/* Appends s to the command line in single quotes (safe for any path). */
static void shell_quote(FILE *cmd, const char *s)
{
    fputc('\'', cmd);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", cmd);
        else
            fputc(*s, cmd);
    }
    fputc('\'', cmd);
}

/* Compiles c_path into out_path (a file in livec's private temporary
 * directory: the caller moves it where the user wants it, so that the
 * user's I/O problems are reported as such, not as a C compiler failure)
 * with the runtime, with $CFLAGS or else default_cflags (tests: the C of
 * `livec test`, which also needs the runtime's testing.h).  Returns an exit
 * status. */
static int compile_c(const char *c_path, const char *out_path, const char *default_cflags,
                     bool tests)
{
    char hdr[PATH_MAX], lib[PATH_MAX];
    const char *cc = getenv("CC"), *cflags = getenv("CFLAGS");
    char *cmdline = NULL, *output = NULL;
    size_t cmdlen = 0, outlen = 0;
    FILE *cmd, *pipe, *collect;
    char chunk[4096];
    size_t r;
    int status;

    if (!find_runtime(hdr, lib, sizeof hdr))
        return EXIT_USAGE;
    if (tests) {                /* the test driver's header too */
        char th[PATH_MAX + 16];
        snprintf(th, sizeof th, "%s/testing.h", hdr);
        if (!is_file(th)) {
            fprintf(stderr, "livec: the runtime in '%s' has no testing.h, which 'livec test' needs\n", hdr);
            return EXIT_USAGE;
        }
    }
    if (!cc || !*cc)
        cc = LIVEC_DEFAULT_CC;
    if (!cflags)
        cflags = default_cflags;
    cmd = open_memstream(&cmdline, &cmdlen);
    if (!cmd)
        return EXIT_USAGE;
    /* CC, CFLAGS and the configured flags are split by the shell, as make does. */
    fprintf(cmd, "%s %s -std=c11 -Wall -Wextra %s -I", cc, cflags, LIVEC_RUNTIME_CFLAGS);
    shell_quote(cmd, hdr);
    fputc(' ', cmd);
    shell_quote(cmd, c_path);
    fputs(" -o ", cmd);
    shell_quote(cmd, out_path);
    fputc(' ', cmd);
    shell_quote(cmd, lib);
    fprintf(cmd, " %s 2>&1", LIVEC_RUNTIME_LIBS);
    fclose(cmd);

    pipe = popen(cmdline, "r");
    if (!pipe) {
        fprintf(stderr, "livec: cannot run the C compiler: %s\n", strerror(errno));
        free(cmdline);
        return EXIT_USAGE;
    }
    collect = open_memstream(&output, &outlen);
    while ((r = fread(chunk, 1, sizeof chunk, pipe)) > 0)
        if (collect)
            fwrite(chunk, 1, r, collect);
    if (collect)
        fclose(collect);
    status = pclose(pipe);
    const char *out = output ? output : "";
    if (status != 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
        /* the shell's "command not found" */
        fprintf(stderr, "livec: cannot run the C compiler '%s'; set CC to a C compiler\n%s",
                cc, out);
    else if (status != 0 && (getenv("CC") || getenv("CFLAGS")))
        /* the user's compiler or flags: not necessarily livec's fault */
        fprintf(stderr, "livec: the C compiler failed on the generated code\n  command: %s\n%s"
                        "livec: CC or CFLAGS is set; with a working C11 compiler and flags this "
                        "would be a livec bug (please report it)\n",
                cmdline, out);
    else if (status != 0)
        fprintf(stderr, "livec: internal error: the C compiler failed on the generated code "
                        "(a livec bug, please report it)\n  command: %s\n%s",
                cmdline, out);
    else if (outlen)
        fprintf(stderr, "livec: the C compiler said (a livec bug, please report it):\n%s", out);
    free(cmdline);
    free(output);
    return status != 0 ? EXIT_USAGE : EXIT_OK;
}

/* Copies the file `from` to out_path (a file system other than the
 * temporary directory's).  A regular file there is removed first, as the
 * linker does (a running server keeps its binary; the new one gets fresh
 * permissions).  Returns false with errno set; a partial copy is removed. */
static bool copy_binary(const char *from, const char *out_path)
{
    char *buf = malloc(COPY_CHUNK);
    struct stat st;
    int in = -1, out = -1, saved;
    ssize_t r = 0;
    if (!buf)
        return false;
    in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        goto fail;
    if (lstat(out_path, &st) == 0 && S_ISREG(st.st_mode))
        unlink(out_path);       /* may fail (/proc): open and write say why */
    out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0777);
    if (out < 0)
        goto fail;
    while ((r = read(in, buf, COPY_CHUNK)) > 0) {
        for (ssize_t done = 0; done < r;) {
            ssize_t w = write(out, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                if (w == 0)
                    errno = EIO;
                goto fail_written;
            }
            done += w;
        }
    }
    if (r < 0)
        goto fail_written;
    close(in);
    if (close(out) != 0) {
        saved = errno;
        unlink(out_path);
        errno = saved;
        free(buf);
        return false;
    }
    free(buf);
    return true;
fail_written:
    saved = errno;
    close(out);
    unlink(out_path);
    errno = saved;
fail:
    saved = errno;
    if (in >= 0)
        close(in);
    free(buf);
    errno = saved;
    return false;
}

/* Moves the binary built at tmp_exe to out_path (rename, or a copy across
 * file systems or through a symbolic link, which the linker also writes
 * through).  Returns an exit status, after a message naming out_path and
 * the system's reason if it cannot be written. */
static int install_binary(const char *tmp_exe, const char *out_path)
{
    struct stat st;
    bool link = lstat(out_path, &st) == 0 && S_ISLNK(st.st_mode);
    if (!link && rename(tmp_exe, out_path) == 0)
        return EXIT_OK;
    if ((link || errno == EXDEV) && copy_binary(tmp_exe, out_path))
        return EXIT_OK;
    fprintf(stderr, "livec: cannot write '%s': %s\n", out_path, strerror(errno));
    return EXIT_USAGE;
}

/* Creates livec's private temporary directory (in $TMPDIR, else /tmp) into
 * dir (n bytes).  Returns false after a message. */
static bool make_tmp_dir(char *dir, size_t n)
{
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    if (!join(dir, n, tmpdir, "/" TMP_DIR_TEMPLATE)) {
        fprintf(stderr, "livec: cannot create a temporary directory in '%s': %s\n", tmpdir,
                strerror(ENAMETOOLONG));
        return false;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "livec: cannot create a temporary directory in '%s': %s\n", tmpdir,
                strerror(errno));
        return false;
    }
    return true;
}

/*
 * livec test FILE.live [NAME...]
 * Emits the game with its test blocks (emit_options.tests) into a private
 * temporary directory, compiles it (without optimisation unless CFLAGS says
 * otherwise: the tests run for milliseconds, the compiler for longer) and
 * runs it with the test names, if any.  Its output (runtime/testing.c) goes
 * straight to our stdout.  Returns its exit status: 0 all passed, 1 a test
 * failed; 2 if it could not be built or run.
 */
static int run_tests(struct ast_file *f, char **names, int n_names)
{
    char dir[PATH_MAX], c_path[PATH_MAX + 64], exe[PATH_MAX + 64];
    struct emit_options eo = { .tests = true };
    FILE *fp;
    int rc, status;
    pid_t pid;

    if (!make_tmp_dir(dir, sizeof dir))
        return EXIT_USAGE;
    snprintf(c_path, sizeof c_path, "%s/" TMP_C_NAME, dir);
    snprintf(exe, sizeof exe, "%s/" TMP_EXE_NAME, dir);
    fp = fopen(c_path, "w");
    if (!fp || emit_c(f, fp, &eo) != 0 || fclose(fp) != 0) {
        fprintf(stderr, "livec: cannot write '%s': %s\n", c_path, strerror(errno));
        rc = EXIT_USAGE;
        goto done;
    }
    rc = compile_c(c_path, exe, "-O0", true);
    if (rc != EXIT_OK)
        goto done;
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "livec: cannot run the tests: %s\n", strerror(errno));
        rc = EXIT_USAGE;
        goto done;
    }
    if (pid == 0) {
        char **args = calloc((size_t)n_names + 2, sizeof *args);
        if (!args)
            _exit(EXIT_USAGE);
        args[0] = exe;
        for (int i = 0; i < n_names; i++)
            args[i + 1] = names[i];
        execv(exe, args);
        fprintf(stderr, "livec: cannot run '%s': %s\n", exe, strerror(errno));
        _exit(EXIT_USAGE);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "livec: cannot wait for the tests: %s\n", strerror(errno));
            rc = EXIT_USAGE;
            goto done;
        }
    }
    if (WIFEXITED(status)) {
        rc = WEXITSTATUS(status);
    } else {
        fprintf(stderr, "livec: the tests of '%s' stopped with signal %d (a livec bug, please "
                        "report it)\n", f->path, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        rc = EXIT_USAGE;
    }
done:
    if (getenv("LIVEC_KEEP_C")) {
        fprintf(stderr, "livec: kept the generated C in %s\n", c_path);
    } else {
        unlink(c_path);
        unlink(exe);
        rmdir(dir);
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *out_path = NULL, *in_path = NULL;
    bool emit_only = false, check_only = false;
    struct emit_options eo = { .line_directives = false };
    struct ast_file file;
    struct diag d;
    size_t len = 0;
    char *src;
    int i, rc;

    bool test_mode = argc >= 2 && strcmp(argv[1], "test") == 0;
    if (test_mode) {
        if (argc < 3 || argv[2][0] == '-')
            return usage_error("'test' takes a FILE.live (and optionally test names)%s", "");
        in_path = argv[2];
    }
    for (i = 1; i < argc && !test_mode; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("livec %s\n", PACKAGE_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc)
                return usage_error("option '-o' needs a file name%s", "");
            if (out_path)
                return usage_error("option '-o' given twice%s", "");
            out_path = argv[++i];
        } else if (strcmp(a, "--emit-c") == 0) {
            emit_only = true;
        } else if (strcmp(a, "--check") == 0) {
            check_only = true;
        } else if (strcmp(a, "--line-directives") == 0) {
            eo.line_directives = true;
        } else if (strcmp(a, "--") == 0 && i + 1 < argc && !in_path) {
            in_path = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (in_path) {
            return usage_error("more than one input file ('%s')", a);
        } else {
            in_path = a;
        }
    }
    if (!in_path)
        return usage_error("no input file%s", "");
    if (check_only && emit_only)
        return usage_error("--check and --emit-c do not go together%s", "");

    src = read_file(in_path, &len);
    if (!src)
        return EXIT_USAGE;
    memset(&file, 0, sizeof file);
    file.path = in_path;
    file.src = src;
    file.src_len = len;
    diag_init(&d, in_path, src, len);

    if (live_parse(&file, &d) > 0 || d.errors > 0) {
        sema_check_after_syntax_errors(&file, &d);
        rc = EXIT_PROGRAM;
        goto done;
    }
    if (sema_check(&file, &d) > 0) {
        rc = EXIT_PROGRAM;
        goto done;
    }
    rc = EXIT_OK;
    if (check_only)
        goto done;

    const struct sema_prog *P = sema_prog(&file);
    if (test_mode) {
        rc = run_tests(&file, argv + 3, argc - 3);
        goto done;
    }
    if (emit_only) {
        char *path = NULL;
        FILE *fp;
        if (out_path && strcmp(out_path, "-") == 0) {
            fp = stdout;
        } else {
            if (!out_path) {
                path = malloc(strlen(P->name) + 3);
                if (!path) {
                    rc = EXIT_USAGE;
                    goto done;
                }
                sprintf(path, "%s.c", P->name);
            }
            fp = fopen(out_path ? out_path : path, "w");
            if (!fp) {
                fprintf(stderr, "livec: cannot write '%s': %s\n", out_path ? out_path : path, strerror(errno));
                free(path);
                rc = EXIT_USAGE;
                goto done;
            }
        }
        if (fp != stdout)
            eo.c_name = out_path ? out_path : path;
        if (emit_c(&file, fp, &eo) != 0 || (fp != stdout ? fclose(fp) : fflush(fp)) != 0) {
            fprintf(stderr, "livec: cannot write '%s': %s\n",
                    out_path ? out_path : path, strerror(errno));
            rc = EXIT_USAGE;
        }
        free(path);
        goto done;
    }

    /* Build: C and binary in a private temporary directory (fixed short
     * names), then the binary to OUT (or NAME), and the rest deleted. */
    {
        const char *target = out_path ? out_path : P->name;
        char dir[PATH_MAX], c_path[PATH_MAX + 64], exe[PATH_MAX + 64];
        FILE *fp;
        if (!writable_target(target, P->name)) {
            rc = EXIT_USAGE;
            goto done;
        }
        if (!make_tmp_dir(dir, sizeof dir)) {
            rc = EXIT_USAGE;
            goto done;
        }
        snprintf(c_path, sizeof c_path, "%s/" TMP_C_NAME, dir);
        snprintf(exe, sizeof exe, "%s/" TMP_EXE_NAME, dir);
        fp = fopen(c_path, "w");
        eo.c_name = c_path;
        if (!fp || emit_c(&file, fp, &eo) != 0 || fclose(fp) != 0) {
            fprintf(stderr, "livec: cannot write '%s': %s\n", c_path, strerror(errno));
            rc = EXIT_USAGE;
        } else {
            rc = compile_c(c_path, exe, "-O2", false);
            if (rc == EXIT_OK)
                rc = install_binary(exe, target);
        }
        unlink(exe);
        if (!getenv("LIVEC_KEEP_C")) {
            unlink(c_path);
            rmdir(dir);
        } else {
            fprintf(stderr, "livec: kept the generated C in %s\n", c_path);
        }
    }

done:
    arena_free(&file.arena);
    free(src);
    return rc;
}
