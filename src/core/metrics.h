/* metrics: counters and fixed-bucket histograms rendered in the Prometheus text format.
 * Single-threaded by design: every metric is updated on the loop thread of its process. */
#ifndef NOVA_CORE_METRICS_H
#define NOVA_CORE_METRICS_H

#include <stdint.h>

#include "core/buf.h"

#define METRICS_HIST_BUCKETS 14

/* Latency histogram in seconds with buckets from 0.5 ms to 60 s. */
typedef struct {
    uint64_t counts[METRICS_HIST_BUCKETS + 1]; /* last = +Inf */
    uint64_t total;
    double sum;
} metrics_hist_t;

extern const double metrics_hist_bounds[METRICS_HIST_BUCKETS];

void metrics_hist_observe(metrics_hist_t *h, double seconds);
/* Approximate quantile (upper bucket bound), for logs and benchmarks. */
double metrics_hist_quantile(const metrics_hist_t *h, double q);
/* Writes name_bucket{labels,le=".."}, name_sum and name_count lines. labels may be "" or
 * `a="b",c="d"` (without braces). */
void metrics_hist_write(const metrics_hist_t *h, buf_t *out, const char *name, const char *labels);

#endif
