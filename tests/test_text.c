/* The tokenizer's documented rules, the vocabulary (order, lookups, a round trip through a
 * checkpoint, broken stored forms), and encoding prompts with unknown words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmoji/checkpoint.h"
#include "genmoji/text.h"
#include "testlib.h"

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

static Suite *make_suite(void) {
  Suite *s = suite_create("text");
  TCase *tc = tcase_create("text");
  tcase_add_test(tc, tokenizer_follows_the_documented_rules);
  tcase_add_test(tc, vocabulary_orders_by_text_count_then_bytes);
  tcase_add_test(tc, vocabulary_round_trips_through_a_checkpoint);
  tcase_add_test(tc, broken_stored_vocabularies_are_refused);
  tcase_add_test(tc, prompts_encode_known_words_then_padding_and_name_the_unknown);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
