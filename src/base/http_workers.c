/*
 * http_workers.c — the threads that run request handlers.
 *
 * A fixed number of workers start with the server. When a request arrives and every
 * worker is busy (handlers blocked on chained calls to other devices, say), one more
 * thread is started, up to a ceiling: a chain that calls back into the same server
 * would otherwise wait for a worker that its own caller holds. Extra threads stay
 * until the server stops; an idle thread costs a little address space and no CPU.
 */
#include "base/http_internal.h"

#include "base/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    struct job *next;
    http_request *req;
} job;

struct http_workers {
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    job *head, *tail;
    size_t queued;
    unsigned idle;
    unsigned started;
    unsigned max_threads;
    bool stopping;
    pthread_t *threads;
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
    workers->threads = ids;
    workers->max_threads = max_threads;
    pthread_mutex_lock(&workers->lock);
    for (unsigned i = 0; i < threads; i++) {
        if (!start_thread(workers)) {
            pthread_mutex_unlock(&workers->lock);
            snprintf(err, err_size, "cannot start worker thread %u of %u: %s", i + 1, threads,
                     strerror(errno));
            http_workers_stop(workers);
            return NULL;
        }
    }
    pthread_mutex_unlock(&workers->lock);
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
    pthread_mutex_lock(&workers->lock);
    if (workers->tail)
        workers->tail->next = item;
    else
        workers->head = item;
    workers->tail = item;
    workers->queued++;
    if (workers->queued > workers->idle && !start_thread(workers) &&
        workers->started == workers->max_threads && workers->idle == 0)
        log_debug("http.workers_busy", "threads=%u queued=%zu", workers->started,
                  workers->queued);
    pthread_cond_signal(&workers->work_ready);
    pthread_mutex_unlock(&workers->lock);
}

void http_workers_stop(http_workers *workers)
{
    if (!workers)
        return;
    pthread_mutex_lock(&workers->lock);
    workers->stopping = true;
    pthread_cond_broadcast(&workers->work_ready);
    unsigned started = workers->started;
    pthread_mutex_unlock(&workers->lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(workers->threads[i], NULL);
    pthread_mutex_destroy(&workers->lock);
    pthread_cond_destroy(&workers->work_ready);
    free(workers->threads);
    free(workers);
}
