/* The emoji feature network: a small CNN classifier of Unicode subgroups, trained by
 * genmoji on every emoji of a data source, whose penultimate layer (FEATNET_DIM values)
 * is the embedding the sample-quality metrics (genmoji/quality.h) compare. It plays the
 * part Inception plays for FID, on emoji.
 *
 *   x (B, 3, 32, 32), values 0..1
 *   conv 3x3 3 -> 32, relu, max-pool 2   (16 x 16)
 *   conv 3x3 32 -> 64, relu, max-pool 2  (8 x 8)
 *   conv 3x3 64 -> 128, relu, max-pool 2 (4 x 4)
 *   linear 2048 -> FEATNET_DIM, relu     the features
 *   linear FEATNET_DIM -> classes        the subgroup logits
 */
#ifndef GM_CLI_FEATNET_H
#define GM_CLI_FEATNET_H

#include <stdint.h>

#include "genmoji/gm.h"

#define FEATNET_DIM 256
#define FEATNET_SIZE 32
#define FEATNET_MAX_CLASSES 512

typedef struct featnet featnet;

/* A network for n_classes classes named by classes[0..n) (copied), initialised from seed. */
int featnet_create(featnet **out, gm_device *dev, int n_classes, const char *const *classes,
                   uint64_t seed, gm_error *err);
void featnet_destroy(featnet *f);
int featnet_classes(const featnet *f);
const char *featnet_class(const featnet *f, int i);

typedef struct featnet_train_config {
  int steps, batch;
  float lr;
  uint64_t seed;
  /* optional progress: step of steps, the running loss */
  void (*progress)(void *ctx, int step, int steps, double loss);
  void *ctx;
} featnet_train_config;

/* Trains on images rgb[i] (32 x 32 x 3 bytes) with labels[i] in 0..classes-1, with
 * augmentation that keeps what an emoji shows: shifts of up to 2 pixels, scales of
 * 0.9..1.1, brightness and contrast jitter of 10%, Gaussian noise of sd 0.02; no flips.
 * *final_loss gets the mean loss of the last 20 steps. */
int featnet_train(featnet *f, const uint8_t *const *rgb, const int *labels, int n,
                  const featnet_train_config *c, double *final_loss, gm_error *err);

/* features (n x FEATNET_DIM, row-major), each row scaled to unit length (a row of zeros
 * stays zero), and, when predicted is not NULL, the most likely class of each image, in
 * batches of 64; rgb[i] is 32 x 32 x 3 bytes. */
int featnet_features(featnet *f, const uint8_t *const *rgb, int n, float *features,
                     int *predicted, gm_error *err);

/* The weights and the class names (metadata "classes", newline-separated) plus the
 * caller's metadata, atomically. */
int featnet_save(const featnet *f, const char *path, const gm_kv *meta, int n_meta,
                 gm_error *err);
/* Reads a file featnet_save wrote; a missing tensor, a wrong shape or missing class names
 * is an error naming the file. */
int featnet_load(featnet **out, gm_device *dev, const char *path, gm_error *err);

#endif
