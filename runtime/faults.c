/*
 * faults.c -- a TEST HOOK: storage fault injection for the game server.
 *
 * When the environment variable LIVE_TEST_FAULTS names a file, rt_faults_init()
 * registers, as SQLite's default, a VFS that forwards everything to the
 * real one except that, while that file exists and holds one of these words,
 * it fails the matching operations of the database files:
 *
 *   full    every write fails with SQLITE_FULL ("database or disk is full")
 *   ioerr   every write and fsync fails with SQLITE_IOERR
 *
 * The file is looked at on each write, so a test turns a fault on and off
 * while the server runs (echo full > F; rm F) and checks that messages are
 * answered 503 with a reason, that nothing is half-applied, and that the
 * server recovers once the fault is gone (tests/reliability/faults.js).
 * Without LIVE_TEST_FAULTS nothing is registered and this file costs
 * nothing.  It is never meant for production use.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "faults.h"

/* Longest fault word read from the trigger file. */
#define FAULT_WORD_MAX 16

/* Name of the shim VFS. */
#define FAULT_VFS_NAME "live-test-faults"

enum fault { FAULT_NONE, FAULT_FULL, FAULT_IOERR };

struct fault_file {
    sqlite3_file base;          /* pMethods: fault_methods, or NULL */
    sqlite3_file *real;         /* the real VFS's file, right after this struct */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static char *trigger_path;      /* malloc'd once; lives as long as the process */

/* The fault the trigger file asks for now. */
static enum fault current_fault(void)
{
    FILE *f = fopen(trigger_path, "r");
    if (!f)
        return FAULT_NONE;
    char word[FAULT_WORD_MAX] = "";
    if (!fgets(word, sizeof word, f))
        word[0] = '\0';
    fclose(f);
    if (strncmp(word, "full", 4) == 0)
        return FAULT_FULL;
    if (strncmp(word, "ioerr", 5) == 0)
        return FAULT_IOERR;
    return FAULT_NONE;
}

#define REAL(f) (((struct fault_file *)(f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    switch (current_fault()) {
    case FAULT_FULL: return SQLITE_FULL;
    case FAULT_IOERR: return SQLITE_IOERR_WRITE;
    case FAULT_NONE: break;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    if (current_fault() == FAULT_IOERR)
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int f_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int f_device_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    *pp = NULL;         /* no memory mapping: every read goes through f_read */
    return SQLITE_OK;
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return SQLITE_OK;
}

static const sqlite3_io_methods fault_methods = {
    3, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock,
    f_check_reserved, f_file_control, f_sector_size, f_device_chars,
    f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch
};

/* xOpen: opens the real file behind ours; our methods only when it opened
 * (SQLite then calls xClose), none otherwise. */
static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    struct fault_file *ff = (struct fault_file *)file;
    ff->real = (sqlite3_file *)&ff[1];
    ff->base.pMethods = NULL;
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    if (rc == SQLITE_OK && ff->real->pMethods) {
        if (ff->real->pMethods->iVersion < 3) {
            /* shm and fetch would be missing: refuse rather than misbehave */
            ff->real->pMethods->xClose(ff->real);
            return SQLITE_CANTOPEN;
        }
        ff->base.pMethods = &fault_methods;
    }
    return rc;
}

#define FWD(name, ...) real_vfs->name(real_vfs, __VA_ARGS__)

static int f_delete(sqlite3_vfs *v, const char *name, int sync)
{
    return FWD(xDelete, name, sync);
}

static int f_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    return FWD(xAccess, name, flags, out);
}

static int f_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    return FWD(xFullPathname, name, n, out);
}

static void *f_dlopen(sqlite3_vfs *v, const char *name)
{
    return FWD(xDlOpen, name);
}

static void f_dlerror(sqlite3_vfs *v, int n, char *out)
{
    FWD(xDlError, n, out);
}

static void (*f_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    return FWD(xDlSym, h, sym);
}

static void f_dlclose(sqlite3_vfs *v, void *h)
{
    FWD(xDlClose, h);
}

static int f_randomness(sqlite3_vfs *v, int n, char *out)
{
    return FWD(xRandomness, n, out);
}

static int f_sleep(sqlite3_vfs *v, int us)
{
    return FWD(xSleep, us);
}

static int f_current_time(sqlite3_vfs *v, double *out)
{
    return FWD(xCurrentTime, out);
}

static int f_last_error(sqlite3_vfs *v, int n, char *out)
{
    return FWD(xGetLastError, n, out);
}

static int f_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    return FWD(xCurrentTimeInt64, out);
}

#undef FWD

/* See faults.h. */
int rt_faults_init(const char *game)
{
    const char *path = getenv("LIVE_TEST_FAULTS");
    if (!path || !*path || trigger_path)
        return 0;
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 2 || !real_vfs->xCurrentTimeInt64) {
        fprintf(stderr, "%s: LIVE_TEST_FAULTS: the default SQLite VFS cannot be wrapped\n", game);
        return -1;
    }
    trigger_path = strdup(path);
    if (!trigger_path) {
        fprintf(stderr, "%s: out of memory\n", game);
        return -1;
    }
    fault_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = FAULT_VFS_NAME,
        .xOpen = f_open, .xDelete = f_delete, .xAccess = f_access,
        .xFullPathname = f_full_pathname, .xDlOpen = f_dlopen, .xDlError = f_dlerror,
        .xDlSym = f_dlsym, .xDlClose = f_dlclose, .xRandomness = f_randomness,
        .xSleep = f_sleep, .xCurrentTime = f_current_time, .xGetLastError = f_last_error,
        .xCurrentTimeInt64 = f_current_time64,
    };
    int rc = sqlite3_vfs_register(&fault_vfs, 1);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "%s: LIVE_TEST_FAULTS: cannot register the fault VFS: %s\n", game,
                sqlite3_errstr(rc));
        return -1;
    }
    fprintf(stderr, "%s: TEST HOOK: storage faults injected while %s says so\n", game, path);
    return 0;
}
