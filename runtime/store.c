/*
 * store.c -- SQLite storage of the game core.
 *
 * Tables (game field columns are named after the field, double-quoted; see
 * "Names" below for the fields and tables whose names need an escape):
 *   meta(key, value)                      game name, schema fingerprint
 *   sessions(id, code UNIQUE, created_ms, seed, rng_state)
 *   groups(id, session_id, gid, <group fields>)
 *   participants(id, code UNIQUE, session_id, group_id, id_in_group,
 *                page_index, next_seq, <player fields>)
 *   sent(id, group_id, recipients, prev_id, event, data)
 *                                         every event ever sent, in order
 *   messages(id, time_ms, participant_id, type, body, outcome, reason)
 *   timers(group_id, timer, due_ms)                 armed group timers
 *   row_ids(group_id, tbl, next_id)                 per-group row id counters
 *   draws(session_id, n, group_id, participant_id, message_id, lo, hi,
 *         value, time_ms)                 every random() draw of a session
 *   "t_<table>"(group_id, id, <columns>)            one per game table (Names)
 * int and bool are INTEGER, float REAL, string TEXT, arrays JSON TEXT.
 *
 * Names: SQLite folds identifiers to one case even when they are quoted,
 * and .live names are case-sensitive, so a game's names are mapped to
 * SQLite names that are distinct whatever the case (sb_col, sb_table): a field
 * whose name has no uppercase letter, is not one of the fixed columns and
 * does not start with "f_" is its own column name (so are the columns of
 * every database made before this rule, which had no other kind); any
 * other field is "f_" + NAME with each uppercase letter X written "^x"
 * (`A` is f_^a, `gid` is f_gid, `f_gid` is f_f_gid, `Id` is f_^id); a table
 * is "t_" + NAME, with the same escape (`offer` is t_offer, `Offer` is
 * t_^offer).  No name has a '^', so the escape is injective, and the names
 * made hold no uppercase letter, so no two of them fold together.
 *
 * `sent` is what a reconnecting stream replays (Last-Event-ID).  A text sent
 * to several players of a group (`send all`, `send others`) is one row:
 * `recipients` is a bit set of their places in the group (bit k-1 for
 * id_in_group k; a group has at most 64 players), and a participant's
 * sequence numbers are implicit -- its n-th event is the n-th row of its
 * group whose bit for it is set.  So a message costs one appended row
 * whatever the number of recipients, and every insert goes to the end of one
 * b-tree (a per-recipient table keyed by participant touched one page per
 * recipient in every commit: bench/RESULTS.md).  prev_id chains the rows of
 * a group (0 ends it); the group's newest row is kept in memory
 * (rt_group.last_sent_id), and a replay walks the chain back from it to the
 * first wanted event, then reads the texts forward.  At start-up one pass
 * over `sent` counts each participant's events (next_seq) and finds each
 * group's newest row.  The column participants.next_seq is neither read nor
 * written any more (format 2 kept a lower bound there); it stays in the
 * table because the schema fingerprint covers it.
 * Databases of storage formats 1 (a copy of the text per recipient) and 2
 * (one text per row plus an outbox(participant_id, seq, sent_id) row per
 * recipient) are converted when opened.
 *
 * draws records each random(lo, hi) of a committed job with its number n
 * (1, 2, 3 ... per session), the handler's group, `me` (NULL in timer and
 * start handlers) and the message-log row of the job (NULL when the job was
 * not a live message), written in the job's batch like its other changes; a
 * rejected handler's draws are rolled back with the generator's state and
 * never written.  The table was added without changing the storage format:
 * a format 2 database made before it gets an empty draws table when opened
 * (its earlier draws were not recorded; numbering starts at 1 there).
 *
 * Durability: WAL.  The game thread commits a batch of jobs at once (group
 * commit) with synchronous=NORMAL, so the COMMIT writes the batch's frames to
 * the WAL file without waiting for the disk; store_sync() (fdatasync of the
 * WAL, on loop.c's sync thread) then makes every batch committed before it
 * durable, and nothing of a batch is answered or delivered before that
 * returned.  So the disk's latency overlaps the next batch's handlers, and one
 * fdatasync may cover several batches.  SQLite's own checkpoints still sync
 * the WAL before copying it into the database and the database after, so a
 * WAL frame is never overwritten before it is durable in the database.  The
 * fingerprint is a hash of the game's CREATE TABLE statements: a database
 * made by another game, or by another version of this game's state
 * declarations, is refused rather than misread.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

/* How long a statement waits for a lock another process holds (an admin's
 * sqlite3 shell reading the file) before failing. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* SQLite's page cache (KiB): the default 2 MiB made the writes of a busy
 * game read pages back from the file (bench/RESULTS.md, finding 1). */
#define STORE_CACHE_KIB 16384
/* The columns of `sent` (see the top). */
#define SENT_COLUMNS "id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, " \
    "recipients INTEGER NOT NULL, prev_id INTEGER NOT NULL, event TEXT, data TEXT NOT NULL"
/* Version of the fixed part of the schema. */
#define STORE_FORMAT "3"

#define RT_STR_(x) #x
#define RT_STR(x) RT_STR_(x)

struct table_stmts {
    sqlite3_stmt *upsert;       /* group_id, id, fields */
    sqlite3_stmt *del;          /* group_id, id */
    sqlite3_stmt *load;
};

struct rt_store {
    sqlite3 *db;
    int lock_fd;                /* flock()ed: one server per database */
    char *wal_path;             /* the WAL beside the file SQLite opened (a --db
                                 * symlink's target), or NULL for ":memory:" */
    char *db_path;              /* that file, and its identity when opened */
    dev_t db_dev;
    ino_t db_ino;
    int wal_fd;                 /* opened by the first store_sync, or -1 */
    const struct lv_game *game;
    char err[RT_REASON_MAX];
    sqlite3_stmt *begin, *commit, *rollback;
    sqlite3_stmt *ins_session, *upd_session_rng;
    sqlite3_stmt *ins_group, *upd_group;
    sqlite3_stmt *ins_participant, *upd_participant;
    sqlite3_stmt *ins_sent, *ins_message;
    sqlite3_stmt *set_timer, *del_timer;
    sqlite3_stmt *set_row_id;
    sqlite3_stmt *replay_link, *replay_text, *messages;
    sqlite3_stmt *ins_draw, *draws;
    struct table_stmts *tables;
};

/* ---- SQL text ----------------------------------------------------------- */

/* A growable string for building SQL from the descriptor. */
struct sb {
    char *s;
    size_t n, cap;
};

static __attribute__((format(printf, 2, 3))) void sb_add(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (b->s && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->s = rt_xrealloc(b->s, b->cap);
        if (b->n == 0)
            b->s[0] = '\0';
    }
}

static const char *const reserved_columns[] = {
    "id", "code", "session_id", "group_id", "gid", "id_in_group", "page_index", "next_seq",
    NULL
};

/* Appends prefix + name to b, double-quoted, each uppercase letter X of
 * name written "^x" when escape is set (see "Names" at the top). */
static void sb_name(struct sb *b, const char *prefix, const char *name, bool escape)
{
    sb_add(b, "\"%s", prefix);
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            sb_add(b, "\"\"");
        else if (escape && *p >= 'A' && *p <= 'Z')
            sb_add(b, "^%c", *p - 'A' + 'a');
        else
            sb_add(b, "%c", *p);
    }
    sb_add(b, "\"");
}

/* Whether the column of field `name` needs the "f_" form: an uppercase
 * letter, a fixed column's name or the prefix "f_" (see "Names"). */
