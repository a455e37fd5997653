// Large allocations for weights and KV caches.
#include "ckernels.h"
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

enum { HUGE_PAGE = 2 << 20, PAGE = 4096 };

// A pass streams hundreds of MB of weights: with 4 KiB pages that is a TLB miss every 4 KiB.
// Transparent huge pages (when the kernel allows them, "madvise" mode included) cut the page
// walks 512-fold: measured 5-8% off a GPT-B pass on the 2-core Zen 4 VM. Large blocks get their
// own mapping, 2 MiB aligned and trimmed to the page-rounded size, so a huge page never covers
// memory past the block's end (rounding every matrix up to 2 MiB added ~90 MB of RSS to GPT-B).
void *zk_alloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
#if defined(__linux__)
    if (bytes >= HUGE_PAGE) {
        size_t size = (bytes + PAGE - 1) / PAGE * PAGE;
        char *raw = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) return NULL;
        char *p = (char *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        if (p > raw) munmap(raw, (size_t)(p - raw));
        size_t tail = (size_t)(raw + size + HUGE_PAGE - (p + size));
        if (tail > 0) munmap(p + size, tail);
#if defined(MADV_HUGEPAGE)
        madvise(p, size, MADV_HUGEPAGE);
#endif
        return p;                  // fresh anonymous pages read as zero
    }
#endif
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    memset(p, 0, bytes);
    return p;
}

void zk_free(void *p, size_t bytes) {
    if (!p) return;
    if (bytes == 0) bytes = 1;
#if defined(__linux__)
    if (bytes >= HUGE_PAGE) { munmap(p, (bytes + PAGE - 1) / PAGE * PAGE); return; }
#endif
    free(p);
}

uint16_t zk_half_bits(float f) { return zk_float_to_half(f); }
