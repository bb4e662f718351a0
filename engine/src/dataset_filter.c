/* Dataset filters that look at pixels or names: the yellow test and the held-out hash. */
#include <stddef.h>
#include <stdint.h>

#include "dataset_internal.h"
#include "genmoji/dataset.h"

/* The yellow test. A pixel is "coloured" when it is opaque (alpha >= 128) and has a
 * clear hue: HSV saturation >= 0.45 and value >= 0.55 (outlines, eyes, mouths, white
 * teeth and grey are not). A coloured pixel is "yellow" when its hue lies in 36..62
 * degrees. An image passes when yellow pixels are at least half of its coloured pixels
 * and at least a quarter of all its opaque pixels (so a mostly white or grey image with a
 * yellow detail does not).
 *
 * The band and the shares were chosen on Noto Color Emoji's faces; the hues and shares
 * measured there are in docs/performance.md ("Measurements behind the code's
 * constants"). */
#define YELLOW_HUE_LO 36.0
#define YELLOW_HUE_HI 62.0
#define COLOURED_SAT_MIN 0.45
#define COLOURED_VAL_MIN 0.55
#define YELLOW_OF_COLOURED 0.50
#define YELLOW_OF_OPAQUE 0.25

/* 0: not coloured, 1: coloured outside the band, 2: yellow. */
static int classify(const uint8_t *p) {
  int r = p[0], g = p[1], b = p[2];
  int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
  int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
  if (mx == 0 || mx == mn) return 0;
  double v = mx / 255.0, s = (double)(mx - mn) / mx, c = mx - mn, h;
  if (v < COLOURED_VAL_MIN || s < COLOURED_SAT_MIN) return 0;
  if (mx == r)
    h = 60.0 * ((g - b) / c);
  else if (mx == g)
    h = 60.0 * ((b - r) / c + 2.0);
  else
    h = 60.0 * ((r - g) / c + 4.0);
  if (h < 0) h += 360.0;
  return h >= YELLOW_HUE_LO && h <= YELLOW_HUE_HI ? 2 : 1;
}

void gm__yellow_shares(const uint8_t *rgba, int w, int h, double *of_coloured,
                       double *of_opaque) {
  size_t n = (size_t)w * (size_t)h, opaque = 0, coloured = 0, yellow = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *p = rgba + 4 * i;
    if (p[3] < 128) continue;
    opaque++;
    int k = classify(p);
    coloured += k > 0;
    yellow += k == 2;
  }
  *of_coloured = coloured ? (double)yellow / (double)coloured : 0.0;
  *of_opaque = opaque ? (double)yellow / (double)opaque : 0.0;
}

int gm__is_yellow(const uint8_t *rgba, int w, int h) {
  double of_coloured, of_opaque;
  gm__yellow_shares(rgba, w, h, &of_coloured, &of_opaque);
  return of_coloured >= YELLOW_OF_COLOURED && of_opaque >= YELLOW_OF_OPAQUE;
}

uint64_t gm_dataset_name_hash(const char *name) {
  uint64_t x = 0xcbf29ce484222325ull;   /* FNV-1a 64 offset basis */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    x ^= *p;
    x *= 0x100000001b3ull;              /* FNV-1a 64 prime */
  }
  return x;
}

/* splitmix64's finaliser: FNV-1a alone leaves names that differ only in their last
 * characters ("img00".."img11") with nearly the same top bits, so they would all fall on
 * one side of the split. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int gm_dataset_is_heldout(const char *name, double heldout) {
  /* The top 53 bits as a fraction of one: exact in a double, so no platform rounds it
   * differently. */
  double u = (double)(mix64(gm_dataset_name_hash(name)) >> 11) * 0x1p-53;
  return u < heldout;
}
