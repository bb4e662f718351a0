/* The tokenizer's documented rules, the vocabulary (order, lookups, a round trip through a
 * checkpoint, broken stored forms), and encoding prompts with unknown words. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmoji/autograd.h"
#include "genmoji/checkpoint.h"
#include "genmoji/ops.h"
#include "genmoji/params.h"
#include "genmoji/text.h"
#include "testlib.h"
#include "trainer_internal.h"

/* Tokenizes text and compares with the space-separated words in want. */
static void expect_words(const char *text, const char *want, int want_dropped) {
  char words[GM_TEXT_MAX_TOKENS][GM_TEXT_MAX_WORD];
  int dropped = -1;
  int n = gm_text_tokenize(text, words, GM_TEXT_MAX_TOKENS, &dropped);
  char got[GM_TEXT_MAX_TOKENS * GM_TEXT_MAX_WORD] = "";
  for (int i = 0; i < n; i++) {
    if (i) strcat(got, " ");
    strcat(got, words[i]);
  }
  ck_assert_msg(strcmp(got, want) == 0, "\"%s\" -> \"%s\", want \"%s\"", text, got, want);
  ck_assert_msg(dropped == want_dropped, "\"%s\": %d dropped, want %d", text, dropped,
                want_dropped);
}

START_TEST(tokenizer_follows_the_documented_rules) {
  expect_words("face | wink | winking face", "face wink winking", 0);
  expect_words("Face-With-Tears_of JOY!", "face with tear of joy", 0);
  expect_words("o’clock, man's x-ray", "oclock man x ray", 0);
  expect_words("glasses boxes flies eyes hearts", "glass box fly eye heart", 0);
  expect_words("iris cactus gas bus ties kiss", "iris cactus gas bus tie kiss", 0);
  expect_words("buzzes dishes watches", "buzz dish watch", 0);
  expect_words("café piñata", "café piñata", 0);
  expect_words("keycap: #, *, 10", "keycap 10", 0);
  expect_words("' 'quoted' end'", "quoted end", 0);
  expect_words("", "", 0);
  expect_words("| - : ,", "", 0);
  /* 40 letters are cut to 31 bytes; a 2-byte letter across the cut goes whole */
  expect_words("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0);
  expect_words("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0);
  /* 20 distinct words: 16 kept, 4 dropped; repeats of either are not counted again */
  expect_words("a1 a2 a3 a4 a5 a6 a7 a8 a9 b1 b2 b3 b4 b5 b6 b7 b8 b9 c1 c2 a1 c2",
               "a1 a2 a3 a4 a5 a6 a7 a8 a9 b1 b2 b3 b4 b5 b6 b7", 4);
}
END_TEST

static const char *const k_texts[] = {
    "face | grin | grinning face",
    "face | wink | winking face",
    "face | smile | smiling face with sunglasses | sunglasses",
    "cat | face | grinning cat",
};

START_TEST(vocabulary_orders_by_text_count_then_bytes) {
  gm_error err = {0};
  gm_vocab *v;
  gmt_ok(gm_vocab_build(&v, k_texts, 4, 1, &err), &err);
  /* face 4, grinning 2, then the rest once each in byte order */
  const char *want[] = {"face", "grinning", "cat", "grin", "smile", "smiling", "sunglass",
                        "wink", "winking", "with"};
  int n = (int)(sizeof want / sizeof want[0]);
  ck_assert_int_eq(gm_vocab_size(v), n + 1);
  for (int i = 0; i < n; i++) {
    ck_assert_str_eq(gm_vocab_word(v, i + 1), want[i]);
    ck_assert_int_eq(gm_vocab_id(v, want[i]), i + 1);
  }
  ck_assert_ptr_null(gm_vocab_word(v, 0));
  ck_assert_ptr_null(gm_vocab_word(v, n + 1));
  ck_assert_int_eq(gm_vocab_id(v, "dog"), 0);
  ck_assert_int_eq(gm_vocab_id(v, ""), 0);
  gm_vocab_destroy(v);

  gmt_ok(gm_vocab_build(&v, k_texts, 4, 2, &err), &err);
  ck_assert_int_eq(gm_vocab_size(v), 3);
  ck_assert_str_eq(gm_vocab_word(v, 2), "grinning");
  gm_vocab_destroy(v);

  v = (gm_vocab *)&err;
  ck_assert_int_eq(gm_vocab_build(&v, k_texts, 4, 5, &err), GM_EINVAL);
  ck_assert_ptr_null(v);
  ck_assert_msg(strstr(err.msg, "empty vocabulary"), "%s", err.msg);
  const char *none[] = {"| - |", ""};
  ck_assert_int_eq(gm_vocab_build(&v, none, 2, 1, &err), GM_EINVAL);
  ck_assert_int_eq(gm_vocab_build(&v, k_texts, 4, 0, &err), GM_EINVAL);
}
END_TEST

START_TEST(vocabulary_round_trips_through_a_checkpoint) {
  gm_error err = {0};
  gm_vocab *v, *back;
  gmt_ok(gm_vocab_build(&v, k_texts, 4, 1, &err), &err);
  char *s = gm_vocab_serialize(v);
  ck_assert_str_eq(s, "face grinning cat grin smile smiling sunglass wink winking with");
  char path[1200];
  snprintf(path, sizeof path, "%s/vocab.safetensors", gmt_tmpdir());
  gm_kv meta[] = {{"text.vocab", s}};
  gmt_ok(gm_checkpoint_write(path, NULL, 0, meta, 1, &err), &err);
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  gmt_ok(gm_vocab_parse(&back, gm_checkpoint_meta(c, "text.vocab"), path, &err), &err);
  ck_assert_int_eq(gm_vocab_size(back), gm_vocab_size(v));
  for (int i = 1; i < gm_vocab_size(v); i++) {
    ck_assert_str_eq(gm_vocab_word(back, i), gm_vocab_word(v, i));
    ck_assert_int_eq(gm_vocab_id(back, gm_vocab_word(v, i)), i);
  }
  gm_checkpoint_close(c);
  gm_vocab_destroy(back);
  gm_vocab_destroy(v);
  free(s);
}
END_TEST

static void expect_bad(const char *stored, const char *text) {
  gm_error err = {0};
  gm_vocab *v = (gm_vocab *)&err;
  ck_assert_int_eq(gm_vocab_parse(&v, stored, "K.safetensors: metadata text.vocab", &err),
                   GM_EFORMAT);
  ck_assert_ptr_null(v);
  ck_assert_msg(strstr(err.msg, "K.safetensors: metadata text.vocab") && strstr(err.msg, text),
                "\"%s\": '%s' lacks '%s'", stored, err.msg, text);
}

START_TEST(broken_stored_vocabularies_are_refused) {
  expect_bad("", "empty vocabulary");
  expect_bad("face  wink", "word 2 \"\" is not a vocabulary word");
  expect_bad("face Wink", "word 2 \"Wink\"");
  expect_bad("face x-ray", "word 2 \"x-ray\"");
  expect_bad("faces", "word 1 \"faces\"");  /* the tokenizer would have made it "face" */
  expect_bad("face wink face", "word 3 \"face\" repeats word 1");
  expect_bad("face ", "ends with a space");
  expect_bad("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "word 1");
}
END_TEST

START_TEST(prompts_encode_known_words_then_padding_and_name_the_unknown) {
  gm_error err = {0};
  gm_vocab *v;
  gmt_ok(gm_vocab_build(&v, k_texts, 4, 1, &err), &err);
  int32_t ids[6];
  float mask[6];
  gm_text_unknown unk;
  ck_assert_int_eq(gm_vocab_encode(v, "Winking cowboy face, winking!", ids, mask, 6, &unk), 2);
  ck_assert_int_eq(ids[0], gm_vocab_id(v, "winking"));
  ck_assert_int_eq(ids[1], gm_vocab_id(v, "face"));
  for (int i = 2; i < 6; i++) ck_assert_int_eq(ids[i], 0);
  for (int i = 0; i < 6; i++) ck_assert_float_eq(mask[i], i < 2 ? 1.0f : 0.0f);
  ck_assert_int_eq(unk.count, 1);
  ck_assert_str_eq(unk.words, "cowboy");
  ck_assert_int_eq(gm_vocab_encode(v, "hat dog", ids, mask, 6, &unk), 0);
  ck_assert_str_eq(unk.words, "hat dog");
  ck_assert_float_eq(mask[0], 0.0f);
  ck_assert_int_eq(gm_vocab_encode(v, "", ids, mask, 6, NULL), 0);
  /* more known words than L: the first L */
  ck_assert_int_eq(gm_vocab_encode(v, "face grin cat wink", ids, mask, 2, NULL), 2);
  ck_assert_int_eq(ids[1], gm_vocab_id(v, "grin"));
  gm_vocab_destroy(v);
}
END_TEST

/* ---- the encoder: forward against a double reference, every parameter's gradient
 * against central differences of that reference ---- */

enum { ENC_V = 11, ENC_D = 6, ENC_C = 5, ENC_B = 4, ENC_L = 4 };

typedef struct enc_ref {
  int32_t ids[ENC_B * ENC_L];
  float mask[ENC_B * ENC_L], empty[ENC_B];
  double up[ENC_B * ENC_C];   /* the loss is sum(up * cond) */
} enc_ref;

/* params in declaration order: embed (V, D), query (D), mean.w (C, D), mean.b (C),
 * attn.w (C, D), empty.w (C, 1) */
static void enc_cond(const enc_ref *r, double *const *p, double *cond) {
  const double *E = p[0], *q = p[1], *Wm = p[2], *bm = p[3], *Wa = p[4], *We = p[5];
  for (int b = 0; b < ENC_B; b++) {
    double t[ENC_L][ENC_D], mean[ENC_D] = {0}, att[ENC_D] = {0}, s[ENC_L], top = -1e300, z = 0;
    int cnt = 0;
    for (int l = 0; l < ENC_L; l++) {
      int v = r->ids[b * ENC_L + l];
      for (int d = 0; d < ENC_D; d++) t[l][d] = v >= 0 && v < ENC_V ? E[v * ENC_D + d] : 0;
    }
    for (int l = 0; l < ENC_L; l++)
      if (r->mask[b * ENC_L + l] != 0) {
        cnt++;
        for (int d = 0; d < ENC_D; d++) mean[d] += t[l][d];
      }
    for (int d = 0; d < ENC_D; d++) mean[d] /= cnt > 0 ? cnt : 1;
    for (int l = 0; l < ENC_L; l++) {
      s[l] = 0;
      for (int d = 0; d < ENC_D; d++) s[l] += q[d] * t[l][d];
      s[l] /= sqrt((double)ENC_D);
      if (r->mask[b * ENC_L + l] != 0 && s[l] > top) top = s[l];
    }
    for (int l = 0; l < ENC_L; l++) {
      s[l] = r->mask[b * ENC_L + l] != 0 ? exp(s[l] - top) : 0;
      z += s[l];
    }
    for (int l = 0; l < ENC_L; l++)
      for (int d = 0; d < ENC_D; d++) att[d] += (z > 0 ? s[l] / z : 0) * t[l][d];
    for (int c = 0; c < ENC_C; c++) {
      double y = bm[c] + We[c] * r->empty[b];
      for (int d = 0; d < ENC_D; d++) y += Wm[c * ENC_D + d] * mean[d] + Wa[c * ENC_D + d] * att[d];
      cond[b * ENC_C + c] = y;
    }
  }
}

static double enc_loss(const enc_ref *r, double *const *p) {
  double cond[ENC_B * ENC_C], l = 0;
  enc_cond(r, p, cond);
  for (int i = 0; i < ENC_B * ENC_C; i++) l += r->up[i] * cond[i];
  return l;
}

START_TEST(encoder_matches_reference_and_every_gradient) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_vocab *v;
  gmt_ok(gm_vocab_build(&v, k_texts, 4, 1, &err), &err);
  ck_assert_int_eq(gm_vocab_size(v), ENC_V);
  gm_text_encoder_config cfg = {.vocab_size = ENC_V, .dim = ENC_D, .cond_dim = ENC_C};
  gm_params *p;
  gmt_ok(gm_params_create(&p, dev, &err), &err);
  gmt_ok(gm_text_encoder_declare(p, "text.", &cfg, &err), &err);
  gmt_ok(gm_params_finalize(p, &err), &err);
  gm_rng rng;
  gm_rng_init(&rng, 7, 0);
  gmt_ok(gm_text_encoder_init(p, "text.", &cfg, &rng, &err), &err);
  /* the query starts at zero; give it values so the attention weights are not uniform */
  gm_tensor *query = gm_params_find(p, "text.pool.query");
  gmt_ok(gm_rng_uniform(query, &rng, -2, 2, &err), &err);

  /* a full text, one cut by L, one with an unknown word, and one with nothing known */
  const char *texts[ENC_B] = {"winking face", "grinning cat face with sunglasses smile",
                              "cowboy grin", "dog hat"};
  gm_tensor *ids, *mask, *empty;
  gmt_ok(gm_tensor_create(&ids, dev, GM_I32, 2, GM_SHAPE(ENC_B, ENC_L), &err), &err);
  mask = gmt_tensor_from(2, GM_SHAPE(ENC_B, ENC_L), NULL);
  empty = gmt_tensor_from(2, GM_SHAPE(ENC_B, 1), NULL);
  gm_text_unknown unk[ENC_B];
  gmt_ok(gm_text_batch_write(v, texts, ENC_B, ids, mask, empty, unk, &err), &err);
  ck_assert_str_eq(unk[2].words, "cowboy");
  ck_assert_str_eq(unk[3].words, "dog hat");

  enc_ref r;
  gmt_ok(gm_tensor_read(ids, r.ids, sizeof r.ids, &err), &err);
  gmt_ok(gm_tensor_read(mask, r.mask, sizeof r.mask, &err), &err);
  gmt_ok(gm_tensor_read(empty, r.empty, sizeof r.empty, &err), &err);
  ck_assert_float_eq(r.empty[3], 1.0f);
  ck_assert_float_eq(r.empty[0], 0.0f);
  gmt_rng g;
  gmt_rng_seed(&g, 77);
  for (int i = 0; i < ENC_B * ENC_C; i++) r.up[i] = gmt_uniform(&g, -1, 1);

  gm_tensor *cond, *tokens, *upt, *prod, *loss;
  gmt_ok(gm_text_encoder_forward(p, "text.", ids, mask, empty, &cond, &tokens, &err), &err);
  ck_assert_int_eq(tokens->ndim, 3);
  ck_assert_int_eq(tokens->shape[2], ENC_D);
  float upf[ENC_B * ENC_C];
  for (int i = 0; i < ENC_B * ENC_C; i++) upf[i] = (float)r.up[i];
  upt = gmt_tensor_from(2, GM_SHAPE(ENC_B, ENC_C), upf);
  gmt_ok(gm_mul(&prod, cond, upt, &err), &err);
  gmt_ok(gm_sum(&loss, prod, &err), &err);
  gmt_ok(gm_params_zero_grad(p, &err), &err);
  gmt_ok(gm_backward(loss, &err), &err);

  double *pd[6];
  size_t pn[6];
  for (int k = 0; k < 6; k++) {
    gm_tensor *t = gm_params_at(p, k, NULL, NULL);
    pn[k] = (size_t)t->numel;
    float *f = gmt_read(t);
    pd[k] = malloc(pn[k] * sizeof(double));
    for (size_t i = 0; i < pn[k]; i++) pd[k][i] = f[i];
    free(f);
  }
  double want[ENC_B * ENC_C];
  enc_cond(&r, pd, want);
  float *got = gmt_read(cond), wantf[ENC_B * ENC_C];
  for (int i = 0; i < ENC_B * ENC_C; i++) wantf[i] = (float)want[i];
  gmt_assert_close(got, wantf, ENC_B * ENC_C, 1e-4, 1e-5, "text encoder cond");
  for (int k = 0; k < 6; k++) {
    gm_tensor *t = gm_params_at(p, k, NULL, NULL);
    float *gr = gmt_read(t->grad);
    double fd[ENC_V * ENC_D];
    for (size_t i = 0; i < pn[k]; i++) {
      double keep = pd[k][i], h = 1e-4;
      pd[k][i] = keep + h;
      double lp = enc_loss(&r, pd);
      pd[k][i] = keep - h;
      double lm = enc_loss(&r, pd);
      pd[k][i] = keep;
      fd[i] = (lp - lm) / (2 * h);
    }
    char what[64];
    snprintf(what, sizeof what, "gradient of parameter %d", k);
    gmt_assert_grad(gr, fd, pn[k], 1e-3, 1e-5, what);
    free(gr);
  }
  free(got);
  for (int k = 0; k < 6; k++) free(pd[k]);
  gm_tape_reset(dev);
  gm_tensor_destroy(ids);
  gm_tensor_destroy(mask);
  gm_tensor_destroy(empty);
  gm_tensor_destroy(upt);
  gm_params_destroy(p);
  gm_vocab_destroy(v);
}
END_TEST

START_TEST(encoder_refuses_bad_sizes_and_batches) {
  gm_error err = {0};
  gm_params *p;
  gmt_ok(gm_params_create(&p, gmt_device(), &err), &err);
  gm_text_encoder_config bad = {.vocab_size = 1, .dim = 4, .cond_dim = 4};
  ck_assert_int_eq(gm_text_encoder_declare(p, "t.", &bad, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "vocab_size 1"), "%s", err.msg);
  gm_text_encoder_config ok = {.vocab_size = 3, .dim = 4, .cond_dim = 4};
  gmt_ok(gm_text_encoder_declare(p, "t.", &ok, &err), &err);
  ck_assert_int_eq(gm_text_encoder_declare(p, "t.", &ok, &err), GM_EEXISTS);
  gmt_ok(gm_params_finalize(p, &err), &err);
  gm_tensor *cond;
  ck_assert_int_eq(gm_text_encoder_forward(p, "u.", NULL, NULL, NULL, &cond, NULL, &err),
                   GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, "u.embed.weight"), "%s", err.msg);
  gm_vocab *v;
  gmt_ok(gm_vocab_build(&v, k_texts, 4, 1, &err), &err);
  gm_tensor *ids_f = gmt_tensor_from(2, GM_SHAPE(2, 3), NULL);
  gm_tensor *mask = gmt_tensor_from(2, GM_SHAPE(2, 3), NULL);
  gm_tensor *empty = gmt_tensor_from(2, GM_SHAPE(2, 1), NULL);
  const char *texts[2] = {"face", "cat"};
  ck_assert_int_eq(gm_text_batch_write(v, texts, 2, ids_f, mask, empty, NULL, &err), GM_ESHAPE);
  gm_tensor_destroy(ids_f);
  gm_tensor_destroy(mask);
  gm_tensor_destroy(empty);
  gm_vocab_destroy(v);
  gm_params_destroy(p);
}
END_TEST

/* The trainer's condition dropout: a function of (seed, step, place in the batch) alone,
 * at the rate asked for, and never at rate 0. */
START_TEST(condition_dropout_is_a_seeded_draw_at_its_rate) {
  int dropped = 0, differ = 0;
  for (int step = 1; step <= 1000; step++)
    for (int i = 0; i < 10; i++) {
      int a = gm__cond_dropped(7, step, i, 0.15);
      ck_assert_int_eq(a, gm__cond_dropped(7, step, i, 0.15));
      ck_assert_int_eq(gm__cond_dropped(7, step, i, 0), 0);
      ck_assert_int_eq(gm__cond_dropped(7, step, i, 1.0), 1);
      dropped += a;
      differ += a != gm__cond_dropped(8, step, i, 0.15);
    }
  /* 10,000 draws at 0.15: the standard deviation of the share is 0.0036 */
  ck_assert_msg(fabs(dropped / 10000.0 - 0.15) < 0.015, "dropped %d of 10000", dropped);
  ck_assert_msg(differ > 1000, "another seed drops the same texts (%d differ)", differ);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("text");
  TCase *tc = tcase_create("text");
  tcase_add_test(tc, tokenizer_follows_the_documented_rules);
  tcase_add_test(tc, vocabulary_orders_by_text_count_then_bytes);
  tcase_add_test(tc, vocabulary_round_trips_through_a_checkpoint);
  tcase_add_test(tc, broken_stored_vocabularies_are_refused);
  tcase_add_test(tc, prompts_encode_known_words_then_padding_and_name_the_unknown);
  tcase_add_test(tc, encoder_matches_reference_and_every_gradient);
  tcase_add_test(tc, encoder_refuses_bad_sizes_and_batches);
  tcase_add_test(tc, condition_dropout_is_a_seeded_draw_at_its_rate);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
