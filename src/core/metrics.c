#include "core/metrics.h"

#include <inttypes.h>

const double metrics_hist_bounds[METRICS_HIST_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60};

void metrics_hist_observe(metrics_hist_t *h, double seconds)
{
    int i = 0;
    while (i < METRICS_HIST_BUCKETS && seconds > metrics_hist_bounds[i])
        i++;
    h->counts[i]++;
    h->total++;
    h->sum += seconds;
}

double metrics_hist_quantile(const metrics_hist_t *h, double q)
{
    if (!h->total) return 0;
    uint64_t want = (uint64_t)(q * (double)h->total + 0.5), seen = 0;
    for (int i = 0; i <= METRICS_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) return i < METRICS_HIST_BUCKETS ? metrics_hist_bounds[i] : 1e9;
    }
    return 1e9;
}

void metrics_hist_write(const metrics_hist_t *h, buf_t *out, const char *name, const char *labels)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (int i = 0; i < METRICS_HIST_BUCKETS; i++) {
        cum += h->counts[i];
        buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep,
                   metrics_hist_bounds[i], cum);
    }
    buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, h->total);
    buf_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %" PRIu64 "\n", name, labels, h->sum, name,
               labels, h->total);
}
