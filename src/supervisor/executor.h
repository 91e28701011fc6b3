/*
 * executor.h — the worker pool that runs calls answered at once (POST), so a slow
 * function never holds an HTTP connection and different modules run in parallel.
 * (A GET runs on the HTTP worker that received it: its client waits anyway.)
 */
#ifndef LIQUID_SUPERVISOR_EXECUTOR_H
#define LIQUID_SUPERVISOR_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct executor executor;

/* A job runs once: cancelled is true when the pool stopped before it could start,
 * so the job can record why it never ran. */
typedef void (*executor_job_fn)(void *arg, bool cancelled);

/* max_pending bounds the queue (0: unbounded), so a flood of calls is refused rather
 * than held in memory. */
executor *executor_start(unsigned workers, size_t max_pending, char *err, size_t err_size);

typedef enum executor_refusal {
    EXECUTOR_ACCEPTED = 0,
    EXECUTOR_STOPPING,
    EXECUTOR_FULL,
    EXECUTOR_NO_MEMORY,
} executor_refusal;

/* Anything but EXECUTOR_ACCEPTED: the job was not queued and the caller still owns arg. */
executor_refusal executor_submit(executor *ex, executor_job_fn fn, void *arg);
/* Jobs waiting (not yet started). */
size_t executor_pending(executor *ex);
/* Refuses new jobs, cancels those not started, waits for those running, frees. */
void executor_stop(executor *ex);

#endif
