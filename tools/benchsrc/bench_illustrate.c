/* Benchmark: renders 20 storybook pages of 768x1152 (varied prompts, templates and seeds, with
 * two recurring characters) and prints milliseconds per image, PNG encoding included. Meant for a
 * release build (no sanitizers); the target is under 150 ms per image on one core. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "providers/illustrate.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(void)
{
    static const char *const prompts[] = {
        "Milo the cat and Zara walk past a castle under the sun with trees and clouds",
        "At night Zara sees the moon and stars over the sea, with a boat and fish",
        "Bolt the robot builds a rocket near a planet while a dragon watches",
        "A dark forest with an owl, mountains and a little house where Milo sleeps",
        "Zara reads a book in a garden of flowers with a unicorn, a rainbow and birds",
        "A train and a car race past a lighthouse by the ocean at sunset",
        "Two bunnies and a bear have a picnic on a hill in the morning",
    };
    static const illustrate_character_t cast[] = {
        {"Milo", "cat", {0x12F39A, 0x3344AA, 0xE01010}, 3},
        {"Zara", "girl", {0xD81B9C}, 1},
        {"Bolt", "robot", {0}, 0},
    };
    const int n = 20;
    size_t bytes = 0;
    double worst = 0, start = now_ms();
    for (int i = 0; i < n; i++) {
        illustrate_request_t r = {.tmpl = (illustrate_template_t)(i % ILLUSTRATE_TEMPLATE_COUNT),
                                  .prompt = prompts[i % 7],
                                  .scene_number = i + 1,
                                  .caption = "Our friends find something wonderful today",
                                  .seed = 1000u + (unsigned)i,
                                  .characters = cast,
                                  .ncharacters = 3};
        uint8_t *png = NULL;
        size_t len = 0;
        double t0 = now_ms();
        int rc = illustrate_render_png(&r, &png, &len);
        double dt = now_ms() - t0;
        if (rc != 0) {
            fprintf(stderr, "render %d failed: %d\n", i, rc);
            return 1;
        }
        if (dt > worst) worst = dt;
        bytes += len;
        free(png);
    }
    double total = now_ms() - start;
    printf("bench_illustrate: %d images 768x1152, %.1f ms per image (worst %.1f ms), "
           "%.0f KiB PNG on average\n",
           n, total / n, worst, (double)bytes / n / 1024.0);
    return 0;
}
