/* The text encoder of text.h: token embeddings, masked-mean and attention pooling, three
 * linear maps into the condition. Built from the public ops, so its backward is theirs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmoji/ops.h"
#include "genmoji/text.h"

/* The parameter names, in declaration (and initialisation) order. */
enum { P_EMBED, P_QUERY, P_MEAN_W, P_MEAN_B, P_ATTN_W, P_EMPTY_W, P_COUNT };
static const char *const k_names[P_COUNT] = {"embed.weight", "pool.query", "mean.weight",
                                             "mean.bias", "attn.weight", "empty.weight"};

static int full_name(char *buf, size_t n, const char *prefix, int which, gm_error *err) {
  int k = snprintf(buf, n, "%s%s", prefix ? prefix : "", k_names[which]);
  if (k < 0 || (size_t)k >= n)
    return gm_error_set(err, GM_EINVAL, "text encoder: prefix \"%s\" too long", prefix);
  return 0;
}

static int find_all(gm_params *p, const char *prefix, gm_tensor **t, gm_error *err) {
  for (int i = 0; i < P_COUNT; i++) {
    char name[256];
    int rc = full_name(name, sizeof name, prefix, i, err);
    if (rc) return rc;
    t[i] = gm_params_find(p, name);
    if (!t[i])
      return gm_error_set(err, GM_ENOTFOUND, "text encoder: no parameter %s (declared and "
                          "finalized?)", name);
  }
  return 0;
}

int gm_text_encoder_declare(gm_params *p, const char *prefix, const gm_text_encoder_config *c,
                            gm_error *err) {
  if (c->vocab_size < 2 || c->dim < 1 || c->cond_dim < 1)
    return gm_error_set(err, GM_EINVAL,
                        "text encoder: vocab_size %d (at least 2), dim %d and cond_dim %d "
                        "(at least 1)", c->vocab_size, c->dim, c->cond_dim);
  const int64_t V = c->vocab_size, D = c->dim, C = c->cond_dim;
  const int64_t shapes[P_COUNT][2] = {{V, D}, {D, 0}, {C, D}, {C, 0}, {C, D}, {C, 1}};
  const int ndims[P_COUNT] = {2, 1, 2, 1, 2, 2};
  for (int i = 0; i < P_COUNT; i++) {
    char name[256];
    int rc = full_name(name, sizeof name, prefix, i, err);
    if (rc == 0)
      rc = gm_params_declare(p, name, GM_F32, ndims[i], shapes[i], GM_PARAM_TRAINABLE, err);
    if (rc) return rc;
  }
  return 0;
}

int gm_text_encoder_init(gm_params *p, const char *prefix, const gm_text_encoder_config *c,
                         gm_rng *r, gm_error *err) {
  (void)c;
  gm_tensor *t[P_COUNT];
  int rc = find_all(p, prefix, t, err);
  if (rc == 0) rc = gm_rng_normal(t[P_EMBED], r, 0.0f, 1.0f, err);
  if (rc == 0) rc = gm_tensor_fill(t[P_QUERY], 0.0, err);
  if (rc == 0) rc = gm_init_default(t[P_MEAN_W], t[P_MEAN_B], r, err);
  if (rc == 0) rc = gm_init_default(t[P_ATTN_W], NULL, r, err);
  if (rc == 0) rc = gm_init_default(t[P_EMPTY_W], NULL, r, err);
  return rc;
}

int gm_text_cond_create(gm_device *dev, int64_t b, gm_text_cond *out, gm_error *err) {
  *out = (gm_text_cond){NULL, NULL, NULL};
  int64_t L = GM_TEXT_MAX_TOKENS;
  int rc = gm_tensor_create(&out->ids, dev, GM_I32, 2, GM_SHAPE(b, L), err);
  if (!rc) rc = gm_tensor_create(&out->mask, dev, GM_F32, 2, GM_SHAPE(b, L), err);
  if (!rc) rc = gm_tensor_create(&out->empty, dev, GM_F32, 2, GM_SHAPE(b, 1), err);
  if (rc) gm_text_cond_free(out);
  return rc;
}

