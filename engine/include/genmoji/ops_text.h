/* Ops for text encoders (engine/src/ops_text.c, kernels/text.cl): token embeddings looked
 * up by id, and two poolings of a padded batch of token vectors into one vector per text.
 * A batch of texts is (B, L) token ids with a (B, L) mask, 1 for a token and 0 for
 * padding (text.h makes both). */
#ifndef GENMOJI_OPS_TEXT_H
#define GENMOJI_OPS_TEXT_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (..., D) = rows of table (V, D) float32 picked by ids (...) int32: y[i, :] =
 * table[ids[i], :]. An id outside 0..V-1 gives a zero row and no gradient (the kernels
 * never read or write outside the table). The gradient flows into table: row v gets the
 * sum, in id order, of the output gradient's rows whose id is v. */
GM_API int gm_embedding_lookup(gm_tensor **y, gm_tensor *table, gm_tensor *ids,
                               gm_error *err);

/* y (B, D) = the mean of x (B, L, D) over the positions whose mask (B, L) is non-zero:
 * y[b] = sum_l m[b, l] x[b, l] / max(1, sum_l m[b, l]), so a text with no token gives 0.
 * mask is float32 0/1 and gets no gradient. */
GM_API int gm_masked_mean(gm_tensor **y, gm_tensor *x, gm_tensor *mask, gm_error *err);

/* y (B, D) = attention pooling of x (B, L, D) with a learned query q (D):
 *     s[b, l] = q . x[b, l] / sqrt(D)   over the positions with mask[b, l] != 0,
 *     a[b]    = softmax(s[b]),          y[b] = sum_l a[b, l] x[b, l];
 * a text with no token gives 0. Gradients flow into x and q; mask gets none. */
GM_API int gm_attention_pool(gm_tensor **y, gm_tensor *x, gm_tensor *q, gm_tensor *mask,
                             gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
