/* Text for text-conditioned models: a tokenizer, a vocabulary built from the training
 * texts (stored in a checkpoint as one metadata string), and padded batches of token ids
 * with their mask for the text ops (ops_text.h).
 *
 *     gm_vocab *v;
 *     gm_vocab_build(&v, texts, n_texts, 1, &err);            // ids 1..V-1; 0 = padding
 *     int32_t ids[GM_TEXT_MAX_TOKENS]; float mask[GM_TEXT_MAX_TOKENS];
 *     gm_text_unknown unk;
 *     gm_vocab_encode(v, "winking face", ids, mask, GM_TEXT_MAX_TOKENS, &unk);
 *
 * Tokenizer rules (gm_text_tokenize), in order:
 *   - words are maximal runs of ASCII letters and digits and of bytes >= 0x80 (so UTF-8
 *     letters such as "é" stay inside a word); ASCII letters are lower-cased;
 *   - apostrophes (' and U+2019) inside a run are dropped: "o’clock" -> "oclock",
 *     "man's" -> "mans" (then "man" by the plural rule);
 *   - every other character separates words: spaces, "|", hyphens ("x-ray" -> "x",
 *     "ray"), ":", ",", ".", "(", ")", "&", "!", "#", "*", ...;
 *   - plurals: a word of at least 4 bytes ending in "s" loses it, except after "s",
 *     "u" or "i" ("glass", "cactus", "iris" stay); "ies" becomes "y" (at least 5 bytes:
 *     "flies" -> "fly"); "sses", "xes", "zes", "ches", "shes" lose "es" ("glasses" ->
 *     "glass", "boxes" -> "box"); "eyes" -> "eye", "hearts" -> "heart";
 *   - a word longer than GM_TEXT_MAX_WORD - 1 bytes is cut (at a UTF-8 boundary);
 *   - a word already seen in the text is dropped (texts are bags of keywords: CLDR's
 *     "face | wink | winking face" is "face wink winking");
 *   - at most GM_TEXT_MAX_TOKENS words are kept; the rest are counted as dropped. */
#ifndef GENMOJI_TEXT_H
#define GENMOJI_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include "device.h"
#include "error.h"
#include "params.h"
#include "rng.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GM_TEXT_MAX_TOKENS 16
#define GM_TEXT_MAX_WORD 32
/* The checkpoint metadata key under which `genmoji train` stores a text model's
 * vocabulary (gm_vocab_serialize), for `sample --prompt` and `eval` to read back. */
#define GM_TEXT_VOCAB_KEY "text.vocab"

/* The words of text, by the rules above, into words[0..max). Returns how many were kept;
 * *dropped (may be NULL) gets how many distinct words did not fit. */
GM_API int gm_text_tokenize(const char *text, char (*words)[GM_TEXT_MAX_WORD], int max,
                            int *dropped);

typedef struct gm_vocab gm_vocab;

/* The words of the texts that appear in at least min_count (>= 1) of them, ordered by how
 * many texts have them (most first), ties by byte order; word i gets id i + 1 (id 0 is
 * padding). No word at all is GM_EINVAL ("empty vocabulary"). */
GM_API int gm_vocab_build(gm_vocab **out, const char *const *texts, int n_texts, int min_count,
                          gm_error *err);
GM_API void gm_vocab_destroy(gm_vocab *v);
/* The number of ids, padding included (words + 1). */
GM_API int gm_vocab_size(const gm_vocab *v);
/* The word of id 1..size-1; NULL for 0 or out of range. */
GM_API const char *gm_vocab_word(const gm_vocab *v, int id);
/* The id of a tokenized word; 0 when unknown. */
GM_API int gm_vocab_id(const gm_vocab *v, const char *word);

/* The checkpoint form: the words in id order joined by single spaces (malloc'd; NULL on
 * out of memory). */
GM_API char *gm_vocab_serialize(const gm_vocab *v);
/* Reads the checkpoint form back. An empty string, a word the tokenizer would not
 * produce (upper case, punctuation, too long) or a repeated word is GM_EFORMAT naming
 * `what` (e.g. "FILE: metadata text.vocab") and the word's position. */
