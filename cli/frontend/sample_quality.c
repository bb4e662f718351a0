/* Sample quality on the emoji feature network: images to features, features to KID, FD,
 * precision and recall (sample_quality.h). */
#include "sample_quality.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int gm_sq_side_ok(int side) {
  return side > 0 && (FEATNET_SIZE % side == 0 || side % FEATNET_SIZE == 0);
}

/* One image of side x side to 32 x 32: each pixel repeated, or a box mean. */
static void to32(const uint8_t *src, int side, int levels16, uint8_t *dst) {
  const int S = FEATNET_SIZE;
  if (side <= S) {
    int r = S / side;
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++)
        memcpy(dst + ((size_t)y * S + x) * 3, src + ((size_t)(y / r) * side + x / r) * 3, 3);
  } else {
    int k = side / S;
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++)
        for (int c = 0; c < 3; c++) {
          unsigned sum = 0;
          for (int dy = 0; dy < k; dy++)
            for (int dx = 0; dx < k; dx++)
              sum += src[((size_t)(y * k + dy) * side + x * k + dx) * 3 + c];
          dst[((size_t)y * S + x) * 3 + c] =
              (uint8_t)((sum + (unsigned)(k * k) / 2) / (unsigned)(k * k));
        }
  }
  if (levels16)
    for (size_t i = 0; i < (size_t)S * S * 3; i++) dst[i] = (uint8_t)((dst[i] >> 4) * 17);
}

int gm_sq_features(featnet *f, const uint8_t *const *rgb, int n, int side, int levels16,
                   float *features, gm_error *err) {
  if (!gm_sq_side_ok(side))
    return gm_error_set(err, GM_EINVAL,
                        "feature network: %dx%d images are neither a divisor nor a multiple "
                        "of its 32x32",
                        side, side);
  if (n <= 0) return 0;
  const size_t len = (size_t)FEATNET_SIZE * FEATNET_SIZE * 3;
  uint8_t *buf = malloc(len * (size_t)n);
  const uint8_t **rows = malloc(sizeof *rows * (size_t)n);
  int rc = buf && rows ? 0 : gm_error_set(err, GM_ENOMEM, "feature network: out of memory");
  for (int i = 0; i < n && !rc; i++) {
    rows[i] = buf + len * (size_t)i;
    to32(rgb[i], side, levels16, buf + len * (size_t)i);
  }
  if (!rc) rc = featnet_features(f, rows, n, features, NULL, err);
  free(buf);
  free(rows);
  return rc;
}

int gm_sq_score(const float *ref, int n_ref, const float *gen, int n_gen, uint64_t seed,
                gm_sq_row *r, gm_error *err) {
  memset(r, 0, sizeof *r);
  r->images = n_gen;
  int rc = gm_kid(ref, n_ref, gen, n_gen, FEATNET_DIM, GM_SQ_KID_SUBSETS, GM_SQ_KID_SUBSET_SIZE,
                  seed, &r->kid, err);
  if (!rc) rc = gm_frechet_distance(ref, n_ref, gen, n_gen, FEATNET_DIM, &r->fd, err);
  if (!rc)
    rc = gm_precision_recall(ref, n_ref, gen, n_gen, FEATNET_DIM, GM_SQ_K, &r->precision,
                             &r->recall, err);
  return rc;
}

cJSON *gm_sq_row_json(const gm_sq_row *r) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "kid", 1000 * r->kid.kid);
  cJSON_AddNumberToObject(o, "kid_stderr", 1000 * r->kid.stderr_kid);
  cJSON_AddNumberToObject(o, "fd", r->fd);
  cJSON_AddNumberToObject(o, "precision", r->precision);
  cJSON_AddNumberToObject(o, "recall", r->recall);
  cJSON_AddNumberToObject(o, "images", r->images);
  return o;
}

int gm_sq_default_features(char *buf, size_t n) {
  const char *env = getenv("GM_FEATURES"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  struct stat st;
  char cache[4096] = "";
  if (env && *env) return snprintf(buf, n, "%s", env) >= (int)n ? -1 : 0;
  if (xdg && *xdg) snprintf(cache, sizeof cache, "%s/genmoji/" GM_SQ_FEATNET_FILE, xdg);
  else if (home && *home)
    snprintf(cache, sizeof cache, "%s/.cache/genmoji/" GM_SQ_FEATNET_FILE, home);
  const char *shipped[2] = {GM_CLI_SHARE_DIR "/" GM_SQ_FEATNET_FILE,
                            GM_CLI_SOURCE_DATA_DIR "/" GM_SQ_FEATNET_FILE};
  const char *pick = cache[0] && stat(cache, &st) == 0 ? cache : NULL;
  for (int i = 0; i < 2 && !pick; i++)
    if (stat(shipped[i], &st) == 0) pick = shipped[i];
  if (!pick) pick = cache[0] ? cache : NULL;
  if (!pick) return -1;
  return snprintf(buf, n, "%s", pick) >= (int)n ? -1 : 0;
}
