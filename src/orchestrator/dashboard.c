/*
 * dashboard.c — serves the web dashboard (web/, embedded at build time) at `/`.
 *
 * GET / and GET /index.html answer the page; GET /static/NAME answers web/NAME. Every
 * answer has an ETag (a digest of its bytes) and `Cache-Control: no-cache`, so a
 * browser revalidates with If-None-Match and gets a 304 without the body until the
 * orchestrator is upgraded with a different dashboard. The page may load only its own
 * files (a Content-Security-Policy of 'self'): it works offline and no third party
 * sees an operator's fleet.
 */
#include "orchestrator/dashboard.h"
#include "orchestrator/orchestrator.h"

#include <stdio.h>
#include <string.h>

#define PAGE "/index.html"

static const char CONTENT_SECURITY_POLICY[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

const dashboard_asset *dashboard_find(const char *path)
{
    for (size_t i = 0; i < dashboard_asset_count; i++)
        if (!strcmp(dashboard_assets[i].path, path))
            return &dashboard_assets[i];
    return NULL;
}

/* Whether an If-None-Match header (a list of quoted tags, or *) names this tag. */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return false;
    if (!strcmp(if_none_match, "*"))
        return true;
    size_t len = strlen(etag);
    for (const char *p = strstr(if_none_match, etag); p; p = strstr(p + 1, etag)) {
        char after = p[len];
        if (after == '\0' || after == ',' || after == ' ')
            return true;
    }
    return false;
}

static void serve(http_request *req, const dashboard_asset *asset)
{
    http_response_header(req, "ETag", asset->etag);
    http_response_header(req, "Cache-Control", "no-cache");
    http_response_header(req, "X-Content-Type-Options", "nosniff");
    http_response_header(req, "Referrer-Policy", "no-referrer");
    if (!strncmp(asset->content_type, "text/html", 9))
        http_response_header(req, "Content-Security-Policy", CONTENT_SECURITY_POLICY);
    if (etag_matches(http_request_header(req, "If-None-Match"), asset->etag)) {
        http_respond_bytes(req, 304, NULL, "", 0);
        return;
    }
    http_respond_bytes(req, 200, asset->content_type, asset->data, asset->size);
}

static void handle_page(http_request *req, void *user)
{
    (void)user;
    const dashboard_asset *page = dashboard_find(PAGE);
    if (!page) {
        http_respond_error(req, 500, "this liquid was built without its dashboard (web/index.html)");
        return;
    }
    serve(req, page);
}

static void handle_static(http_request *req, void *user)
{
    (void)user;
    const char *name = http_request_param(req, "file");
    char path[512];
    snprintf(path, sizeof path, "/%s", name ? name : "");
    const dashboard_asset *asset = name && !strchr(name, '/') ? dashboard_find(path) : NULL;
    if (!asset) {
        http_respond_error(req, 404, "the dashboard has no file '%s'", name ? name : "");
        return;
    }
    serve(req, asset);
}

const http_route dashboard_routes[] = {
    {"GET", "/", handle_page},
    {"GET", "/index.html", handle_page},
    {"GET", "/static/{file}", handle_static},
};
const size_t dashboard_route_count = sizeof dashboard_routes / sizeof dashboard_routes[0];
