/* libFuzzer target: any bytes through the notoemoji font parser (table directory, cmap,
 * CBLC, CBDT); every glyph slice it hands out must lie inside the input. */
#include <stddef.h>
#include <stdint.h>

#include "sfnt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t probes[] = {0x0, 0x20, 0x41, 0xA9, 0x263A, 0x2764, 0xFFFE, 0xFFFF, 0x10000,
                                  0x1F47B, 0x1F600, 0x1F603, 0x1F60A, 0x1F60D, 0x10FFFF, 0x110000};

/* Results go here so the reads cannot be optimised away. */
static volatile uint32_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sink += (uint32_t)sfnt__has_table(data, size, "CBDT");
  sfnt__font f;
  gm_error err;
  if (sfnt__open(&f, data, size, "fuzz.ttf", &err)) return 0;
  for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) sink += sfnt__glyph(&f, probes[i]);
  for (uint32_t cp = 0x1F600; cp < 0x1F650; cp++) sink += sfnt__glyph(&f, cp);
  for (uint32_t g = 0; g <= f.num_glyphs; g++) {
    const uint8_t *png;
    size_t n;
    if (sfnt__png(&f, g, &png, &n, &err) == 1 && n) sink += png[0] + png[n - 1];
  }
  sfnt__close(&f);
  return 0;
}
