/* Dataset filters that look at pixels or names: the yellow test and the held-out hash. */
#include <stddef.h>
#include <stdint.h>

#include "dataset_internal.h"
#include "genmoji/dataset.h"

/* The yellow band, in HSV with hue in degrees: YELLOW_HUE_LO <= hue <= YELLOW_HUE_HI,
 * saturation >= YELLOW_SAT_MIN and value >= YELLOW_VAL_MIN. An image passes when at least
 * YELLOW_SHARE of its opaque pixels (alpha >= 128) are in the band. */
#define YELLOW_HUE_LO 38.0
#define YELLOW_HUE_HI 62.0
#define YELLOW_SAT_MIN 0.45
#define YELLOW_VAL_MIN 0.55
#define YELLOW_SHARE 0.50

static int in_band(const uint8_t *p) {
  int r = p[0], g = p[1], b = p[2];
  int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
  int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
  if (mx == 0 || mx == mn) return 0;
  double v = mx / 255.0, s = (double)(mx - mn) / mx;
  if (v < YELLOW_VAL_MIN || s < YELLOW_SAT_MIN) return 0;
  double h, c = mx - mn;
  if (mx == r)
    h = 60.0 * ((g - b) / c);
  else if (mx == g)
    h = 60.0 * ((b - r) / c + 2.0);
  else
    h = 60.0 * ((r - g) / c + 4.0);
  if (h < 0) h += 360.0;
  return h >= YELLOW_HUE_LO && h <= YELLOW_HUE_HI;
}

double gm__yellow_share(const uint8_t *rgba, int w, int h) {
  size_t n = (size_t)w * (size_t)h, opaque = 0, yellow = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *p = rgba + 4 * i;
    if (p[3] < 128) continue;
    opaque++;
    yellow += (size_t)in_band(p);
  }
  return opaque ? (double)yellow / (double)opaque : 0.0;
}

int gm__is_yellow(const uint8_t *rgba, int w, int h) {
  return gm__yellow_share(rgba, w, h) >= YELLOW_SHARE;
}

uint64_t gm_dataset_name_hash(const char *name) {
  uint64_t x = 0xcbf29ce484222325ull;   /* FNV-1a 64 offset basis */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    x ^= *p;
    x *= 0x100000001b3ull;              /* FNV-1a 64 prime */
  }
  return x;
}

int gm_dataset_is_heldout(const char *name, double heldout) {
  /* The top 53 bits as a fraction of one: exact in a double, so no platform rounds it
   * differently. */
  double u = (double)(gm_dataset_name_hash(name) >> 11) * 0x1p-53;
  return u < heldout;
}
