/*
 * main.c -- lv_main(): the game server's command line and life cycle
 * (PROTOCOL.md "Command line").
 *
 *   ./GAME [--host ADDR] [--port N] [--db PATH] [--admin-password PW] [--help]
 *
 * Environment LIVE_HOST, LIVE_PORT, LIVE_DB, LIVE_ADMIN_PASSWORD (and, for the
 * limits of admission.h, LIVE_RATE, LIVE_MAX_PER_IP, LIVE_TIMEOUT) give the
 * same settings; flags win.  Start-up: raise RLIMIT_NOFILE, open and load the
 * database, start the network side, create a demo session if the database
 * has none, start the game thread, print `listening on http://HOST:PORT/`.
 * SIGINT/SIGTERM/SIGHUP are taken synchronously by the main thread (sigwait; every
 * other thread is created with them blocked): stop accepting, let the game
 * thread finish the queued jobs and commit, stop the network side, close the
 * database, exit 0.  Every start-up failure is one line on stderr and exit
 * status 2.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "ctx.h"
#include "faults.h"
#include "admission.h"

/* Exit status for usage, database and port problems (PROTOCOL.md). */
#define EXIT_USAGE 2
/* Longest --db path we build ourselves (GAME.sqlite3). */
#define DEFAULT_DB_MAX 512

struct options {
    const char *host;
    const char *port;
    const char *db;
    const char *password;
    const char *rate;           /* issue 5: admission.h */
    const char *max_per_ip;
    const char *timeout;
};

static void usage(FILE *out, const char *game)
{
    fprintf(out,
            "usage: %s [--host ADDR] [--port N] [--db PATH] [--admin-password PW]\n"
            "          [--rate N] [--max-per-ip N] [--timeout S]\n"
            "  --host ADDR            address to listen on (LIVE_HOST, default 127.0.0.1)\n"
            "  --port N               port, 0 for any free one (LIVE_PORT, default 8000)\n"
            "  --db PATH              SQLite database (LIVE_DB, default ./%s.sqlite3)\n"
            "  --admin-password PW    admin password (LIVE_ADMIN_PASSWORD, default: generated)\n"
            "  --rate N[/s|/min]      messages per participant per second (or minute) before\n"
            "                         429 Too Many Requests; 0 or off: no limit (nor on\n"
            "                         message bytes: 32 KiB/s, bursts of 2 MiB, and stream\n"
            "                         opens: 5/s, bursts of 120)\n"
            "                         (LIVE_RATE, default %g/s, bursts of ten times that)\n"
            "  --max-per-ip N         simultaneous connections from one IP address, 0: no cap\n"
            "                         (LIVE_MAX_PER_IP, default %d)\n"
            "  --timeout S            seconds a connection may stay silent, and to send a\n"
            "                         whole request (LIVE_TIMEOUT, default %d)\n"
            "  -h, --help             print this help\n"
            "Every option may also be written --option=VALUE; options win over the\n"
            "environment variables.\n",
            game, game, LIMITS_DEFAULT_RATE, LIMITS_DEFAULT_PER_IP, LIMITS_DEFAULT_TIMEOUT_S);
}

/* Parses argv into o: 0, 1 for --help, or -1 after one line on stderr. */
static int parse_args(const char *game, int argc, char **argv, struct options *o)
{
    static const char *const names[] = { "--host", "--port", "--db", "--admin-password",
                                         "--rate", "--max-per-ip", "--timeout" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        const char **slot[] = { &o->host, &o->port, &o->db, &o->password,
                                &o->rate, &o->max_per_ip, &o->timeout };
        bool matched = false;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && !matched; k++) {
            size_t len = strlen(names[k]);
            if (strncmp(a, names[k], len) != 0)
                continue;
            if (a[len] == '=') {
                *slot[k] = a + len + 1;
                matched = true;
            } else if (a[len] == '\0') {
                if (i + 1 >= argc) {
                    fprintf(stderr, "%s: option '%s' needs a value (see --help)\n", game, a);
                    return -1;
                }
                *slot[k] = argv[++i];
                matched = true;
            }
        }
        if (!matched) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", game, a);
            return -1;
        }
    }
    return 0;
}

