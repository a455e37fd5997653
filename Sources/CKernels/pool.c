// A persistent thread pool: workers spin briefly on a job counter between calls (a forward pass
// issues ~60 matrix products back to back), then sleep on a condition variable.
#include "ckernels.h"
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ZK_MAX_THREADS 16

static struct {
    pthread_once_t once;
    int threads;                 // total, caller included
    int started;                 // workers running
    _Atomic unsigned long seq;   // job generation
    _Atomic int remaining;       // workers still busy with this generation
    _Atomic int busy;            // a dispatch is in progress
    _Atomic int sleepers;
    zk_part_fn fn;
    void *ctx;
    int parts;
    long spin_ns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pool = { .once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// The job generation each worker has seen at creation: a worker that starts running only after the
// dispatch that created it has bumped `seq` must still run that job.
static unsigned long start_seq[ZK_MAX_THREADS];

static void *worker_main(void *arg) {
    int index = (int)(intptr_t)arg;
    unsigned long seen = start_seq[index];
    for (;;) {
        unsigned long s;
        long start = 0;
        int spins = 0;
        while ((s = atomic_load_explicit(&pool.seq, memory_order_acquire)) == seen) {
            cpu_relax();
            if (++spins % 256 == 0) {
                long t = now_ns();
                if (start == 0) start = t;
                else if (t - start > pool.spin_ns) {
                    pthread_mutex_lock(&pool.mu);
                    atomic_fetch_add(&pool.sleepers, 1);
                    while (atomic_load(&pool.seq) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
                    atomic_fetch_sub(&pool.sleepers, 1);
                    pthread_mutex_unlock(&pool.mu);
                    start = 0;
                }
            }
        }
        seen = s;
        if (index < pool.parts) pool.fn(pool.ctx, index, pool.parts);
        atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_release);
    }
    return NULL;
}

extern void openblas_set_num_threads(int num_threads);

static void pool_init(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("ZK_THREADS");
    if (env && atoi(env) > 0) n = atoi(env);
    if (n < 1) n = 1;
    if (n > ZK_MAX_THREADS) n = ZK_MAX_THREADS;
    pool.threads = (int)n;
    const char *spin = getenv("ZK_SPIN_US");
    pool.spin_ns = (spin ? atol(spin) : 2000) * 1000L;
    // OpenBLAS runs single-threaded inside our pool threads: one set of threads, never two
    // sets spinning against each other on the same cores.
    openblas_set_num_threads(1);
    zk_detect_isa();
}

static void ensure_workers(int total) {
    // Called with pool.busy held.
    while (pool.started < total - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        start_seq[pool.started + 1] = atomic_load(&pool.seq);
        if (pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(pool.started + 1)) != 0) {
            pthread_attr_destroy(&attr);
            pool.threads = pool.started + 1;
            return;
        }
        pthread_attr_destroy(&attr);
        pool.started++;
    }
}

void zk_runtime_init(void) { pthread_once(&pool.once, pool_init); }

void zk_set_threads(int n) {
    zk_runtime_init();
    if (n < 1) n = 1;
    if (n > ZK_MAX_THREADS) n = ZK_MAX_THREADS;
    pool.threads = n;   // extra started workers stay idle (they only run parts < pool.parts)
}

int zk_threads(void) { zk_runtime_init(); return pool.threads; }

void zk_parallel(int parts, zk_part_fn fn, void *ctx) {
    zk_runtime_init();
    if (parts > pool.threads) parts = pool.threads;
    int expected = 0;
    if (parts <= 1 || !atomic_compare_exchange_strong(&pool.busy, &expected, 1)) {
        // One thread, or another dispatch is running (tests in parallel, nested use): run here.
        for (int p = 0; p < parts; p++) fn(ctx, p, parts);
        if (parts < 1) fn(ctx, 0, 1);
        return;
    }
    ensure_workers(pool.threads);
    if (parts > pool.started + 1) parts = pool.started + 1;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.parts = parts;
    atomic_store_explicit(&pool.remaining, pool.started, memory_order_relaxed);
    atomic_fetch_add(&pool.seq, 1);                     // seq_cst: pairs with the sleepers check
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
    fn(ctx, 0, parts);
    int spins = 0;
    while (atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0) {
        cpu_relax();
        if (++spins % 4096 == 0) sched_yield();        // a worker may have lost its core
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}

// ---- streaming-read bandwidth ----------------------------------------------------------------

typedef struct { const char *p; size_t bytes; double sink[ZK_MAX_THREADS]; } bw_ctx;

static void bw_part(void *c, int part, int parts) {
    bw_ctx *b = c;
    size_t per = (b->bytes / parts) & ~(size_t)255;
    const char *start = b->p + per * part;
    size_t n = part == parts - 1 ? b->bytes - per * part : per;
    b->sink[part] = zk_sum_bytes(start, n);
}

double zk_read_bandwidth(const void *p, size_t bytes, int reps, int threads) {
    zk_runtime_init();
    if (threads <= 0) threads = pool.threads;
    bw_ctx c = { .p = p, .bytes = bytes };
    double best = 0;
    for (int r = 0; r < reps; r++) {
        long t0 = now_ns();
        zk_parallel(threads, bw_part, &c);
        long t1 = now_ns();
        double bps = (double)bytes / ((double)(t1 - t0) * 1e-9);
        if (bps > best) best = bps;
    }
    return best;
}