static bool col_escaped(const char *name)
{
    if (strncmp(name, "f_", 2) == 0)
        return true;
    for (const char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            return true;
    for (int i = 0; reserved_columns[i]; i++)
        if (strcmp(reserved_columns[i], name) == 0)
            return true;
    return false;
}

/* Appends the quoted column name of a game field (see "Names"). */
static void sb_col(struct sb *b, const char *name)
{
    if (col_escaped(name))
        sb_name(b, "f_", name, true);
    else
        sb_name(b, "", name, false);
}

/* Appends the quoted name of game table t: "t_NAME", escaped (see
 * "Names"). */
static void sb_table(struct sb *b, const struct lv_table *t)
{
    sb_name(b, "t_", t->name, true);
}

static const char *sql_type(const struct lv_field *f)
{
    if (f->len > 0)
        return "TEXT NOT NULL DEFAULT '[]'";
    switch (f->type) {
    case LV_INT:
    case LV_BOOL:
        return "INTEGER NOT NULL DEFAULT 0";
    case LV_FLOAT:
        return "REAL NOT NULL DEFAULT 0.0";
    case LV_STRING:
        return "TEXT NOT NULL DEFAULT ''";
    }
    return "";
}

static void sb_coldefs(struct sb *b, const struct lv_field *f, int n)
{
    for (int i = 0; i < n; i++) {
        sb_add(b, ", ");
        sb_col(b, f[i].name);
        sb_add(b, " %s", sql_type(&f[i]));
    }
}

static void sb_colnames(struct sb *b, const struct lv_field *f, int n)
{
    for (int i = 0; i < n; i++) {
        sb_add(b, ", ");
        sb_col(b, f[i].name);
    }
}

static void sb_params(struct sb *b, int n)
{
    for (int i = 0; i < n; i++)
        sb_add(b, ", ?");
}

/* `, "f1" = ?FIRST, "f2" = ?FIRST+1 ...`: the SET list of an UPDATE. */
static void sb_sets(struct sb *b, const struct lv_field *f, int n, int first)
{
    for (int i = 0; i < n; i++) {
        sb_add(b, ", ");
        sb_col(b, f[i].name);
        sb_add(b, " = ?%d", first + i);
    }
}

/* The CREATE statements of the game's own tables (what the fingerprint
 * covers).  Returns a malloc'd string. */
static char *game_schema(const struct lv_game *g)
{
    struct sb b = { 0 };
    sb_add(&b, "CREATE TABLE IF NOT EXISTS groups(id INTEGER PRIMARY KEY, "
               "session_id INTEGER NOT NULL REFERENCES sessions(id), gid INTEGER NOT NULL");
    sb_coldefs(&b, g->group_fields, g->n_group_fields);
    sb_add(&b, ");\nCREATE TABLE IF NOT EXISTS participants(id INTEGER PRIMARY KEY, "
               "code TEXT NOT NULL UNIQUE, session_id INTEGER NOT NULL REFERENCES sessions(id), "
               "group_id INTEGER NOT NULL REFERENCES groups(id), id_in_group INTEGER NOT NULL, "
               "page_index INTEGER NOT NULL DEFAULT 0, next_seq INTEGER NOT NULL DEFAULT 1");
    sb_coldefs(&b, g->player_fields, g->n_player_fields);
    sb_add(&b, ");\n");
    for (int t = 0; t < g->n_tables; t++) {
        sb_add(&b, "CREATE TABLE IF NOT EXISTS ");
        sb_table(&b, &g->tables[t]);
        sb_add(&b, "(group_id INTEGER NOT NULL REFERENCES groups(id), id INTEGER NOT NULL");
        sb_coldefs(&b, g->tables[t].fields, g->tables[t].n_fields);
        sb_add(&b, ", PRIMARY KEY(group_id, id)) WITHOUT ROWID;\n");
    }
    return b.s;
}

/* The exports read from SQLite (store_messages, store_draws). */
#define MESSAGES_SQL \
    "SELECT m.time_ms, p.code, m.type, m.body, m.outcome, m.reason, g.gid, " \
    "p.id_in_group FROM messages m JOIN participants p ON p.id = m.participant_id " \
    "JOIN groups g ON g.id = p.group_id WHERE p.session_id = ?1 AND m.id <= ?2 ORDER BY m.id"
#define DRAWS_SQL \
    "WITH m AS (SELECT m.id, ROW_NUMBER() OVER (ORDER BY m.id) AS k FROM messages m " \
    "JOIN participants p ON p.id = m.participant_id WHERE p.session_id = ?1) " \
    "SELECT d.n, g.gid, p.code, m.k, d.lo, d.hi, d.value, d.time_ms FROM draws d " \
    "JOIN groups g ON g.id = d.group_id LEFT JOIN participants p ON p.id = d.participant_id " \
    "LEFT JOIN m ON m.id = d.message_id WHERE d.session_id = ?1 AND d.n <= ?2 ORDER BY d.n"

static const char fixed_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS sessions(id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, "
    "created_ms INTEGER NOT NULL, seed INTEGER NOT NULL, rng_state INTEGER NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS sent(" SENT_COLUMNS ");\n"
    "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, "
    "participant_id INTEGER NOT NULL, type TEXT, body TEXT NOT NULL, outcome TEXT NOT NULL, "
    "reason TEXT);\n"
    "CREATE TABLE IF NOT EXISTS timers(group_id INTEGER NOT NULL, timer TEXT NOT NULL, "
    "due_ms INTEGER NOT NULL, PRIMARY KEY(group_id, timer)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS row_ids(group_id INTEGER NOT NULL, tbl TEXT NOT NULL, "
    "next_id INTEGER NOT NULL, PRIMARY KEY(group_id, tbl)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS draws(session_id INTEGER NOT NULL, n INTEGER NOT NULL, "
    "group_id INTEGER NOT NULL, participant_id INTEGER, message_id INTEGER, "
    "lo INTEGER NOT NULL, hi INTEGER NOT NULL, value INTEGER NOT NULL, "
    "time_ms INTEGER NOT NULL, PRIMARY KEY(session_id, n)) WITHOUT ROWID;\n";

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* ---- errors and statements ---------------------------------------------- */

static int fail(struct rt_store *st, const char *what)
{
    snprintf(st->err, sizeof st->err, "%s: %s", what, st->db ? sqlite3_errmsg(st->db) : "no database");
    return -1;
}

/* The last error text (borrowed). */
const char *store_error(struct rt_store *st)
{
    return st->err;
}

static sqlite3_stmt *prep(struct rt_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        fail(st, "cannot prepare a statement");
        return NULL;
    }
    return s;
}

/* Steps a statement that returns no rows, then resets it: 0 or -1. */
static int run(struct rt_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return fail(st, what);
    return 0;
}

/* Binds field f of base at parameter i. */
static void bind_field(sqlite3_stmt *s, int i, const struct lv_field *f, const void *base)
{
    const char *p = (const char *)base + f->offset;
    if (f->len > 0) {
        json_t *v = rt_field_json(f, base);
        char *text = rt_json_text(v);
        json_decref(v);
        if (text)
            sqlite3_bind_text(s, i, text, -1, free);    /* SQLite frees it */
        else
            sqlite3_bind_text(s, i, "[]", 2, SQLITE_STATIC);
        return;
    }
    switch (f->type) {
    case LV_INT:
        sqlite3_bind_int64(s, i, *(const int64_t *)p);
        break;
    case LV_FLOAT:
        sqlite3_bind_double(s, i, *(const double *)p);
        break;
    case LV_BOOL:
        sqlite3_bind_int(s, i, *(const bool *)p ? 1 : 0);
        break;
    case LV_STRING:
        /* not copied: the caller steps the statement before the string can
         * change (every write binds, runs, then clears the bindings) */
        sqlite3_bind_text(s, i, *(char *const *)p, -1, SQLITE_STATIC);
        break;
    }
}

static void bind_fields(sqlite3_stmt *s, int first, const struct lv_field *f, int n, const void *base)
{
    for (int i = 0; i < n; i++)
        bind_field(s, first + i, &f[i], base);
}

/* Reads column col into field f of base: 0, or -1 for a malformed value. */
static int column_field(sqlite3_stmt *s, int col, const struct lv_field *f, void *base)
{
    char *p = (char *)base + f->offset;
    if (f->len > 0) {
        const char *text = (const char *)sqlite3_column_text(s, col);
        json_t *v = json_loads(text ? text : "", 0, NULL);
        int rc = v ? rt_field_from_json(f, base, v) : -1;
        json_decref(v);
        return rc;
    }
    switch (f->type) {
    case LV_INT:
        *(int64_t *)p = sqlite3_column_int64(s, col);
        break;
    case LV_FLOAT:
        *(double *)p = sqlite3_column_double(s, col);
        break;
    case LV_BOOL:
        *(bool *)p = sqlite3_column_int64(s, col) != 0;
        break;
    case LV_STRING: {
        const char *text = (const char *)sqlite3_column_text(s, col);
        free(*(char **)p);
        *(char **)p = rt_xstrdup(text ? text : "");
        break;
    }
    }
    return 0;
}

static int column_fields(sqlite3_stmt *s, int first, const struct lv_field *f, int n, void *base)
{
    for (int i = 0; i < n; i++)
        if (column_field(s, first + i, &f[i], base) < 0)
            return -1;
    return 0;
}

/* ---- open and close ------------------------------------------------------ */

static int exec(struct rt_store *st, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "%s: %s", what, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Page i of the game by its name (the runtime's "finished" is n_pages), or
 * -1. */
static int page_named(const struct lv_game *g, const char *name, size_t len)
{
    for (int i = 0; i <= g->n_pages; i++) {
        const char *n = rt_page_name(g, i);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return i;
    }
    return -1;
}

/* Participants' pages are stored as indexes: when this version of the game
 * has other pages than the one that made the database (meta 'pages', the
 * names one per line), each participant is moved to the index its page has
 * now, so that adding, removing or reordering pages keeps everybody on the
 * page they were on.  Refuses a database where somebody is on a page this
 * version does not have.  Inside store_open's transaction. */
static int check_pages(struct rt_store *st)
{
    const struct lv_game *g = st->game;
    struct sb now = { 0 };
    for (int i = 0; i <= g->n_pages; i++)
        sb_add(&now, i < g->n_pages ? "%s\n" : "%s", rt_page_name(g, i));
    sqlite3_stmt *s = prep(st, "SELECT value FROM meta WHERE key = 'pages'");
    if (!s) {
        free(now.s);
        return -1;
    }
    char *before = sqlite3_step(s) == SQLITE_ROW
                       ? rt_xstrdup((const char *)sqlite3_column_text(s, 0)) : NULL;
    sqlite3_finalize(s);
    int rc = 0;
    if (before && strcmp(before, now.s) != 0) {
        /* old index k -> -1 - new index, then every negative one back */
        sqlite3_stmt *count = prep(st, "SELECT count(*) FROM participants WHERE page_index = ?");
        sqlite3_stmt *move = prep(st, "UPDATE participants SET page_index = ? WHERE page_index = ?");
        rc = count && move ? 0 : -1;
        const char *name = before;
        for (int k = 0; rc == 0 && *name; k++) {
            size_t len = strcspn(name, "\n");
            int to = page_named(g, name, len);
            if (to < 0) {
                sqlite3_bind_int(count, 1, k);
                int n = sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int(count, 0) : -1;
                sqlite3_reset(count);
                if (n != 0) {
                    snprintf(st->err, sizeof st->err, "%d participant%s of this database %s on "
                             "page '%.*s', which this version of game '%s' does not have: keep "
                             "the page, or start with a new file (--db NEW.sqlite3)", n,
                             n == 1 ? "" : "s", n == 1 ? "is" : "are", (int)len, name, g->name);
                    rc = -1;
                }
            } else if (to != k) {
                sqlite3_bind_int(move, 1, -1 - to);
                sqlite3_bind_int(move, 2, k);
                rc = run(st, move, "cannot move participants to their pages");
            }
            name += len + (name[len] == '\n');
        }
        sqlite3_finalize(count);
        sqlite3_finalize(move);
        if (rc == 0)
            rc = exec(st, "UPDATE participants SET page_index = -1 - page_index "
                          "WHERE page_index < 0", "cannot move participants to their pages");
    }
    if (rc == 0 && (!before || strcmp(before, now.s) != 0)) {
        s = prep(st, "INSERT OR REPLACE INTO meta(key, value) VALUES ('pages', ?)");
        if (s)
            sqlite3_bind_text(s, 1, now.s, -1, SQLITE_STATIC);
        rc = s ? run(st, s, "cannot write meta") : -1;
        sqlite3_finalize(s);
    }
    free(before);
    free(now.s);
    return rc;
}

/* Checks meta against this game, writing it into a new database. */
/* Refuses a database that holds tables but no livec meta row naming a
 * game: another program's file, which the server would otherwise fill with
 * its own tables and switch to WAL.  Runs before anything is written. */
static int check_foreign(struct rt_store *st)
{
    sqlite3_stmt *s = prep(st, "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table'), "
                               "(SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta')");
    if (!s)
        return -1;
    int tables = 0, meta = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        tables = sqlite3_column_int(s, 0);
        meta = sqlite3_column_int(s, 1);
    }
    sqlite3_finalize(s);
    if (tables > 0 && meta) {
        s = prep(st, "SELECT count(*) FROM meta WHERE key = 'game'");
        if (!s)
            return -1;
        meta = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) > 0;
        sqlite3_finalize(s);
    }
    if (tables > 0 && !meta) {
        snprintf(st->err, sizeof st->err, "not a livec database (it holds %d table%s of "
                 "another program); give --db a new file", tables, tables == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

static int check_meta(struct rt_store *st, const char *fingerprint)
{
    const struct lv_game *g = st->game;
    sqlite3_stmt *s = prep(st, "SELECT key, value FROM meta WHERE key IN ('game', 'schema')");
    if (!s)
        return -1;
    char game[128] = "", schema[64] = "";
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        const char *v = (const char *)sqlite3_column_text(s, 1);
        if (k && v && strcmp(k, "game") == 0)
            snprintf(game, sizeof game, "%s", v);
        else if (k && v)
            snprintf(schema, sizeof schema, "%s", v);
    }
    sqlite3_finalize(s);
    if (game[0] && strcmp(game, g->name) != 0) {
        snprintf(st->err, sizeof st->err, "the database belongs to game '%s', not '%s' (give this "
                 "game its own file with --db)", game, g->name);
        return -1;
    }
    if (schema[0] && strcmp(schema, fingerprint) != 0) {
        snprintf(st->err, sizeof st->err,
                 "the database was made by another version of game '%s' (its state declarations "
                 "differ): keep it for its data and start with a new file (--db NEW.sqlite3), or "
                 "delete it to start afresh", g->name);
        return -1;
    }
    if (game[0] && schema[0])
        return 0;
    s = prep(st, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    if (!s)
        return -1;
    const char *kv[][2] = { { "game", g->name }, { "schema", fingerprint }, { "format", STORE_FORMAT } };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        sqlite3_bind_text(s, 1, kv[i][0], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, kv[i][1], -1, SQLITE_STATIC);
        if (run(st, s, "cannot write meta") < 0) {
            sqlite3_finalize(s);
            return -1;
        }
    }
    sqlite3_finalize(s);
    return 0;
}

/* Whether table t has column c: 1, 0, or -1 on error. */
static int has_column(struct rt_store *st, const char *t, const char *c)
{
    sqlite3_stmt *s = prep(st, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : fail(st, "cannot read the schema");
}

/* Storage format 1 kept a copy of each event's text per recipient in
 * outbox(participant_id, seq, event, data); converts such a database to
 * format 2 (sent(id, event, data) + outbox(participant_id, seq, sent_id),
 * one text per row), which migrate_format2 then converts.  Runs inside
 * store_open's transaction.  0 or -1. */
static int migrate_format1(struct rt_store *st)
{
    int rc = has_column(st, "outbox", "data");
    if (rc <= 0)
        return rc;              /* a new database, or format 2 or 3 already */
    return exec(st,
        "ALTER TABLE outbox RENAME TO outbox_format1;\n"
        "CREATE TABLE sent(id INTEGER PRIMARY KEY, event TEXT, data TEXT NOT NULL);\n"
        "CREATE TABLE outbox(participant_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
        "sent_id INTEGER NOT NULL, PRIMARY KEY(participant_id, seq)) WITHOUT ROWID;\n"
        "INSERT INTO sent(id, event, data) SELECT "
        "ROW_NUMBER() OVER (ORDER BY participant_id, seq), event, data FROM outbox_format1;\n"
        "INSERT INTO outbox(participant_id, seq, sent_id) SELECT participant_id, seq, "
        "ROW_NUMBER() OVER (ORDER BY participant_id, seq) FROM outbox_format1;\n"
        "DROP TABLE outbox_format1;\n",
        "cannot convert the outbox of storage format 1");
}

/* Storage format 2 stored each text once in sent(id, event, data) and one
 * outbox(participant_id, seq, sent_id) row per recipient; converts it to
 * format 3 (see the top): a text's recipients become the bit set of their
 * places in the group, and the rows of a group are chained in id order.
 * Every text of format 2 went to players of one group and their sequence
 * numbers were 1, 2, 3 ... in text order, so the implicit numbering of
 * format 3 gives each event the number it had.  Runs inside store_open's
 * transaction.  0 or -1. */
static int migrate_format2(struct rt_store *st)
{
    int rc = has_column(st, "outbox", "sent_id");
    if (rc <= 0)
        return rc;              /* a new database, or format 3 already */
    return exec(st,
        "ALTER TABLE sent RENAME TO sent_format2;\n"
        "CREATE TABLE sent(" SENT_COLUMNS ");\n"
        "INSERT INTO sent(id, group_id, recipients, prev_id, event, data) "
        "SELECT s.id, r.group_id, r.recipients, "
        "COALESCE(LAG(s.id) OVER (PARTITION BY r.group_id ORDER BY s.id), 0), s.event, s.data "
        "FROM sent_format2 s JOIN (SELECT o.sent_id, MIN(p.group_id) AS group_id, "
        "SUM(1 << (p.id_in_group - 1)) AS recipients FROM outbox o "
        "JOIN participants p ON p.id = o.participant_id GROUP BY o.sent_id) r "
        "ON r.sent_id = s.id ORDER BY s.id;\n"
        "DROP TABLE sent_format2;\n"
        "DROP TABLE outbox;\n"
        "UPDATE meta SET value = '" STORE_FORMAT "' WHERE key = 'format';\n",
        "cannot convert the outbox of storage format 2");
}

static int prepare_all(struct rt_store *st)
{
    const struct lv_game *g = st->game;
    struct sb b = { 0 };
    int ok = 1;
#define PREP(field, sql) do { if (ok && !(st->field = prep(st, sql))) ok = 0; } while (0)
    PREP(begin, "BEGIN IMMEDIATE");
    PREP(commit, "COMMIT");
    PREP(rollback, "ROLLBACK");
    PREP(ins_session, "INSERT INTO sessions(id, code, created_ms, seed, rng_state) VALUES (?, ?, ?, ?, ?)");
    PREP(upd_session_rng, "UPDATE sessions SET rng_state = ? WHERE id = ?");
    PREP(ins_sent, "INSERT INTO sent(group_id, recipients, prev_id, event, data) "
                   "VALUES (?, ?, ?, ?, ?)");
    PREP(ins_message, "INSERT INTO messages(time_ms, participant_id, type, body, outcome, reason) "
                      "VALUES (?, ?, ?, ?, ?, ?)");
    PREP(set_timer, "INSERT OR REPLACE INTO timers(group_id, timer, due_ms) VALUES (?, ?, ?)");
    PREP(del_timer, "DELETE FROM timers WHERE group_id = ? AND timer = ?");
    PREP(set_row_id, "INSERT OR REPLACE INTO row_ids(group_id, tbl, next_id) VALUES (?, ?, ?)");
    PREP(replay_link, "SELECT prev_id, recipients FROM sent WHERE id = ?");
    PREP(replay_text, "SELECT event, data FROM sent WHERE id = ?");
    PREP(messages, MESSAGES_SQL);
    PREP(ins_draw, "INSERT INTO draws(session_id, n, group_id, participant_id, message_id, "
                   "lo, hi, value, time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    /* a draw's message as its row number in the session's message log (the
     * same order as store_messages) */
    PREP(draws, DRAWS_SQL);

    sb_add(&b, "INSERT INTO groups(id, session_id, gid");
    sb_colnames(&b, g->group_fields, g->n_group_fields);
    sb_add(&b, ") VALUES (?, ?, ?");
    sb_params(&b, g->n_group_fields);
    sb_add(&b, ")");
    PREP(ins_group, b.s);

    b.n = 0;
    sb_add(&b, "UPDATE groups SET gid = gid");
    sb_sets(&b, g->group_fields, g->n_group_fields, 1);
    sb_add(&b, " WHERE id = ?%d", g->n_group_fields + 1);
    PREP(upd_group, b.s);

    b.n = 0;
    sb_add(&b, "INSERT INTO participants(id, code, session_id, group_id, id_in_group, page_index");
    sb_colnames(&b, g->player_fields, g->n_player_fields);
    sb_add(&b, ") VALUES (?, ?, ?, ?, ?, ?");
    sb_params(&b, g->n_player_fields);
    sb_add(&b, ")");
    PREP(ins_participant, b.s);

    b.n = 0;
    sb_add(&b, "UPDATE participants SET page_index = ?1");
    sb_sets(&b, g->player_fields, g->n_player_fields, 2);
    sb_add(&b, " WHERE id = ?%d", g->n_player_fields + 2);
    PREP(upd_participant, b.s);

    st->tables = rt_xcalloc((size_t)g->n_tables, sizeof *st->tables);
    for (int t = 0; ok && t < g->n_tables; t++) {
        const struct lv_table *tab = &g->tables[t];
        b.n = 0;
        sb_add(&b, "INSERT OR REPLACE INTO ");
        sb_table(&b, tab);
        sb_add(&b, "(group_id, id");
        sb_colnames(&b, tab->fields, tab->n_fields);
        sb_add(&b, ") VALUES (?, ?");
        sb_params(&b, tab->n_fields);
        sb_add(&b, ")");
        PREP(tables[t].upsert, b.s);
        b.n = 0;
        sb_add(&b, "DELETE FROM ");
        sb_table(&b, tab);
        sb_add(&b, " WHERE group_id = ? AND id = ?");
        PREP(tables[t].del, b.s);
        b.n = 0;
        sb_add(&b, "SELECT group_id, id");
        sb_colnames(&b, tab->fields, tab->n_fields);
        sb_add(&b, " FROM ");
        sb_table(&b, tab);
        sb_add(&b, " ORDER BY group_id, id");
        PREP(tables[t].load, b.s);
    }
#undef PREP
    free(b.s);
    return ok ? 0 : -1;
}

/* See store.h. */
int store_open(struct rt_store **out, const struct lv_game *game, const char *path,
               char *err, size_t errsize)
{
    struct rt_store *st = rt_xcalloc(1, sizeof *st);
    st->game = game;
    st->lock_fd = -1;
    st->wal_fd = -1;
    *out = NULL;
    /* Before SQLite's first use: no allocation statistics (nothing reads
     * them, and keeping them takes a global mutex at every sqlite3_malloc
     * and sqlite3_free: ~1% of a message's CPU in perf).  A later call is a
     * harmless SQLITE_MISUSE. */
    static bool configured;
    if (!configured) {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        configured = true;
    }
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errsize, "cannot open database %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        store_close(st);
        return -1;
    }
    /* Two servers on one file would each trust their own memory: refuse the
     * second.  flock() locks are separate from SQLite's fcntl() locks; this
     * descriptor stays open until after sqlite3_close (closing a descriptor
     * of the file would drop SQLite's fcntl locks). */
    bool in_memory = strcmp(path, ":memory:") == 0;    /* `livec test`: private */
    if (!in_memory) {
        /* SQLite resolves symlinks and keeps its WAL beside the target */
        sqlite3_filename file = sqlite3_db_filename(st->db, "main");
        st->db_path = rt_xstrdup(file);
        st->wal_path = rt_xstrdup(sqlite3_filename_wal(file));
    }
    st->lock_fd = in_memory ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (!in_memory && (st->lock_fd < 0 || flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0)) {
        if (st->lock_fd >= 0 && errno == EWOULDBLOCK)
            snprintf(err, errsize, "the database %s is in use by another server", path);
        else
            snprintf(err, errsize, "cannot open database %s: %s", path, strerror(errno));
        store_close(st);
        return -1;
    }
    struct stat sb;
    if (!in_memory && fstat(st->lock_fd, &sb) == 0) {
        st->db_dev = sb.st_dev;
        st->db_ino = sb.st_ino;
    }
    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(st->db, 1);
    char *schema = game_schema(game);
    char fingerprint[32];
    snprintf(fingerprint, sizeof fingerprint, "%016" PRIx64, fnv1a(schema));
    if (check_foreign(st) < 0 ||
        exec(st, "PRAGMA journal_mode=WAL", "cannot use WAL") < 0 ||
        exec(st, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; "
                 "PRAGMA cache_size=-" RT_STR(STORE_CACHE_KIB), "cannot set pragmas") < 0 ||
        exec(st, "BEGIN IMMEDIATE", "cannot lock") < 0 ||
        migrate_format1(st) < 0 ||
        migrate_format2(st) < 0 ||
        exec(st, fixed_schema, "cannot create the schema") < 0 ||
        check_meta(st, fingerprint) < 0 ||
        exec(st, schema, "cannot create the game's tables") < 0 ||
        check_pages(st) < 0 ||
        exec(st, "COMMIT", "cannot create the schema") < 0 ||
        prepare_all(st) < 0) {
        snprintf(err, errsize, "database %s: %s", path, st->err);
        free(schema);
        store_close(st);
        return -1;
    }
    free(schema);
    *out = st;
    return 0;
}

/* See store.h. */
void store_close(struct rt_store *st)
{
    if (!st)
        return;
    if (st->db) {
        sqlite3_stmt *s;
        while ((s = sqlite3_next_stmt(st->db, NULL)) != NULL)
            sqlite3_finalize(s);
        sqlite3_close(st->db);
    }
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    if (st->wal_fd >= 0)
        close(st->wal_fd);
    free(st->wal_path);
    free(st->db_path);
    free(st->tables);
    free(st);
}

/* See store.h. */
sqlite3 *store_handle(struct rt_store *st)
{
    return st->db;
}

/* ---- transactions --------------------------------------------------------- */

int store_begin(struct rt_store *st)
{
    return run(st, st->begin, "cannot begin a transaction");
}

int store_commit(struct rt_store *st)
{
    return run(st, st->commit, "cannot commit");
}

/* See store.h.  Touches only wal_path and wal_fd, which nothing else uses
 * while the store is open, so it may run on another thread than the rest. */
int store_sync(struct rt_store *st, char *err, size_t errsize)
{
    if (!st->wal_path)
        return 0;
    if (st->wal_fd < 0) {
        /* SQLite created the WAL file when it opened the database; make its
         * directory entry durable once, then keep a descriptor to sync. */
        int fd = open(st->wal_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errsize, "cannot open %s: %s", st->wal_path, strerror(errno));
            return -1;
        }
        char *dir = rt_xstrdup(st->wal_path);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
        int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(dir);
        if (dfd < 0 || fsync(dfd) < 0) {
            snprintf(err, errsize, "cannot sync the directory of %s: %s", st->wal_path,
                     strerror(errno));
            if (dfd >= 0)
                close(dfd);
            close(fd);
            return -1;
        }
        close(dfd);
        st->wal_fd = fd;
    }
    if (fdatasync(st->wal_fd) < 0) {
        snprintf(err, errsize, "cannot sync %s: %s", st->wal_path, strerror(errno));
        return -1;
    }
    /* A database file moved or deleted while the server runs: what it
     * commits goes to a file nobody will open at this path again (SQLite
     * leaves a moved file's WAL unmerged), and a second server could start
     * there.  Checked here, off the game thread (a stat per batch there
     * cost ~5% of the counter row), before the batch is answered. */
    struct stat sb;
    if (st->db_path && (stat(st->db_path, &sb) != 0 ? errno == ENOENT
                                                     : sb.st_ino != st->db_ino ||
                                                       sb.st_dev != st->db_dev)) {
        snprintf(err, errsize, "the database file %s was moved or deleted while the server "
                 "ran; put it back before starting the server again", st->db_path);
        return -1;
    }
    return 0;
}

void store_rollback(struct rt_store *st)
{
    if (!sqlite3_get_autocommit(st->db)) {
        sqlite3_step(st->rollback);
        sqlite3_reset(st->rollback);
    }
}

/* ---- writing a job --------------------------------------------------------- */

static int write_group(struct rt_store *st, const struct rt_group *grp)
{
    const struct lv_game *g = st->game;
    bind_fields(st->upd_group, 1, g->group_fields, g->n_group_fields, grp->state);
    sqlite3_bind_int64(st->upd_group, g->n_group_fields + 1, grp->id);
    return run(st, st->upd_group, "cannot save a group");
}

static int write_participant(struct rt_store *st, const struct rt_participant *p)
{
    const struct lv_game *g = st->game;
    sqlite3_bind_int(st->upd_participant, 1, p->page_index);
    bind_fields(st->upd_participant, 2, g->player_fields, g->n_player_fields, p->state);
    sqlite3_bind_int64(st->upd_participant, g->n_player_fields + 2, p->id);
    return run(st, st->upd_participant, "cannot save a participant");
}

/* Writes the job's numbered events: one `sent` row per run of consecutive
 * events with the same text to distinct players of one group (what one
 * `send` numbered), chained to the group's previous row.  The group's
 * last_sent_id changes through the job's undo log, so that a batch rolled
 * back restores it with everything else.  0 or -1. */
static int write_events(struct rt_store *st, lv_ctx *ctx)
{
    for (size_t i = 0; i < ctx->events.n;) {
        const struct rt_event *e = rt_vec_at(&ctx->events, i);
        struct rt_group *grp = e->to->group;
        uint64_t recipients = 0;
        size_t j = i;
        for (; j < ctx->events.n; j++) {
            const struct rt_event *f = rt_vec_at(&ctx->events, j);
            uint64_t bit = UINT64_C(1) << (f->to->id_in_group - 1);
            if (f->text != e->text || f->event != e->event || f->to->group != grp ||
                (recipients & bit))
                break;
            recipients |= bit;
        }
        sqlite3_stmt *s = st->ins_sent;
        sqlite3_bind_int64(s, 1, grp->id);
        sqlite3_bind_int64(s, 2, (int64_t)recipients);
        sqlite3_bind_int64(s, 3, grp->last_sent_id);
        if (e->event)
            sqlite3_bind_text(s, 4, e->event, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, e->text->s, -1, SQLITE_STATIC);
        if (run(st, s, "cannot save an outgoing message") < 0)
            return -1;
        rt_ctx_save_bytes(ctx, &grp->last_sent_id, sizeof grp->last_sent_id);
        grp->last_sent_id = sqlite3_last_insert_rowid(st->db);
        i = j;
    }
    return 0;
}

static int write_row(struct rt_store *st, const struct rt_group *grp, int t, const struct rt_row *r)
{
    const struct lv_table *tab = &st->game->tables[t];
    sqlite3_stmt *s = r->alive ? st->tables[t].upsert : st->tables[t].del;
    sqlite3_bind_int64(s, 1, grp->id);
    sqlite3_bind_int64(s, 2, rt_row_id(tab, r));
    if (r->alive)
        bind_fields(s, 3, tab->fields, tab->n_fields, r->data);
    return run(st, s, "cannot save a table row");
}

static int write_timer(struct rt_store *st, const struct rt_group *grp, int t)
{
    sqlite3_stmt *s = grp->timer_due[t] ? st->set_timer : st->del_timer;
    sqlite3_bind_int64(s, 1, grp->id);
    sqlite3_bind_text(s, 2, st->game->timers[t].name, -1, SQLITE_STATIC);
    if (grp->timer_due[t])
        sqlite3_bind_int64(s, 3, grp->timer_due[t]);
    return run(st, s, "cannot save a timer");
}

static int write_row_id(struct rt_store *st, const struct rt_group *grp, int t)
{
    sqlite3_bind_int64(st->set_row_id, 1, grp->id);
    sqlite3_bind_text(st->set_row_id, 2, st->game->tables[t].name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->set_row_id, 3, grp->tables[t].next_id);
    return run(st, st->set_row_id, "cannot save a row id counter");
}

static int write_session_rng(struct rt_store *st, const struct rt_session *s)
{
    sqlite3_bind_int64(st->upd_session_rng, 1, (int64_t)s->rng);
    sqlite3_bind_int64(st->upd_session_rng, 2, s->id);
    return run(st, st->upd_session_rng, "cannot save a session");
}

/* Inserts a new session with its groups and participants as they are now. */
static int write_session_new(struct rt_store *st, const struct rt_session *s)
{
    const struct lv_game *g = st->game;
    sqlite3_bind_int64(st->ins_session, 1, s->id);
    sqlite3_bind_text(st->ins_session, 2, s->code, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->ins_session, 3, s->created_ms);
    sqlite3_bind_int64(st->ins_session, 4, (int64_t)s->seed);
    sqlite3_bind_int64(st->ins_session, 5, (int64_t)s->rng);
    if (run(st, st->ins_session, "cannot save a new session") < 0)
        return -1;
    for (int i = 0; i < s->n_groups; i++) {
        const struct rt_group *grp = s->groups[i];
        sqlite3_bind_int64(st->ins_group, 1, grp->id);
        sqlite3_bind_int64(st->ins_group, 2, s->id);
        sqlite3_bind_int(st->ins_group, 3, grp->gid);
        bind_fields(st->ins_group, 4, g->group_fields, g->n_group_fields, grp->state);
        if (run(st, st->ins_group, "cannot save a new group") < 0)
            return -1;
        for (int k = 0; k < g->players; k++) {
            const struct rt_participant *p = grp->players[k];
            sqlite3_stmt *q = st->ins_participant;
            sqlite3_bind_int64(q, 1, p->id);
            sqlite3_bind_text(q, 2, p->code, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 3, s->id);
            sqlite3_bind_int64(q, 4, grp->id);
            sqlite3_bind_int(q, 5, p->id_in_group);
            sqlite3_bind_int(q, 6, p->page_index);
            bind_fields(q, 7, g->player_fields, g->n_player_fields, p->state);
            if (run(st, q, "cannot save a new participant") < 0)
                return -1;
        }
    }
    return 0;
}

/* See store.h. */
int store_write_job(struct rt_store *st, lv_ctx *ctx)
{
    for (size_t i = 0; i < ctx->dirty.n; i++) {
        const struct rt_dirty *d = rt_vec_at(&ctx->dirty, i);
        int rc = 0;
        switch (d->kind) {
        case RT_DIRTY_GROUP:
            rc = write_group(st, d->obj);
            break;
        case RT_DIRTY_PLAYER:
            rc = write_participant(st, d->obj);
            break;
        case RT_DIRTY_ROW:
            rc = write_row(st, d->group, d->index, d->obj);
            break;
        case RT_DIRTY_TIMER:
            rc = write_timer(st, d->group, d->index);
            break;
        case RT_DIRTY_ROWID:
            rc = write_row_id(st, d->group, d->index);
            break;
        case RT_DIRTY_SESSION_RNG:
            rc = write_session_rng(st, d->obj);
            break;
        case RT_DIRTY_SESSION_NEW:
            rc = write_session_new(st, d->obj);
            break;
        }
        if (rc < 0)
            return -1;
    }
    if (write_events(st, ctx) < 0)
        return -1;
    int64_t message_id = 0;     /* the job's message-log row, if any */
    if (ctx->log_message) {
        sqlite3_stmt *s = st->ins_message;
        sqlite3_bind_int64(s, 1, ctx->now_ms);
        sqlite3_bind_int64(s, 2, ctx->log_pid);
        if (ctx->log_type)
            sqlite3_bind_text(s, 3, ctx->log_type, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, ctx->log_body ? ctx->log_body : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, ctx->log_accepted ? "accepted" : "rejected", -1, SQLITE_STATIC);
        if (!ctx->log_accepted)
            sqlite3_bind_text(s, 6, ctx->reason, -1, SQLITE_STATIC);
        if (run(st, s, "cannot log a message") < 0)
            return -1;
        message_id = sqlite3_last_insert_rowid(st->db);
    }
    for (size_t i = 0; i < ctx->draws.n; i++) {
        const struct rt_draw *d = rt_vec_at(&ctx->draws, i);
        sqlite3_stmt *s = st->ins_draw;
        sqlite3_bind_int64(s, 1, d->session_id);
        sqlite3_bind_int64(s, 2, d->n);
        sqlite3_bind_int64(s, 3, d->group_id);
        if (d->participant_id)
            sqlite3_bind_int64(s, 4, d->participant_id);
        if (message_id)
            sqlite3_bind_int64(s, 5, message_id);
        sqlite3_bind_int64(s, 6, d->lo);
        sqlite3_bind_int64(s, 7, d->hi);
        sqlite3_bind_int64(s, 8, d->value);
        sqlite3_bind_int64(s, 9, d->time_ms);
        if (run(st, s, "cannot record a random draw") < 0)
            return -1;
    }
    return 0;
}

/* ---- reading ------------------------------------------------------------------ */

/* See store.h. */
int store_replay(struct rt_store *st, const struct rt_participant *p, int64_t after, int64_t upto,
                 int (*fn)(void *arg, int64_t seq, const char *event, const char *data),
                 void *arg)
{
    if (after < 0)
        after = 0;
    if (upto > p->next_seq - 1)
        upto = p->next_seq - 1;
    if (upto <= after)
        return 0;
    /* walk the group's chain back from its newest row: ids[k] is the row of
     * event upto - k */
    size_t want = (size_t)(upto - after), n = 0;
    int64_t *ids = rt_xmalloc(want * sizeof *ids);
    uint64_t bit = UINT64_C(1) << (p->id_in_group - 1);
    int64_t seq = p->next_seq - 1, id = p->group->last_sent_id;
    sqlite3_stmt *s = st->replay_link;
    int rc = SQLITE_ROW;
    while (seq > after) {
        if (id <= 0) {          /* the chain ends before the wanted event */
            rc = SQLITE_DONE;
            break;
        }
        sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW)
            break;
        int64_t prev = sqlite3_column_int64(s, 0);
        if ((uint64_t)sqlite3_column_int64(s, 1) & bit) {
            if (seq <= upto)
                ids[n++] = id;
            seq--;
        }
        sqlite3_reset(s);
        id = prev;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        free(ids);
        if (rc != SQLITE_DONE)
            return fail(st, "cannot read the sent events");
        snprintf(st->err, sizeof st->err, "an event to replay is missing from the database");
        return -1;
    }
    s = st->replay_text;
    bool full = false;
    for (size_t k = n; k-- > 0 && !full;) {
        sqlite3_bind_int64(s, 1, ids[k]);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            full = fn(arg, upto - (int64_t)k, (const char *)sqlite3_column_text(s, 0),
                      (const char *)sqlite3_column_text(s, 1)) != 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) {
            free(ids);
            return fail(st, "cannot read the sent events");
        }
    }
    free(ids);
    return 0;
}

