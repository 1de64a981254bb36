#include "fw_image/gen/delta_par.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

struct task {
    void (*job)(void *);
    void *arg;
};

static void *run_task(void *t)
{
    struct task *k = t;
    k->job(k->arg);
    return NULL;
}

void delta_par_run(void (*job)(void *), void *args, size_t stride, size_t n)
{
    pthread_t th[DELTA_PAR_MAX];
    struct task task[DELTA_PAR_MAX];
    bool started[DELTA_PAR_MAX] = {false};
    for (size_t i = 0; i + 1 < n && i < DELTA_PAR_MAX; i++) {
        task[i] = (struct task){job, (char *)args + i * stride};
        started[i] = pthread_create(&th[i], NULL, run_task, &task[i]) == 0;
        if (!started[i])
            job(task[i].arg);
    }
    if (n > 0)
        job((char *)args + (n - 1) * stride);
    for (size_t i = 0; i + 1 < n && i < DELTA_PAR_MAX; i++)
        if (started[i])
            pthread_join(th[i], NULL);
}

size_t delta_par_width(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > DELTA_PAR_MAX ? DELTA_PAR_MAX : (size_t)n;
}
