/*
 * executor.c — a fixed pool of threads taking jobs from one FIFO queue.
 */
#include "supervisor/executor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    executor_job_fn fn;
    void *arg;
    struct job *next;
} job;

struct executor {
    pthread_mutex_t lock;
    pthread_cond_t work;
    job *head, *tail;
    size_t pending;
    size_t max_pending;         /* 0: unbounded */
    bool stopping;
    pthread_t *threads;
    unsigned thread_count;
};

static void *worker_main(void *arg)
{
    executor *ex = arg;
    for (;;) {
        pthread_mutex_lock(&ex->lock);
        while (!ex->head && !ex->stopping)
            pthread_cond_wait(&ex->work, &ex->lock);
        job *j = ex->head;
        if (j) {
            ex->head = j->next;
            if (!ex->head)
                ex->tail = NULL;
            ex->pending--;
        }
        bool cancelled = ex->stopping;
        pthread_mutex_unlock(&ex->lock);
        if (!j)
            return NULL;
        j->fn(j->arg, cancelled);
        free(j);
    }
}

executor *executor_start(unsigned workers, size_t max_pending, char *err, size_t err_size)
{
    executor *ex = calloc(1, sizeof *ex);
    if (!ex || !(ex->threads = calloc(workers ? workers : 1, sizeof *ex->threads))) {
        free(ex);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ex->max_pending = max_pending;
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, NULL);
    for (unsigned i = 0; i < (workers ? workers : 1); i++) {
        if (pthread_create(&ex->threads[i], NULL, worker_main, ex) != 0) {
            snprintf(err, err_size, "cannot start worker thread %u of %u", i + 1, workers);
            executor_stop(ex);
            return NULL;
        }
        ex->thread_count++;
    }
    return ex;
}

executor_refusal executor_submit(executor *ex, executor_job_fn fn, void *arg)
{
    job *j = malloc(sizeof *j);
    if (!j)
        return EXECUTOR_NO_MEMORY;
    *j = (job){fn, arg, NULL};
    pthread_mutex_lock(&ex->lock);
    executor_refusal refusal = ex->stopping ? EXECUTOR_STOPPING
                               : ex->max_pending && ex->pending >= ex->max_pending
                                   ? EXECUTOR_FULL
                                   : EXECUTOR_ACCEPTED;
    if (refusal == EXECUTOR_ACCEPTED) {
        if (ex->tail)
            ex->tail->next = j;
        else
            ex->head = j;
        ex->tail = j;
        ex->pending++;
        pthread_cond_signal(&ex->work);
    }
    pthread_mutex_unlock(&ex->lock);
    if (refusal != EXECUTOR_ACCEPTED)
        free(j);
    return refusal;
}

size_t executor_pending(executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    size_t n = ex->pending;
    pthread_mutex_unlock(&ex->lock);
    return n;
}

void executor_stop(executor *ex)
{
    if (!ex)
        return;
    pthread_mutex_lock(&ex->lock);
    ex->stopping = true;
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    for (unsigned i = 0; i < ex->thread_count; i++)
        pthread_join(ex->threads[i], NULL);
    /* with no threads left (a failed start), cancel what is queued here */
    for (job *j = ex->head, *next; j; j = next) {
        next = j->next;
        j->fn(j->arg, true);
        free(j);
    }
    pthread_mutex_destroy(&ex->lock);
    pthread_cond_destroy(&ex->work);
    free(ex->threads);
    free(ex);
}