/* See store.h. */
/* Walks s (MESSAGES_SQL) for session_id: SQLITE_DONE or an error code. */
static int walk_messages(sqlite3_stmt *s, int64_t session_id, int64_t upto,
                         void (*fn)(void *arg, const struct store_message *m), void *arg)
{
    sqlite3_bind_int64(s, 1, session_id);
    sqlite3_bind_int64(s, 2, upto);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_message m = {
            .time_ms = sqlite3_column_int64(s, 0),
            .participant = (const char *)sqlite3_column_text(s, 1),
            .type = (const char *)sqlite3_column_text(s, 2),
            .body = (const char *)sqlite3_column_text(s, 3),
            .outcome = (const char *)sqlite3_column_text(s, 4),
            .reason = (const char *)sqlite3_column_text(s, 5),
            .group = sqlite3_column_int64(s, 6),
            .id_in_group = sqlite3_column_int64(s, 7),
        };
        fn(arg, &m);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

/* Walks s (DRAWS_SQL) for session_id: SQLITE_DONE or an error code. */
static int walk_draws(sqlite3_stmt *s, int64_t session_id, int64_t upto,
                      void (*fn)(void *arg, const struct store_draw *d), void *arg)
{
    sqlite3_bind_int64(s, 1, session_id);
    sqlite3_bind_int64(s, 2, upto);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_draw d = {
            .n = sqlite3_column_int64(s, 0),
            .group = sqlite3_column_int64(s, 1),
            .participant = (const char *)sqlite3_column_text(s, 2),
            .message = sqlite3_column_int64(s, 3),      /* NULL reads as 0 */
            .lo = sqlite3_column_int64(s, 4),
            .hi = sqlite3_column_int64(s, 5),
            .value = sqlite3_column_int64(s, 6),
            .time_ms = sqlite3_column_int64(s, 7),
        };
        fn(arg, &d);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

/* See store.h. */
int store_messages(struct rt_store *st, int64_t session_id,
                   void (*fn)(void *arg, const struct store_message *m), void *arg)
{
    return walk_messages(st->messages, session_id, INT64_MAX, fn, arg) == SQLITE_DONE
               ? 0 : fail(st, "cannot read the message log");
}

/* See store.h. */
int store_draws(struct rt_store *st, int64_t session_id,
                void (*fn)(void *arg, const struct store_draw *d), void *arg)
{
    return walk_draws(st->draws, session_id, INT64_MAX, fn, arg) == SQLITE_DONE
               ? 0 : fail(st, "cannot read the draws");
}

/* See store.h. */
const char *store_path(const struct rt_store *st)
{
    return st->db_path;
}

/* See store.h. */
int64_t store_log_end(struct rt_store *st, bool draws, int64_t session_id)
{
    sqlite3_stmt *s = NULL;
    int64_t end = INT64_MAX;    /* unknown: no bound */
    if (sqlite3_prepare_v2(st->db, draws ? "SELECT max(n) FROM draws WHERE session_id = ?"
                                         : "SELECT max(id) FROM messages", -1, &s, NULL) ==
        SQLITE_OK) {
        if (draws)
            sqlite3_bind_int64(s, 1, session_id);
        if (sqlite3_step(s) == SQLITE_ROW)
            end = sqlite3_column_type(s, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return end;
}

/* See store.h. */
int store_read_log(const char *path, bool draws, int64_t session_id, int64_t upto,
                   void (*msg_fn)(void *arg, const struct store_message *m),
                   void (*draw_fn)(void *arg, const struct store_draw *d), void *arg,
                   char *err, size_t errsize)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
        rc = sqlite3_prepare_v2(db, draws ? DRAWS_SQL : MESSAGES_SQL, -1, &s, NULL);
    }
    if (rc == SQLITE_OK)
        rc = draws ? walk_draws(s, session_id, upto, draw_fn, arg)
                   : walk_messages(s, session_id, upto, msg_fn, arg);
    if (rc != SQLITE_DONE)
        snprintf(err, errsize, "cannot read the %s: %s", draws ? "draws" : "message log",
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- loading -------------------------------------------------------------------- */

/* Groups by database id, for the loader's lookups (ids come sorted). */
struct group_index {
    struct rt_group **v;
    size_t n, cap;
};

static struct rt_group *find_group(const struct group_index *gi, int64_t id)
{
    size_t lo = 0, hi = gi->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (gi->v[mid]->id < id)
            lo = mid + 1;
        else if (gi->v[mid]->id > id)
            hi = mid;
        else
            return gi->v[mid];
    }
    return NULL;
}

static int load_error(struct rt_store *st, const char *what)
{
    snprintf(st->err, sizeof st->err, "the database is inconsistent: %s", what);
    return -1;
}

static int load_sessions(struct rt_store *st, struct rt_core *rt, struct rt_vec *sessions)
{
    sqlite3_stmt *s = prep(st, "SELECT id, code, created_ms, seed, rng_state, "
                               "(SELECT MAX(n) FROM draws WHERE session_id = sessions.id) "
                               "FROM sessions ORDER BY id");
    if (!s)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct rt_session *ses = rt_xcalloc(1, sizeof *ses);
        ses->id = sqlite3_column_int64(s, 0);
        snprintf(ses->code, sizeof ses->code, "%s", (const char *)sqlite3_column_text(s, 1));
        ses->created_ms = sqlite3_column_int64(s, 2);
        ses->seed = (uint64_t)sqlite3_column_int64(s, 3);
        ses->rng = (uint64_t)sqlite3_column_int64(s, 4);
        ses->n_draws = sqlite3_column_int64(s, 5);      /* NULL (no draws) reads as 0 */
        rt_vec_push(sessions, &ses);
        if (ses->id >= rt->next_session_id)
            rt->next_session_id = ses->id + 1;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : fail(st, "cannot read sessions");
}

static struct rt_session *find_session(struct rt_vec *sessions, int64_t id)
{
    size_t lo = 0, hi = sessions->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        struct rt_session *s = *(struct rt_session **)rt_vec_at(sessions, mid);
        if (s->id < id)
            lo = mid + 1;
        else if (s->id > id)
            hi = mid;
        else
            return s;
    }
    return NULL;
}

static int load_groups(struct rt_store *st, struct rt_core *rt, struct rt_vec *sessions,
                       struct group_index *gi)
{
    const struct lv_game *g = st->game;
    struct sb b = { 0 };
    sb_add(&b, "SELECT id, session_id, gid");
    sb_colnames(&b, g->group_fields, g->n_group_fields);
    sb_add(&b, " FROM groups ORDER BY id");
    sqlite3_stmt *s = prep(st, b.s);
    free(b.s);
    if (!s)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct rt_session *ses = find_session(sessions, sqlite3_column_int64(s, 1));
        if (!ses) {
            sqlite3_finalize(s);
            return load_error(st, "a group without its session");
        }
        struct rt_group *grp = rt_xcalloc(1, sizeof *grp);
        grp->id = sqlite3_column_int64(s, 0);
        grp->gid = sqlite3_column_int(s, 2);
        grp->session = ses;
        grp->state = rt_xcalloc(1, g->group_size);
        rt_strings_init(g->group_fields, g->n_group_fields, grp->state);
        grp->players = rt_xcalloc((size_t)g->players, sizeof *grp->players);
        grp->tables = rt_xcalloc((size_t)g->n_tables, sizeof *grp->tables);
        for (int t = 0; t < g->n_tables; t++)
            grp->tables[t].next_id = 1;
        grp->timer_due = rt_xcalloc((size_t)g->n_timers, sizeof *grp->timer_due);
        ses->groups = rt_xrealloc(ses->groups, (size_t)(ses->n_groups + 1) * sizeof *ses->groups);
        ses->groups[ses->n_groups++] = grp;
        if (gi->n == gi->cap) {
            gi->cap = gi->cap ? gi->cap * 2 : 64;
            gi->v = rt_xrealloc(gi->v, gi->cap * sizeof *gi->v);
        }
        gi->v[gi->n++] = grp;
        if (grp->id >= rt->next_group_id)
            rt->next_group_id = grp->id + 1;
        if (column_fields(s, 3, g->group_fields, g->n_group_fields, grp->state) < 0) {
            sqlite3_finalize(s);
            return load_error(st, "a malformed group field");
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : fail(st, "cannot read groups");
}

/* One pass over `sent` (see the top): counts each participant's events
 * (next_seq is one past the count) and finds each group's newest row.  Runs
 * once every group has all its players.  0 or -1. */
static int load_sent(struct rt_store *st, struct group_index *gi)
{
    sqlite3_stmt *s = prep(st, "SELECT id, group_id, recipients FROM sent ORDER BY id");
    if (!s)
        return -1;
    struct rt_group *grp = NULL;
    int players = st->game->players, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t gid = sqlite3_column_int64(s, 1);
        if (!grp || grp->id != gid)
            grp = find_group(gi, gid);
        uint64_t recipients = (uint64_t)sqlite3_column_int64(s, 2);
        if (!grp || recipients == 0 ||
            (players < 64 && (recipients >> players) != 0)) {
            sqlite3_finalize(s);
            return load_error(st, "a sent event without its recipients");
        }
        for (int k = 0; k < players; k++)
            if (recipients & (UINT64_C(1) << k))
                grp->players[k]->next_seq++;
        grp->last_sent_id = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : fail(st, "cannot read the sent events");
}

static int load_participants(struct rt_store *st, struct rt_core *rt, struct group_index *gi)
{
    const struct lv_game *g = st->game;
    struct sb b = { 0 };
    sb_add(&b, "SELECT id, code, group_id, id_in_group, page_index");
    sb_colnames(&b, g->player_fields, g->n_player_fields);
    sb_add(&b, " FROM participants ORDER BY id");
    sqlite3_stmt *s = prep(st, b.s);
    free(b.s);
    if (!s)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct rt_group *grp = find_group(gi, sqlite3_column_int64(s, 2));
        int k = sqlite3_column_int(s, 3);
        if (!grp || k < 1 || k > g->players || grp->players[k - 1]) {
            sqlite3_finalize(s);
            return load_error(st, "a participant without its place in a group");
        }
        struct rt_participant *p = rt_xcalloc(1, sizeof *p);
        p->id = sqlite3_column_int64(s, 0);
        snprintf(p->code, sizeof p->code, "%s", (const char *)sqlite3_column_text(s, 1));
        p->group = grp;
        p->id_in_group = k;
        p->page_index = sqlite3_column_int(s, 4);
        if (p->page_index < 0 || p->page_index > g->n_pages)
            p->page_index = g->n_pages;
        p->next_seq = 1;        /* counted by load_sent */
        p->state = rt_xcalloc(1, g->player_size);
        rt_strings_init(g->player_fields, g->n_player_fields, p->state);
        grp->players[k - 1] = p;
        if (p->id >= rt->next_participant_id)
            rt->next_participant_id = p->id + 1;
        if (column_fields(s, 5, g->player_fields, g->n_player_fields, p->state) < 0) {
            sqlite3_finalize(s);
            return load_error(st, "a malformed player field");
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : fail(st, "cannot read participants");
}

static int load_rows(struct rt_store *st, struct group_index *gi)
{
    const struct lv_game *g = st->game;
    for (int t = 0; t < g->n_tables; t++) {
        const struct lv_table *tab = &g->tables[t];
        sqlite3_stmt *s = st->tables[t].load;
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            struct rt_group *grp = find_group(gi, sqlite3_column_int64(s, 0));
            if (!grp) {
                sqlite3_reset(s);
                return load_error(st, "a table row without its group");
            }
            struct rt_row *r = rt_xcalloc(1, sizeof *r + tab->row_size);
            r->alive = true;
            rt_strings_init(tab->fields, tab->n_fields, r->data);
            int64_t id = sqlite3_column_int64(s, 1);
            memcpy(r->data + tab->id_offset, &id, sizeof id);
            int bad = column_fields(s, 2, tab->fields, tab->n_fields, r->data);
            rt_rows_add(&grp->tables[t], tab, r);
            if (id >= grp->tables[t].next_id)
                grp->tables[t].next_id = id + 1;
            if (bad < 0) {
                sqlite3_reset(s);
                return load_error(st, "a malformed table row");
            }
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return fail(st, "cannot read a table");
    }
    sqlite3_stmt *s = prep(st, "SELECT group_id, tbl, next_id FROM row_ids");
    if (!s)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct rt_group *grp = find_group(gi, sqlite3_column_int64(s, 0));
        const char *name = (const char *)sqlite3_column_text(s, 1);
        for (int t = 0; grp && name && t < g->n_tables; t++)
            if (strcmp(g->tables[t].name, name) == 0 &&
                sqlite3_column_int64(s, 2) > grp->tables[t].next_id)
                grp->tables[t].next_id = sqlite3_column_int64(s, 2);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : fail(st, "cannot read row ids");
}

static int load_timers(struct rt_store *st, struct group_index *gi)
{
    const struct lv_game *g = st->game;
    sqlite3_stmt *s = prep(st, "SELECT group_id, timer, due_ms FROM timers");
    if (!s)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct rt_group *grp = find_group(gi, sqlite3_column_int64(s, 0));
        const char *name = (const char *)sqlite3_column_text(s, 1);
        for (int t = 0; grp && name && t < g->n_timers; t++)
            if (strcmp(g->timers[t].name, name) == 0)
                grp->timer_due[t] = sqlite3_column_int64(s, 2);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : fail(st, "cannot read timers");
}

/* See store.h. */
int store_load(struct rt_store *st, struct rt_core *rt, char *err, size_t errsize)
{
    struct rt_vec sessions;
    struct group_index gi = { 0 };
    rt_vec_init(&sessions, sizeof(struct rt_session *));
    rt->next_session_id = rt->next_group_id = rt->next_participant_id = 1;
    int rc = load_sessions(st, rt, &sessions);
    if (rc == 0)
        rc = load_groups(st, rt, &sessions, &gi);
    if (rc == 0)
        rc = load_participants(st, rt, &gi);
    if (rc == 0)
        rc = load_rows(st, &gi);
    if (rc == 0)
        rc = load_timers(st, &gi);
    for (size_t i = 0; rc == 0 && i < gi.n; i++)
        for (int k = 0; k < st->game->players; k++)
            if (!gi.v[i]->players[k])
                rc = load_error(st, "a group with a missing participant");
    if (rc == 0)
        rc = load_sent(st, &gi);
    for (size_t i = 0; i < sessions.n; i++) {
        struct rt_session *s = *(struct rt_session **)rt_vec_at(&sessions, i);
        if (rc == 0)
            rt_session_link(rt, s);
        else
            rt_session_free(st->game, s);
    }
    rt_vec_free(&sessions);
    free(gi.v);
    if (rc < 0)
        snprintf(err, errsize, "%s", st->err);
    return rc;
}
