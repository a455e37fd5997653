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

// Work is handed out in chunks claimed from one atomic word, (generation, chunks, next index), so a
// thread that the OS has descheduled never holds up a call: whoever is running takes the remaining
// chunks. The caller only waits for chunks already started by another thread.
static inline uint64_t claim_word(uint32_t gen, int chunks, int next) {
    return ((uint64_t)gen << 32) | ((uint64_t)(uint16_t)chunks << 16) | (uint16_t)next;
}

static struct {
    pthread_once_t once;
    int threads;                  // total, caller included
    int started;                  // workers running
    _Atomic unsigned long seq;    // bumped per dispatch: wakes the workers
    _Atomic uint64_t claim;       // see claim_word
    _Atomic int done;             // chunks finished in the current generation
    _Atomic int busy;             // a dispatch is in progress
    _Atomic int sleepers;
    _Atomic(zk_part_fn) fn;
    _Atomic(void *) ctx;
    uint32_t gen;
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

// Claims and runs chunks of generation `gen` until none is left. fn and ctx were read before the
// first claim: a successful claim proves the generation was still open, so they belong to it.
static void run_chunks(uint32_t gen, zk_part_fn fn, void *ctx) {
    uint64_t c = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(c >> 32) != gen) return;
        int chunks = (int)((c >> 16) & 0xffff), next = (int)(c & 0xffff);
        if (next >= chunks) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.claim, &c, c + 1, memory_order_acq_rel,
                                                   memory_order_acquire)) continue;
        fn(ctx, next, chunks);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        c = atomic_load_explicit(&pool.claim, memory_order_acquire);
    }
}

static void *worker_main(void *arg) {
    int index = (int)(intptr_t)arg;
    unsigned long seen = 0;
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
        if (index >= pool.threads) continue;          // zk_set_threads lowered the count
        uint64_t c = atomic_load_explicit(&pool.claim, memory_order_acquire);
        zk_part_fn fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
        run_chunks((uint32_t)(c >> 32), fn, ctx);
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
    pool.spin_ns = (spin ? atol(spin) : 1000) * 1000L;
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
        int rc = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(pool.started + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) { pool.threads = pool.started + 1; return; }
        pool.started++;
    }
}

void zk_runtime_init(void) { pthread_once(&pool.once, pool_init); }

void zk_set_threads(int n) {
    zk_runtime_init();
    if (n < 1) n = 1;
    if (n > ZK_MAX_THREADS) n = ZK_MAX_THREADS;
    pool.threads = n;   // extra started workers stay idle
}

int zk_threads(void) { zk_runtime_init(); return pool.threads; }

void zk_parallel(int chunks, zk_part_fn fn, void *ctx) {
    zk_runtime_init();
    if (chunks < 1) chunks = 1;
    if (chunks > 0xffff) chunks = 0xffff;
    int expected = 0;
    if (chunks == 1 || pool.threads <= 1 || !atomic_compare_exchange_strong(&pool.busy, &expected, 1)) {
        // One chunk, one thread, or another dispatch is running (tests in parallel): run here.
        for (int i = 0; i < chunks; i++) fn(ctx, i, chunks);
        return;
    }
    ensure_workers(pool.threads);
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint32_t gen = ++pool.gen;
    atomic_store_explicit(&pool.claim, claim_word(gen, chunks, 0), memory_order_release);
    atomic_fetch_add(&pool.seq, 1);                     // seq_cst: pairs with the sleepers check
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
    run_chunks(gen, fn, ctx);
    // Only chunks another thread has started remain.
    int spins = 0;
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < chunks) {
        cpu_relax();
        if (++spins % 1024 == 0) sched_yield();        // that thread may have lost its core
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}
