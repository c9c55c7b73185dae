#!/bin/bash
# The offline illustrator: 20 storybook pages of 768x1152 (PNG encoding included) on one core,
# against the 150 ms-per-image target of the providers issue.
set -euo pipefail
: "${BUILD_DIR:?}"
cmake --build "$BUILD_DIR" --target bench_illustrate >/dev/null
out=$(taskset -c 0 "$BUILD_DIR/bench_illustrate")
ms=$(echo "$out" | sed -n 's/.* \([0-9.]*\) ms per image.*/\1/p')
worst=$(echo "$out" | sed -n 's/.*(worst \([0-9.]*\) ms).*/\1/p')
ratio=$(python3 -c "print('%.2f' % ($ms / 150.0))")
cat <<MD
<!-- scenario: illustrate -->
## Offline illustrator: one 768×1152 page

| Measure | Target | Measured | Ratio |
|---|---|---|---|
| time per image, one core (20 pages, varied prompts, templates and two recurring characters) | 150 ms | ${ms} ms (worst ${worst} ms) | **${ratio}×** of the budget |

Command: \`taskset -c 0 build/release/bench_illustrate\` (cairo drawing plus our libpng encoder:
no filter, zlib level 3).

MD