/* Reads a port number 0..65535: 0 or -1. */
static int parse_port(const char *s, int *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* Reads a whole number 0..max into *out: 0 or -1. */
static int parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || (unsigned long)v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Sets the network limits (admission.h) from o; -1 after one line on stderr. */
static int set_limits(const char *game, const struct options *o)
{
    struct limits_config lim = *limits_get();
    if (o->rate && *o->rate && limits_parse_rate(o->rate, &lim.rate) < 0) {
        fprintf(stderr, "%s: bad rate '%s': give N, N/s or N/min (0 or off: no limit)\n",
                game, o->rate);
        return -1;
    }
    if (o->max_per_ip && *o->max_per_ip && parse_uint(o->max_per_ip, 1000000, &lim.max_per_ip) < 0) {
        fprintf(stderr, "%s: bad --max-per-ip '%s': give a number of connections (0: no cap)\n",
                game, o->max_per_ip);
        return -1;
    }
    if (o->timeout && *o->timeout &&
        (parse_uint(o->timeout, 86400, &lim.timeout_s) < 0 || lim.timeout_s < 1)) {
        fprintf(stderr, "%s: bad --timeout '%s': give a number of seconds from 1 to 86400\n",
                game, o->timeout);
        return -1;
    }
    limits_set(&lim);
    return 0;
}

/* Raises the open file limit to its hard maximum (every SSE stream is a
 * socket). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Most participant links printed again at a restart (a session the admin
 * made with hundreds has its links on the admin page). */
#define RESTART_LINKS_MAX 16

static void print_demo(const char *game, const char *base, const char *reply)
{
    json_t *v = json_loads(reply ? reply : "", 0, NULL);
    json_t *ps = json_object_get(v, "participants");
    size_t i;
    json_t *p;
    json_array_foreach(ps, i, p) {
        printf("player %zu: %s%s\n", i + 1, base,
               json_string_value(json_object_get(p, "url")) + 1);  /* url starts with '/' */
    }
    if (!json_is_array(ps))
        fprintf(stderr, "%s: could not create the demo session: %s\n", game, reply ? reply : "");
    json_decref(v);
}

int lv_main(const struct lv_game *game, int argc, char **argv)
{
    struct options o = { getenv("LIVE_HOST"), getenv("LIVE_PORT"), getenv("LIVE_DB"),
                         getenv("LIVE_ADMIN_PASSWORD"), getenv("LIVE_RATE"),
                         getenv("LIVE_MAX_PER_IP"), getenv("LIVE_TIMEOUT") };
    int rc = parse_args(game->name, argc, argv, &o);
    if (rc > 0) {
        usage(stdout, game->name);
        return 0;
    }
    if (rc < 0)
        return EXIT_USAGE;
    if (!o.host || !*o.host)
        o.host = "127.0.0.1";
    int port = 8000;
    if (o.port && *o.port && parse_port(o.port, &port) < 0) {
        fprintf(stderr, "%s: bad port '%s': give a number from 0 to 65535\n", game->name, o.port);
        return EXIT_USAGE;
    }
    if (set_limits(game->name, &o) < 0)
        return EXIT_USAGE;
    char default_db[DEFAULT_DB_MAX];
    if (!o.db || !*o.db) {
        snprintf(default_db, sizeof default_db, "./%s.sqlite3", game->name);
        o.db = default_db;
    }
    /* SQLite would take ":memory:" and "file:" URIs (nothing durable), and
     * open a device (writing a journal beside /dev/null) */
    struct stat sb;
    if (strcmp(o.db, ":memory:") == 0 || strncmp(o.db, "file:", 5) == 0) {
        fprintf(stderr, "%s: --db '%s': give the path of a database file\n", game->name, o.db);
        return EXIT_USAGE;
    }
    if (stat(o.db, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "%s: --db %s: %s\n", game->name, o.db,
                S_ISDIR(sb.st_mode) ? "is a directory; give the path of a database file in it"
                                    : "is not a regular file");
        return EXIT_USAGE;
    }
    char generated[RT_CODE_LEN + 1];
    bool password_generated = false;
    if (!o.password || !*o.password) {
        rt_random_code(generated);
        o.password = generated;
        password_generated = true;
    }

    /* SIGINT/SIGTERM/SIGHUP go to sigwait below; block them before any thread starts */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    struct sigaction hup;
    if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN)
        sigaddset(&sigs, SIGHUP);   /* the terminal closed: stop as cleanly (not under nohup) */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    char err[RT_REASON_MAX + 600];
    if (rt_faults_init(game->name) < 0)     /* test hook: LIVE_TEST_FAULTS */
        return EXIT_USAGE;
    /* the port first: a port in use must leave no database behind */
    struct net_config cfg = { .game = game, .host = o.host, .port = port,
                              .admin_password = o.password };
    if (net_listen(&cfg) < 0)
        return EXIT_USAGE;
    if (rt_open(game, o.db, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", game->name, err);
        return EXIT_USAGE;
    }
    int bound = net_start(&cfg);
    if (bound < 0) {
        rt_close();
        return EXIT_USAGE;
    }
    char base[300];
    snprintf(base, sizeof base, strchr(o.host, ':') ? "http://[%s]:%d/" : "http://%s:%d/",
             o.host, bound);
    /* Listening on every interface (0.0.0.0, ::): links with that address
     * open nowhere, so the demo links and the hint name this machine. */
    char shown[300 + 256];
    char host[256] = "";
    bool any = strcmp(o.host, "0.0.0.0") == 0 || strcmp(o.host, "::") == 0;
    if (any && (gethostname(host, sizeof host - 1) != 0 || !host[0]))
        any = false;
    if (any)
        snprintf(shown, sizeof shown, "http://%s:%d/", host, bound);
    else
        snprintf(shown, sizeof shown, "%s", base);

    /* the game thread is not running yet: jobs that arrive now wait */
    bool demo = rt_core->n_sessions == 0;
    char *demo_reply = NULL;
    if (demo) {
        struct rt_job job = { .kind = RT_JOB_CREATE_SESSION };
        job.body = json_pack("{s:i}", "participants", game->players);
        rt_run_job_sync(&job);
        demo_reply = job.reply;
    }
    /* A restart: the links of the demo session again when it is the only
     * one and open, else where to find them.  Decided before the game
     * thread runs, which may add sessions; a session's groups and codes
     * never change once made, so they are read afterwards. */
    int n_sessions = rt_core->n_sessions;
    const struct rt_session *again = NULL;
    if (!demo && n_sessions == 1 && !rt_core->sessions->closed &&
        rt_core->sessions->n_groups * game->players <= RESTART_LINKS_MAX)
        again = rt_core->sessions;
    if (rt_start() < 0) {
        net_stop();
        rt_close();
        free(demo_reply);
        return EXIT_USAGE;
    }
    if (password_generated)
        printf("admin password: %s\n", o.password);
    printf("listening on %s\n", base);
    if (any)
        printf("(every interface: from other machines %s, or this machine's address)\n", shown);
    if (demo) {
        print_demo(game->name, shown, demo_reply);
    } else if (again) {
        int k = 0;
        for (int i = 0; i < again->n_groups; i++)
            for (int j = 0; j < game->players; j++)
                printf("player %d: %sp/%s\n", ++k, shown, again->groups[i]->players[j]->code);
    } else {
        printf("sessions: %d (their links are on the admin page)\n", n_sessions);
    }
    printf("admin: %sadmin\n", shown);
    free(demo_reply);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    net_quiesce();
    rt_stop();
    net_stop();
    rt_close();
    return 0;
}