GM_API int gm_vocab_parse(gm_vocab **out, const char *s, const char *what, gm_error *err);

/* Words of a prompt that the vocabulary does not have, space-separated (truncated). */
typedef struct gm_text_unknown {
  int count;
  char words[512];
} gm_text_unknown;

/* One text as ids[0..L) and mask[0..L): the known words' ids first, then padding (id 0,
 * mask 0). Unknown words are skipped and listed in *unknown (may be NULL). Returns the
 * number of known words (0: an empty condition). */
GM_API int gm_vocab_encode(const gm_vocab *v, const char *text, int32_t *ids, float *mask,
                           int L, gm_text_unknown *unknown);

/* ---- the text encoder ----
 *
 * Learned token embeddings (V, D) and one condition vector (B, C) per text:
 *     t[b, l] = embed[ids[b, l]]                                  token vectors (B, L, D)
 *     cond[b] = W_mean masked_mean(t)[b] + W_attn attention_pool(t, q)[b] + bias
 *               + empty[b] e
 * where empty[b] is 1 for a text with no known word (the mask all 0; both poolings give
 * 0 then, so its condition is bias + e: a learned "empty" condition for unconditional
 * sampling and condition dropout). Parameters, under a prefix (e.g. "text."):
 *     PREFIX.embed.weight (V, D)   normal(0, 1), as torch.nn.Embedding
 *     PREFIX.pool.query (D)        zeros: attention pooling starts as the mean
 *     PREFIX.mean.weight (C, D), PREFIX.mean.bias (C), PREFIX.attn.weight (C, D),
 *     PREFIX.empty.weight (C, 1)   PyTorch's nn.Linear initialisation
 * The token vectors go to the model too (for cross-attention). */
typedef struct gm_text_encoder_config {
  int vocab_size;   /* gm_vocab_size: words + 1 */
  int dim;          /* D, the token vectors' width */
  int cond_dim;     /* C, the condition's width */
} gm_text_encoder_config;

/* Declares the parameters above in p (before gm_params_finalize). */
GM_API int gm_text_encoder_declare(gm_params *p, const char *prefix,
                                   const gm_text_encoder_config *c, gm_error *err);
/* Initialises them (after finalize) from r, in declaration order. */
GM_API int gm_text_encoder_init(gm_params *p, const char *prefix,
                                const gm_text_encoder_config *c, gm_rng *r, gm_error *err);

/* A batch of text conditions, one row per image, as gm_text_batch_write writes them:
 * token ids (B, L) int32, their mask (B, L) and the "no known word" flags (B, 1) float32.
 * A row with no known word is a model's learned empty condition, the one unconditional
 * sampling and condition dropout use (model.h: how models take them). */
typedef struct gm_text_cond {
  gm_tensor *ids, *mask, *empty;
} gm_text_cond;

/* New tensors for b rows (L = GM_TEXT_MAX_TOKENS), contents undefined. */
GM_API int gm_text_cond_create(gm_device *dev, int64_t b, gm_text_cond *out, gm_error *err);
/* New tensors holding b empty texts: ids 0, mask 0, empty 1. */
GM_API int gm_text_cond_empty(gm_device *dev, int64_t b, gm_text_cond *out, gm_error *err);
/* Destroys the three tensors (NULL ones too) and zeroes c. */
GM_API void gm_text_cond_free(gm_text_cond *c);

/* A batch of texts for the encoder: ids (B, L) int32, mask (B, L) and empty (B, 1)
 * float32, built on the host and written in three transfers. unknown (may be NULL) gets
 * B entries. */
GM_API int gm_text_batch_write(const gm_vocab *v, const char *const *texts, int B,
                               gm_tensor *ids, gm_tensor *mask, gm_tensor *empty,
                               gm_text_unknown *unknown, gm_error *err);

/* cond (B, C) and, when tokens is not NULL, the token vectors (B, L, D), as arena tensors
 * recorded on the tape (gradients flow into every parameter). */
GM_API int gm_text_encoder_forward(gm_params *p, const char *prefix, gm_tensor *ids,
                                   gm_tensor *mask, gm_tensor *empty, gm_tensor **cond,
                                   gm_tensor **tokens, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
