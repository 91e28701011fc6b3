/*
 * http_stream.c — long-lived responses (server-sent events).
 *
 * libmicrohttpd pulls a stream's bytes through a content-reader callback on its own
 * thread. When the service has nothing to send yet, returning 0 would make the
 * daemon spin, so the connection is suspended instead and parked here; a waker
 * thread resumes parked streams every PAUSE_MS so they can look again. A silent
 * event stream gets a comment line every HEARTBEAT_SECONDS: that is how a departed
 * client is noticed (the write fails) and how proxies keep the connection open.
 */
#include "base/http_internal.h"

#include "base/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PAUSE_MS 25
#define HEARTBEAT_SECONDS 10.0

typedef struct stream {
    struct stream *next_parked;
    http_streams *streams;
    struct MHD_Connection *connection;
    http_stream_next_fn next;
    http_stream_done_fn done;
    void *state;
    bool event_stream;
    bool parked;        /* suspended, in the parked list */
    bool waking;        /* resumed, the daemon has not called back yet */
    double last_write;
} stream;

struct http_streams {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t waker;
    bool waker_started;
    bool stopping;
    bool quit;
    stream *parked;
    size_t waking;      /* resumed streams the daemon has not called back yet */
};

static void *waker_main(void *arg)
{
    http_streams *streams = arg;
    pthread_mutex_lock(&streams->lock);
    while (!streams->quit) {
        if (!streams->parked) {
            pthread_cond_wait(&streams->changed, &streams->lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += PAUSE_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!streams->quit && !streams->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&streams->changed, &streams->lock, &until);
        for (stream *s = streams->parked; s; s = s->next_parked) {
            s->parked = false;
            s->waking = true;
            streams->waking++;
            MHD_resume_connection(s->connection);
        }
        streams->parked = NULL;
        pthread_cond_broadcast(&streams->changed);
    }
    pthread_mutex_unlock(&streams->lock);
    return NULL;
}

http_streams *http_streams_start(char *err, size_t err_size)
{
    http_streams *streams = calloc(1, sizeof *streams);
    if (!streams) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&streams->lock, NULL);
    pthread_cond_init(&streams->changed, NULL);
    if (pthread_create(&streams->waker, NULL, waker_main, streams) != 0) {
        snprintf(err, err_size, "cannot start the stream thread: %s", strerror(errno));
        http_streams_free(streams);
        return NULL;
    }
    streams->waker_started = true;
    return streams;
}

/* Called with the lock held, on the daemon thread, when the daemon is back with s. */
static void arrived(http_streams *streams, stream *s)
{
    if (s->waking) {
        s->waking = false;
        streams->waking--;
        pthread_cond_broadcast(&streams->changed);
    }
}

static double now_seconds(void)
{
    return http_now_seconds();
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    http_streams *streams = s->streams;
    pthread_mutex_lock(&streams->lock);
    arrived(streams, s);
    bool stopping = streams->stopping;
    pthread_mutex_unlock(&streams->lock);
    if (stopping)
        return MHD_CONTENT_READER_END_OF_STREAM;

    long n = s->next(s->state, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n > 0) {
        s->last_write = now_seconds();
        return (ssize_t)(n > (long)max ? (long)max : n);
    }
    if (s->event_stream && now_seconds() - s->last_write >= HEARTBEAT_SECONDS && max >= 2) {
        s->last_write = now_seconds();
        memcpy(buf, ":\n\n", max >= 3 ? 3 : 2);
        return max >= 3 ? 3 : 2;
    }
    /* Nothing yet: park until the waker resumes us. */
    pthread_mutex_lock(&streams->lock);
    if (streams->stopping) {
        pthread_mutex_unlock(&streams->lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    MHD_suspend_connection(s->connection);
    s->parked = true;
    s->next_parked = streams->parked;
    streams->parked = s;
    pthread_cond_broadcast(&streams->changed);
    pthread_mutex_unlock(&streams->lock);
    return 0;
}

static void free_stream(void *cls)
{
    stream *s = cls;
    http_streams *streams = s->streams;
    pthread_mutex_lock(&streams->lock);
    arrived(streams, s);
    pthread_mutex_unlock(&streams->lock);
    if (s->done)
        s->done(s->state);
    free(s);
}

struct MHD_Response *http_stream_response(http_server *server, http_request *req,
                                          const char *content_type, http_stream_next_fn next,
                                          http_stream_done_fn done, void *state)
{
    if (!next)
        return NULL;
    stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    *s = (stream){
        .streams = server->streams,
        .connection = req->connection,
        .next = next,
        .done = done,
        .state = state,
        .event_stream = !content_type || !strncasecmp(content_type, "text/event-stream", 17),
        .last_write = now_seconds(),
    };
    struct MHD_Response *response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, s, free_stream);
    if (!response)
        free(s);
    return response;
}

void http_streams_shutdown(http_streams *streams)
{
    pthread_mutex_lock(&streams->lock);
    streams->stopping = true;
    pthread_cond_broadcast(&streams->changed);
    /* The waker resumes every parked stream at once when it sees stopping; the daemon
     * must have taken each back before it may be stopped. */
    while (streams->parked || streams->waking > 0)
        pthread_cond_wait(&streams->changed, &streams->lock);
    pthread_mutex_unlock(&streams->lock);
}

void http_streams_free(http_streams *streams)
{
    if (!streams)
        return;
    if (streams->waker_started) {
        pthread_mutex_lock(&streams->lock);
        streams->quit = true;
        pthread_cond_broadcast(&streams->changed);
        pthread_mutex_unlock(&streams->lock);
        pthread_join(streams->waker, NULL);
    }
    pthread_mutex_destroy(&streams->lock);
    pthread_cond_destroy(&streams->changed);
    free(streams);
}
