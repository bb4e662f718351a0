/* Sample quality of a set of images on the emoji feature network (featnet.h): KID,
 * Frechet distance, precision and recall against reference images (genmoji/quality.h
 * does the statistics). `genmoji score` and `genmoji compare` both score through here, so
 * the two report the same numbers for the same images.
 *
 *     float *ref = ..., *gen = ...;                  n x FEATNET_DIM each
 *     gm_sq_features(net, train, n_train, 32, 1, ref, &err);
 *     gm_sq_features(net, samples, n, 32, 1, gen, &err);
 *     gm_sq_row row;
 *     gm_sq_score(ref, n_train, gen, n, seed, &row, &err);
 */
#ifndef GM_CLI_SAMPLE_QUALITY_H
#define GM_CLI_SAMPLE_QUALITY_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "featnet.h"
#include "genmoji/quality.h"

/* Precision and recall use k = 3 nearest neighbours, so every set needs more than 3. */
#define GM_SQ_K 3
#define GM_SQ_MIN_IMAGES (GM_SQ_K + 1)
/* KID: 50 subsets of up to 100 images from each side. */
#define GM_SQ_KID_SUBSETS 50
#define GM_SQ_KID_SUBSET_SIZE 100
/* The shipped network's file name (data/, share/genmoji, the user's cache). */
#define GM_SQ_FEATNET_FILE "featnet-v1.safetensors"

typedef struct gm_sq_row {
  gm_kid_result kid; /* KID itself, not x 1000 */
  double fd, precision, recall;
  int images; /* rows scored */
} gm_sq_row;

/* 1 when images of this side can be brought to the network's 32 x 32: a divisor of 32
 * (each pixel repeated) or a multiple of it (box mean). */
int gm_sq_side_ok(int side);

/* The features of n RGB8 images of side x side (gm_sq_side_ok), brought to 32 x 32; with
 * levels16 each value first goes to the models' 16 levels ((v >> 4) x 17), so images
 * drawn at 16 levels and full-depth ones are compared alike. */
int gm_sq_features(featnet *f, const uint8_t *const *rgb, int n, int side, int levels16,
                   float *features, gm_error *err);

/* Every metric of gen against ref (n x FEATNET_DIM each, at least GM_SQ_MIN_IMAGES);
 * seed picks KID's subsets. */
int gm_sq_score(const float *ref, int n_ref, const float *gen, int n_gen, uint64_t seed,
                gm_sq_row *r, gm_error *err);

/* {kid, kid_stderr (both x 1000), fd, precision, recall, images} */
cJSON *gm_sq_row_json(const gm_sq_row *r);

/* The default feature network file: $GM_FEATURES; else one the user trained into the
 * cache folder ($XDG_CACHE_HOME/genmoji or ~/.cache/genmoji); else the one shipped with
 * genmoji (installed under share/genmoji, or data/ of the source tree); else the cache
 * path, which an error then names. -1 when none can be named. */
int gm_sq_default_features(char *buf, size_t n);

#endif
