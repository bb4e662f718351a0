/* The tokenizer and the vocabulary (see text.h for the rules). */
#include "genmoji/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Length of an apostrophe at p (' or U+2019 in UTF-8), 0 when there is none. */
static int apostrophe(const unsigned char *p) {
  if (p[0] == '\'') return 1;
  if (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99) return 3;
  return 0;
}

static int ends_with(const char *w, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && memcmp(w + n - k, suffix, k) == 0;
}

/* The plural rule, in place. */
static void singular(char *w) {
  size_t n = strlen(w);
  if (n < 4 || w[n - 1] != 's') return;
  if (n >= 5 && ends_with(w, n, "ies")) {
    w[n - 3] = 'y';
    w[n - 2] = '\0';
  } else if (ends_with(w, n, "sses") || ends_with(w, n, "xes") || ends_with(w, n, "zes") ||
             ends_with(w, n, "ches") || ends_with(w, n, "shes")) {
    w[n - 2] = '\0';
  } else if (w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i') {
    w[n - 1] = '\0';
  }
}

int gm_text_tokenize(const char *text, char (*words)[GM_TEXT_MAX_WORD], int max, int *dropped) {
  int n = 0, lost = 0;
  char extra[GM_TEXT_MAX_TOKENS * 4][GM_TEXT_MAX_WORD];  /* distinct words that did not fit */
  int n_extra = 0;
  const unsigned char *p = (const unsigned char *)(text ? text : "");
  while (*p) {
    if (!is_word_byte(*p)) {
      p++;
      continue;
    }
    char w[GM_TEXT_MAX_WORD];
    size_t len = 0;
    while (*p) {
      int a = apostrophe(p);
      if (a && len > 0 && is_word_byte(p[a])) {
        p += a;
        continue;
      }
      if (!is_word_byte(*p)) break;
      unsigned char c = *p++;
      if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
      if (len + 1 < sizeof w) w[len++] = (char)c;
    }
    /* a word cut inside a UTF-8 character loses that character's first bytes */
    if (len > 0) {
      size_t start = len - 1;
      while (start > 0 && ((unsigned char)w[start] & 0xC0) == 0x80) start--;
      unsigned char lead = (unsigned char)w[start];
      size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      if (len - start < need) len = start;
    }
    w[len] = '\0';
    if (!len) continue;
    singular(w);
    int seen = 0;
    for (int i = 0; i < n && !seen; i++) seen = strcmp(words[i], w) == 0;
    for (int i = 0; i < n_extra && !seen; i++) seen = strcmp(extra[i], w) == 0;
    if (seen) continue;
    if (n < max) {
      memcpy(words[n++], w, len + 1);
    } else {
      lost++;
      if (n_extra < (int)(sizeof extra / sizeof extra[0])) memcpy(extra[n_extra++], w, len + 1);
    }
  }
  if (dropped) *dropped = lost;
  return n;
}

/* ---- the vocabulary ---- */

typedef struct vocab_word {
  char word[GM_TEXT_MAX_WORD];
  int count;   /* texts that have it (build only) */
  int id;
} vocab_word;

struct gm_vocab {
  vocab_word *by_id;    /* [0] unused: padding */
  vocab_word *sorted;   /* by word, for lookups */
  int size;             /* ids, padding included */
};

void gm_vocab_destroy(gm_vocab *v) {
  if (!v) return;
  free(v->by_id);
  free(v->sorted);
  free(v);
}

static int by_word(const void *a, const void *b) {
  return strcmp(((const vocab_word *)a)->word, ((const vocab_word *)b)->word);
}

static int by_count(const void *a, const void *b) {
  const vocab_word *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return strcmp(x->word, y->word);
}

/* Takes words[0..n) (distinct) in id order and makes the lookup table. */
static int finish(gm_vocab **out, vocab_word *words, int n, gm_error *err) {
  gm_vocab *v = calloc(1, sizeof *v);
  if (v) {
    v->by_id = calloc((size_t)n + 1, sizeof *v->by_id);
    v->sorted = malloc(((size_t)n + 1) * sizeof *v->sorted);
  }
  if (!v || !v->by_id || !v->sorted) {
    gm_vocab_destroy(v);
    return gm_error_set(err, GM_ENOMEM, "vocabulary: out of memory");
  }
  v->size = n + 1;
  for (int i = 0; i < n; i++) {
    v->by_id[i + 1] = words[i];
    v->by_id[i + 1].id = i + 1;
    v->by_id[i + 1].count = 0;
  }
  memcpy(v->sorted, v->by_id + 1, (size_t)n * sizeof *v->sorted);
  qsort(v->sorted, (size_t)n, sizeof *v->sorted, by_word);
  *out = v;
  return 0;
}