int gm_text_cond_empty(gm_device *dev, int64_t b, gm_text_cond *out, gm_error *err) {
  int rc = gm_text_cond_create(dev, b, out, err);
  if (!rc) rc = gm_tensor_fill(out->mask, 0, err);
  if (!rc) rc = gm_tensor_fill(out->empty, 1, err);
  if (!rc) { /* int32 zeros, the padding id: written, as a float fill would not say so */
    size_t n = (size_t)(b * GM_TEXT_MAX_TOKENS);
    int32_t *z = calloc(n, sizeof *z);
    rc = z ? gm_tensor_write(out->ids, z, n * sizeof *z, err)
           : gm_error_set(err, GM_ENOMEM, "text: out of memory");
    free(z);
  }
  if (rc) gm_text_cond_free(out);
  return rc;
}

void gm_text_cond_free(gm_text_cond *c) {
  gm_tensor_destroy(c->ids);
  gm_tensor_destroy(c->mask);
  gm_tensor_destroy(c->empty);
  *c = (gm_text_cond){NULL, NULL, NULL};
}

int gm_text_batch_write(const gm_vocab *v, const char *const *texts, int B, gm_tensor *ids,
                        gm_tensor *mask, gm_tensor *empty, gm_text_unknown *unknown,
                        gm_error *err) {
  if (ids->dtype != GM_I32 || ids->ndim != 2 || ids->shape[0] != B || mask->dtype != GM_F32 ||
      mask->ndim != 2 || mask->shape[0] != B || mask->shape[1] != ids->shape[1] ||
      empty->dtype != GM_F32 || empty->numel != B)
    return gm_error_set(err, GM_ESHAPE,
                        "text batch: want ids (%d, L) int32, mask (%d, L) and empty (%d, 1) "
                        "float32", B, B, B);
  size_t L = (size_t)ids->shape[1];
  int32_t *hi = malloc((size_t)B * L * sizeof *hi + 4);
  float *hm = malloc((size_t)B * L * sizeof *hm + 4), *he = malloc((size_t)B * sizeof *he + 4);
  int rc = 0;
  if (!hi || !hm || !he) rc = gm_error_set(err, GM_ENOMEM, "text batch: out of memory");
  for (int b = 0; b < B && !rc; b++) {
    int n = gm_vocab_encode(v, texts[b], hi + (size_t)b * L, hm + (size_t)b * L, (int)L,
                            unknown ? &unknown[b] : NULL);
    he[b] = n == 0 ? 1.0f : 0.0f;
  }
  if (!rc) rc = gm_tensor_write(ids, hi, (size_t)B * L * sizeof *hi, err);
  if (!rc) rc = gm_tensor_write(mask, hm, (size_t)B * L * sizeof *hm, err);
  if (!rc) rc = gm_tensor_write(empty, he, (size_t)B * sizeof *he, err);
  free(hi);
  free(hm);
  free(he);
  return rc;
}

int gm_text_encoder_forward(gm_params *p, const char *prefix, gm_tensor *ids, gm_tensor *mask,
                            gm_tensor *empty, gm_tensor **cond, gm_tensor **tokens,
                            gm_error *err) {
  gm_tensor *t[P_COUNT], *tok, *mean, *attn, *c1, *c2, *c3, *sum;
  int rc = find_all(p, prefix, t, err);
  if (rc == 0) rc = gm_embedding_lookup(&tok, t[P_EMBED], ids, err);
  if (rc == 0) rc = gm_masked_mean(&mean, tok, mask, err);
  if (rc == 0) rc = gm_attention_pool(&attn, tok, t[P_QUERY], mask, err);
  if (rc == 0) rc = gm_linear(&c1, mean, t[P_MEAN_W], t[P_MEAN_B], err);
  if (rc == 0) rc = gm_linear(&c2, attn, t[P_ATTN_W], NULL, err);
  if (rc == 0) rc = gm_linear(&c3, empty, t[P_EMPTY_W], NULL, err);
  if (rc == 0) rc = gm_add(&sum, c1, c2, err);
  if (rc == 0) rc = gm_add(cond, sum, c3, err);
  if (rc) {
    if (err) gm_error_prefix(err, "text encoder");
    return rc;
  }
  if (tokens) *tokens = tok;
  return 0;
}
