/*
 * faults.h -- the storage fault-injection test hook (runtime/faults.c).
 */
#ifndef LIVE_FAULTS_H
#define LIVE_FAULTS_H

/* TEST HOOK.  When LIVE_TEST_FAULTS names a file, makes SQLite's default
 * VFS one that fails writes (SQLITE_FULL for the word "full") or writes and
 * fsyncs (SQLITE_IOERR for "ioerr") while that file holds the word.  Call
 * once before the database is opened.  Returns 0 (also when the variable is
 * unset: then it does nothing), or -1 after one line on stderr naming game. */
int rt_faults_init(const char *game);

#endif /* LIVE_FAULTS_H */