int gm_vocab_build(gm_vocab **out, const char *const *texts, int n_texts, int min_count,
                   gm_error *err) {
  *out = NULL;
  if (min_count < 1)
    return gm_error_set(err, GM_EINVAL, "vocabulary: min_count %d must be at least 1", min_count);
  size_t cap = 256, n = 0;
  vocab_word *all = malloc(cap * sizeof *all);
  if (!all) return gm_error_set(err, GM_ENOMEM, "vocabulary: out of memory");
  /* Every text's distinct words (up to 1024 of them), each counted once per text. */
  char (*words)[GM_TEXT_MAX_WORD] = malloc(1024 * sizeof *words);
  if (!words) {
    free(all);
    return gm_error_set(err, GM_ENOMEM, "vocabulary: out of memory");
  }
  for (int t = 0; t < n_texts; t++) {
    int k = gm_text_tokenize(texts[t], words, 1024, NULL);
    for (int i = 0; i < k; i++) {
      vocab_word key;
      memcpy(key.word, words[i], GM_TEXT_MAX_WORD);
      vocab_word *hit = NULL;
      for (size_t j = 0; j < n && !hit; j++)
        if (strcmp(all[j].word, key.word) == 0) hit = &all[j];
      if (hit) {
        hit->count++;
        continue;
      }
      if (n == cap) {
        vocab_word *grown = realloc(all, 2 * cap * sizeof *all);
        if (!grown) {
          free(all);
          free(words);
          return gm_error_set(err, GM_ENOMEM, "vocabulary: out of memory");
        }
        all = grown;
        cap *= 2;
      }
      key.count = 1;
      key.id = 0;
      all[n++] = key;
    }
  }
  free(words);
  qsort(all, n, sizeof *all, by_count);
  size_t kept = 0;
  while (kept < n && all[kept].count >= min_count) kept++;
  int rc = kept == 0 ? gm_error_set(err, GM_EINVAL,
                                    "vocabulary: empty vocabulary (no word in %d of %d texts)",
                                    min_count, n_texts)
                     : finish(out, all, (int)kept, err);
  free(all);
  return rc;
}

int gm_vocab_size(const gm_vocab *v) { return v->size; }

const char *gm_vocab_word(const gm_vocab *v, int id) {
  return id >= 1 && id < v->size ? v->by_id[id].word : NULL;
}

int gm_vocab_id(const gm_vocab *v, const char *word) {
  vocab_word key;
  snprintf(key.word, sizeof key.word, "%s", word);
  const vocab_word *hit = bsearch(&key, v->sorted, (size_t)(v->size - 1), sizeof key, by_word);
  return hit ? hit->id : 0;
}

char *gm_vocab_serialize(const gm_vocab *v) {
  size_t bytes = 1;
  for (int i = 1; i < v->size; i++) bytes += strlen(v->by_id[i].word) + 1;
  char *s = malloc(bytes), *p = s;
  if (!s) return NULL;
  *p = '\0';
  for (int i = 1; i < v->size; i++) {
    if (i > 1) *p++ = ' ';
    size_t l = strlen(v->by_id[i].word);
    memcpy(p, v->by_id[i].word, l + 1);
    p += l;
  }
  return s;
}

int gm_vocab_parse(gm_vocab **out, const char *s, const char *what, gm_error *err) {
  *out = NULL;
  size_t cap = 64, n = 0;
  vocab_word *words = malloc(cap * sizeof *words);
  if (!words) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", what);
  int rc = 0;
  for (const char *p = s; *p && !rc;) {
    const char *e = strchr(p, ' ');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    char w[GM_TEXT_MAX_WORD * 2] = "";
    if (l < sizeof w) {
      memcpy(w, p, l);
      w[l] = '\0';
    }
    /* a valid word is one the tokenizer gives back unchanged */
    char tok[2][GM_TEXT_MAX_WORD];
    int k = l && l < sizeof w ? gm_text_tokenize(w, tok, 2, NULL) : 0;
    if (k != 1 || strcmp(tok[0], w) != 0) {
      rc = gm_error_set(err, GM_EFORMAT, "%s: word %zu \"%.*s\" is not a vocabulary word", what,
                        n + 1, (int)(l > 40 ? 40 : l), p);
      break;
    }
    for (size_t j = 0; j < n; j++)
      if (strcmp(words[j].word, w) == 0)
        rc = gm_error_set(err, GM_EFORMAT, "%s: word %zu \"%s\" repeats word %zu", what, n + 1, w,
                          j + 1);
    if (rc) break;
    if (n == cap) {
      vocab_word *grown = realloc(words, 2 * cap * sizeof *words);
      if (!grown) {
        rc = gm_error_set(err, GM_ENOMEM, "%s: out of memory", what);
        break;
      }
      words = grown;
      cap *= 2;
    }
    memset(&words[n], 0, sizeof words[n]);
    memcpy(words[n++].word, w, l + 1);
    if (!e) break;
    p = e + 1;
    if (!*p) rc = gm_error_set(err, GM_EFORMAT, "%s: ends with a space", what);
  }
  if (!rc && n == 0) rc = gm_error_set(err, GM_EFORMAT, "%s: empty vocabulary", what);
  if (!rc) rc = finish(out, words, (int)n, err);
  free(words);
  return rc;
}

int gm_vocab_encode(const gm_vocab *v, const char *text, int32_t *ids, float *mask, int L,
                    gm_text_unknown *unknown) {
  char words[GM_TEXT_MAX_TOKENS][GM_TEXT_MAX_WORD];
  int k = gm_text_tokenize(text, words, GM_TEXT_MAX_TOKENS, NULL), n = 0;
  if (unknown) {
    unknown->count = 0;
    unknown->words[0] = '\0';
  }
  for (int i = 0; i < k; i++) {
    int id = gm_vocab_id(v, words[i]);
    if (id == 0) {
      if (unknown) {
        size_t used = strlen(unknown->words);
        snprintf(unknown->words + used, sizeof unknown->words - used, "%s%s",
                 unknown->count ? " " : "", words[i]);
        unknown->count++;
      }
      continue;
    }
    if (n < L) ids[n++] = id;
  }
  for (int i = 0; i < L; i++) {
    mask[i] = i < n ? 1.0f : 0.0f;
    if (i >= n) ids[i] = 0;
  }
  return n;
}
