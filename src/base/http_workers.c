/*
 * http_workers.c — the threads that run request handlers.
 *
 * A fixed number of workers start with the server. When requests wait in the queue
 * for GROW_AFTER_MS with no worker free, the workers are stuck (handlers blocked on
 * chained calls to other devices, say), and a watcher thread starts one more, up to
 * a ceiling: a chain that calls back into the same server would otherwise wait for a
 * worker that its own caller holds. A burst of quick requests never waits that long,
 * so it does not grow the pool. Extra threads stay until the server stops; an idle
 * thread costs a little address space and no CPU.
 */
#include "base/http_internal.h"

#include "base/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GROW_AFTER_MS 20

typedef struct job {
    struct job *next;
    http_request *req;
    double queued_at;
} job;

struct http_workers {
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    pthread_cond_t watch;       /* wakes the watcher: work queued with nobody idle */
    job *head, *tail;
    size_t queued;
    unsigned idle;
    unsigned started;
    unsigned max_threads;
    bool stopping;
    pthread_t *threads;
    pthread_t watcher;
    bool watcher_started;
};

static void *worker_main(void *arg)
{
    http_workers *workers = arg;
    pthread_mutex_lock(&workers->lock);
    for (;;) {
        while (!workers->head && !workers->stopping) {
            workers->idle++;
            pthread_cond_wait(&workers->work_ready, &workers->lock);
            workers->idle--;
        }
        if (!workers->head)
            break;   /* stopping and nothing left */
        job *next = workers->head;
        workers->head = next->next;
        if (!workers->head)
            workers->tail = NULL;
        workers->queued--;
        pthread_mutex_unlock(&workers->lock);
        http_server_run_request(next->req);
        free(next);
        pthread_mutex_lock(&workers->lock);
    }
    pthread_mutex_unlock(&workers->lock);
    return NULL;
}

/* Called with the lock held. */
static bool start_thread(http_workers *workers)
{
    if (workers->started == workers->max_threads)
        return false;
    /* The default stack: handlers may run WebAssembly calls, and only the pages a
     * thread touches cost memory. */
    if (pthread_create(&workers->threads[workers->started], NULL, worker_main, workers) != 0)
        return false;
    workers->started++;
    return true;
}

/* Condition variables wait on CLOCK_REALTIME: the instant `seconds` from now. */
static struct timespec deadline_in(double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    if (seconds < 0)
        seconds = 0;
    long long ns = t.tv_nsec + (long long)(seconds * 1e9);
    t.tv_sec += (time_t)(ns / 1000000000LL);
    t.tv_nsec = (long)(ns % 1000000000LL);
    return t;
}

static void *watcher_main(void *arg)
{
    http_workers *workers = arg;
    bool warned = false;
    pthread_mutex_lock(&workers->lock);
    while (!workers->stopping) {
        if (!workers->head) {
            warned = false;
            pthread_cond_wait(&workers->watch, &workers->lock);
            continue;
        }
        /* Work is waiting. Never sleep without a timeout here: a worker counted idle
         * may be one that was just woken for another job. */
        double waited = http_now_seconds() - workers->head->queued_at;
        double threshold = GROW_AFTER_MS / 1000.0;
        if (waited < threshold || workers->idle > 0) {
            struct timespec until = deadline_in(waited < threshold ? threshold - waited
                                                                   : threshold);
            pthread_cond_timedwait(&workers->watch, &workers->lock, &until);
            continue;
        }
        if (!start_thread(workers)) {
            if (!warned)
                log_warn("http.workers_exhausted", "threads=%u queued=%zu", workers->started,
                         workers->queued);
            warned = true;
            struct timespec until = deadline_in(10 * threshold);
            pthread_cond_timedwait(&workers->watch, &workers->lock, &until);
            continue;
        }
        log_debug("http.workers_grown", "threads=%u queued=%zu", workers->started,
                  workers->queued);
        /* Give the new thread a moment to take the job before judging again. */
        struct timespec until = deadline_in(threshold);
        pthread_cond_timedwait(&workers->watch, &workers->lock, &until);
    }
    pthread_mutex_unlock(&workers->lock);
    return NULL;
}

http_workers *http_workers_start(unsigned threads, unsigned max_threads, char *err,
                                 size_t err_size)
{
    if (threads == 0)
        threads = 1;
    if (max_threads < threads)
        max_threads = threads;
    http_workers *workers = calloc(1, sizeof *workers);
    pthread_t *ids = calloc(max_threads, sizeof *ids);
    if (!workers || !ids) {
        free(workers);
        free(ids);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&workers->lock, NULL);
    pthread_cond_init(&workers->work_ready, NULL);
    pthread_cond_init(&workers->watch, NULL);
    workers->threads = ids;
    workers->max_threads = max_threads;
    pthread_mutex_lock(&workers->lock);
    bool ok = true;
    for (unsigned i = 0; i < threads && ok; i++) {
        ok = start_thread(workers);
        if (!ok)
            snprintf(err, err_size, "cannot start worker thread %u of %u: %s", i + 1, threads,
                     strerror(errno));
    }
    if (ok && max_threads > threads) {
        ok = pthread_create(&workers->watcher, NULL, watcher_main, workers) == 0;
        workers->watcher_started = ok;
        if (!ok)
            snprintf(err, err_size, "cannot start the worker pool's watcher: %s",
                     strerror(errno));
    }
    pthread_mutex_unlock(&workers->lock);
    if (!ok) {
        http_workers_stop(workers);
        return NULL;
    }
    return workers;
}

void http_workers_submit(http_workers *workers, http_request *req)
{
    job *item = malloc(sizeof *item);
    if (!item) {
        /* Without memory for the queue entry, run it here: slower, never lost. */
        http_server_run_request(req);
        return;
    }
    item->next = NULL;
    item->req = req;
    item->queued_at = http_now_seconds();
    pthread_mutex_lock(&workers->lock);
    if (workers->tail)
        workers->tail->next = item;
    else
        workers->head = item;
    workers->tail = item;
    workers->queued++;
    pthread_cond_signal(&workers->work_ready);
    if (workers->queued > workers->idle)
        pthread_cond_signal(&workers->watch);
    pthread_mutex_unlock(&workers->lock);
}

void http_workers_stop(http_workers *workers)
{
    if (!workers)
        return;
    pthread_mutex_lock(&workers->lock);
    workers->stopping = true;
    pthread_cond_broadcast(&workers->work_ready);
    pthread_cond_broadcast(&workers->watch);
    pthread_mutex_unlock(&workers->lock);
    if (workers->watcher_started)
        pthread_join(workers->watcher, NULL);
    /* The watcher is gone: no thread starts after this count is read. */
    pthread_mutex_lock(&workers->lock);
    unsigned started = workers->started;
    pthread_mutex_unlock(&workers->lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(workers->threads[i], NULL);
    pthread_mutex_destroy(&workers->lock);
    pthread_cond_destroy(&workers->work_ready);
    pthread_cond_destroy(&workers->watch);
    free(workers->threads);
    free(workers);
}
