/*
 * assets.h -- the files of web/, embedded at build time by tools/embed into
 * runtime/web_assets.c.  The runtime serves only these (no file system
 * access, so no path traversal).
 */
#ifndef LIVE_ASSETS_H
#define LIVE_ASSETS_H

#include <stddef.h>

struct lv_asset {
    const char *name;           /* base name: "live.js", "admin.html" */
    const char *mime;           /* Content-Type */
    const unsigned char *data;  /* NUL-terminated for convenience */
    size_t len;                 /* without the NUL */
};

/* Terminated by an entry whose name is NULL. */
extern const struct lv_asset lv_assets[];

#endif /* LIVE_ASSETS_H */
