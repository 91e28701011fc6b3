/*
 * dashboard.h — the web dashboard's files, compiled into the executable.
 *
 * cmake/embed_web.cmake turns every file of web/ into one entry of dashboard_assets[]
 * (in the generated web_assets.c); dashboard.c serves them: GET / is index.html, and
 * GET /static/NAME is web/NAME. Nothing is read from disk at run time.
 */
#ifndef LIQUID_ORCHESTRATOR_DASHBOARD_H
#define LIQUID_ORCHESTRATOR_DASHBOARD_H

#include <stddef.h>

typedef struct dashboard_asset {
    const char *path;           /* "/index.html": the file's path under web/ */
    const char *content_type;
    const char *etag;           /* a quoted digest of the bytes, for If-None-Match */
    const unsigned char *data;  /* NUL-terminated; size excludes the NUL */
    size_t size;
} dashboard_asset;

extern const dashboard_asset dashboard_assets[];
extern const size_t dashboard_asset_count;

/* The asset at path ("/index.html"), or NULL. */
const dashboard_asset *dashboard_find(const char *path);

#endif
