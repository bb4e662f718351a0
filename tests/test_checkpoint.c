/* Checkpoints (.safetensors): bit-exact round trips, files laid out as PyTorch's
 * safetensors.torch.save_file writes them, dtype conversions, every kind of corruption
 * refused with a message, atomic writes that keep the previous file, load_params. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "testlib.h"

/* A fresh folder for one test under the process's temporary folder. */
static const char *test_dir(const char *name) {
  static char buf[4][1024];
  static int k;
  char *b = buf[k++ & 3];
  snprintf(b, 1024, "%s/%s", gmt_tmpdir(), name);
  ck_assert_msg(mkdir(b, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", b, strerror(errno));
  return b;
}

static const char *join(const char *dir, const char *name) {
  static char buf[8][1024];
  static int k;
  char *b = buf[k++ & 7], tmp[1024];
  snprintf(tmp, sizeof tmp, "%s/%s", dir, name);  /* dir may be an earlier result */
  memcpy(b, tmp, sizeof tmp);
  return b;
}

static void put_le(uint8_t *b, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) b[i] = (uint8_t)(v >> 8 * i);
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* A file with an arbitrary length field, header bytes and data bytes. */
static void write_raw(const char *path, uint64_t len_field, const void *header, size_t hlen,
                      const void *data, size_t dlen) {
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot create %s", path);
  uint8_t lb[8];
  put_le(lb, len_field, 8);
  ck_assert(fwrite(lb, 1, 8, f) == 8);
  if (hlen) ck_assert(fwrite(header, 1, hlen, f) == hlen);
  if (dlen) ck_assert(fwrite(data, 1, dlen, f) == dlen);
  ck_assert(fclose(f) == 0);
}

/* A well-framed file: the header's true length, then dlen bytes of data (zeros if NULL). */
static void write_st(const char *path, const char *header, const void *data, size_t dlen) {
  uint8_t *zeros = NULL;
  if (!data) data = zeros = calloc(1, dlen + 1);
  write_raw(path, strlen(header), header, strlen(header), data, dlen);
  free(zeros);
}

/* Tensors given as raw little-endian bytes, written in the layout safetensors.torch uses:
 * compact JSON, no __metadata__ unless given, tightly packed data, header padded with
 * spaces to a multiple of 8. */
typedef struct raw_tensor {
  const char *name, *dtype;
  int ndim;
  int64_t shape[4];
  const uint8_t *bytes;
  size_t n_bytes;
} raw_tensor;

static void write_torch_layout(const char *path, const raw_tensor *t, int n, const char *meta) {
  size_t cap = 1 << 16, used = 0, data_len = 0;
  char *h = malloc(cap);
  used += (size_t)snprintf(h + used, cap - used, "{");
  if (meta) used += (size_t)snprintf(h + used, cap - used, "\"__metadata__\":%s,", meta);
  for (int i = 0; i < n; i++) {
    used += (size_t)snprintf(h + used, cap - used, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                             i ? "," : "", t[i].name, t[i].dtype);
    for (int d = 0; d < t[i].ndim; d++)
      used += (size_t)snprintf(h + used, cap - used, "%s%lld", d ? "," : "",
                               (long long)t[i].shape[d]);
    used += (size_t)snprintf(h + used, cap - used, "],\"data_offsets\":[%zu,%zu]}", data_len,
                             data_len + t[i].n_bytes);
    data_len += t[i].n_bytes;
  }
  used += (size_t)snprintf(h + used, cap - used, "}");
  while (used % 8) h[used++] = ' ';
  h[used] = '\0';
  ck_assert(used < cap);
  uint8_t *data = malloc(data_len + 1);
  for (size_t i = 0, at = 0; i < (size_t)n; at += t[i].n_bytes, i++)
    memcpy(data + at, t[i].bytes, t[i].n_bytes);
  write_raw(path, used, h, used, data, data_len);
  free(data);
  free(h);
}

static gm_tensor *tensor_f32(int ndim, const int64_t *shape, const float *v) {
  gm_error err = {0};
  gm_tensor *t;
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_F32, ndim, shape, &err), &err);
  gmt_ok(gm_tensor_write(t, v, gm_tensor_bytes(t), &err), &err);
  return t;
}

static gm_tensor *tensor_i32(int ndim, const int64_t *shape, const int32_t *v) {
  gm_error err = {0};
  gm_tensor *t;
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_I32, ndim, shape, &err), &err);
  gmt_ok(gm_tensor_write(t, v, gm_tensor_bytes(t), &err), &err);
  return t;
}

/* Opening `path` fails with `code`, and the message names the file and says a and b. */
static void refused_(const char *path, int code, const char *a, const char *b,
                     const char *where) {
  gm_error err = {0};
  gm_checkpoint *c = NULL;
  int rc = gm_checkpoint_open(&c, path, &err);
  ck_assert_msg(rc == code, "%s: %s: got %s, want %s (%s)", where, path, gm_err_name(rc),
                gm_err_name(code), err.msg);
  ck_assert_ptr_null(c);
  ck_assert_msg(strstr(err.msg, path) != NULL, "%s: '%s' does not name the file", where,
                err.msg);
  ck_assert_msg(!a || strstr(err.msg, a), "%s: '%s' lacks '%s'", where, err.msg, a);
  ck_assert_msg(!b || strstr(err.msg, b), "%s: '%s' lacks '%s'", where, err.msg, b);
}
#define GMT_STR_(x) #x
#define GMT_STR(x) GMT_STR_(x)
#define refused(path, a, b) refused_((path), GM_EFORMAT, (a), (b), "line " GMT_STR(__LINE__))

/* Files in dir whose name holds ".tmp.": what a failed write must not leave behind. */
static int count_temps(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
  closedir(d);
  return n;
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*n + 1);
  ck_assert(fread(b, 1, *n, f) == *n);
  b[*n] = 0;  /* so the header can be searched as text */
  fclose(f);
  return b;
}

START_TEST(round_trip_is_bit_exact_for_f32_and_i32) {
  gm_error err = {0};
  const char *path = join(test_dir("roundtrip"), "rt.safetensors");
  gmt_rng r;
  gmt_rng_seed(&r, 11);
  float a[24];
  gmt_fill_uniform(&r, a, 24, -3, 3);
  /* Values a float round trip through text or arithmetic would not keep. */
  a[0] = bits_f32(0x7fc00001u);  /* NaN with a payload */
  a[1] = bits_f32(0xffffffffu);
  a[2] = -0.0f;
  a[3] = INFINITY;
  a[4] = bits_f32(0x00000001u);  /* smallest subnormal */
  a[5] = 3.4028235e38f;
  float one[1] = {0.1f};
  float five[2 * 1 * 3 * 1 * 2];
  gmt_fill_uniform(&r, five, 12, -1, 1);
  int32_t ints[5] = {INT32_MIN, INT32_MAX, -1, 0, 7};
  int32_t scalar[1] = {-42};
  gm_tensor *ta = tensor_f32(3, GM_SHAPE(2, 3, 4), a);
  gm_tensor *tb = tensor_f32(1, GM_SHAPE(1), one);
  gm_tensor *tc = tensor_i32(1, GM_SHAPE(5), ints);
  gm_tensor *td = tensor_f32(5, GM_SHAPE(2, 1, 3, 1, 2), five);
  gm_tensor *te = tensor_i32(0, NULL, scalar);
  gm_tensor *tf = tensor_f32(2, GM_SHAPE(0, 4), NULL);
  gm_named_tensor nt[] = {{"layer.a", ta}, {"b", tb}, {"ints", tc}, {"five.d", td},
                          {"count", te}, {"empty", tf}};
  gmt_ok(gm_checkpoint_write(path, nt, 6, NULL, 0, &err), &err);

  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  ck_assert_str_eq(gm_checkpoint_path(c), path);
  ck_assert_int_eq(gm_checkpoint_count(c), 6);
  ck_assert_int_eq(gm_checkpoint_meta_count(c), 0);
  ck_assert_ptr_null(gm_checkpoint_meta_at(c, 0));
  static const char *dtypes[] = {"F32", "F32", "I64", "F32", "I64", "F32"};
  for (int i = 0; i < 6; i++) {
    const gm_checkpoint_entry *e = gm_checkpoint_entry_at(c, i);
    ck_assert_str_eq(e->name, nt[i].name);  /* file order is the given order */
    ck_assert_str_eq(e->dtype, dtypes[i]);
    ck_assert_int_eq(e->ndim, nt[i].tensor->ndim);
    for (int d = 0; d < e->ndim; d++) ck_assert_int_eq(e->shape[d], nt[i].tensor->shape[d]);
    ck_assert_ptr_eq(gm_checkpoint_find(c, nt[i].name), e);
  }
  ck_assert_ptr_null(gm_checkpoint_find(c, "missing"));
  ck_assert_ptr_null(gm_checkpoint_entry_at(c, 6));

  for (int i = 0; i < 6; i++) {
    gm_tensor *t;
    gmt_ok(gm_checkpoint_read_new(c, nt[i].name, gmt_device(), &t, &err), &err);
    ck_assert_int_eq(t->dtype, nt[i].tensor->dtype);
    ck_assert_int_eq(t->ndim, nt[i].tensor->ndim);
    ck_assert_str_eq(t->name, nt[i].name);
    size_t bytes = gm_tensor_bytes(t);
    ck_assert_uint_eq(bytes, gm_tensor_bytes(nt[i].tensor));
    uint8_t *got = malloc(bytes + 1), *want = malloc(bytes + 1);
    gmt_ok(gm_tensor_read(t, got, bytes, &err), &err);
    gmt_ok(gm_tensor_read(nt[i].tensor, want, bytes, &err), &err);
    ck_assert_msg(memcmp(got, want, bytes) == 0, "tensor '%s' changed on the way", nt[i].name);
    free(got);
    free(want);
    gm_tensor_destroy(t);
  }
  /* Into an existing tensor too. */
  float zeros[24] = {0};
  gm_tensor *back = tensor_f32(3, GM_SHAPE(2, 3, 4), zeros);
  gmt_ok(gm_checkpoint_read(c, "layer.a", back, &err), &err);
  float got[24];
  gmt_ok(gm_tensor_read(back, got, sizeof got, &err), &err);
  ck_assert(memcmp(got, a, sizeof a) == 0);
  gm_tensor_destroy(back);
  gm_checkpoint_close(c);

  /* On disk: padded header, I32 as sign-extended little-endian I64, tight packing. */
  size_t n;
  uint8_t *file = slurp(path, &n);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | file[i];
  ck_assert_uint_eq(hlen % 8, 0);
  ck_assert_uint_eq(n, 8 + hlen + (24 + 1 + 12 + 0) * 4 + (5 + 1) * 8);
  const uint8_t *ints_at = file + 8 + hlen + 25 * 4;  /* after layer.a and b */
  static const uint8_t want_ints[16] = {0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0};
  ck_assert(memcmp(ints_at, want_ints, 16) == 0);
  ck_assert(memcmp(file + 8 + hlen, (const uint8_t[]){0x01, 0x00, 0xc0, 0x7f}, 4) == 0);
  ck_assert(strstr((const char *)file + 8, "\"ints\":{\"dtype\":\"I64\",\"shape\":[5],"
                   "\"data_offsets\":[100,140]}") != NULL);
  ck_assert(strstr((const char *)file + 8, "\"count\":{\"dtype\":\"I64\",\"shape\":[],") != NULL);
  free(file);
  gm_tensor *all[] = {ta, tb, tc, td, te, tf};
  for (int i = 0; i < 6; i++) gm_tensor_destroy(all[i]);
}
END_TEST

/* Tens of megabytes: read and written in chunks, offsets past 2^24 stay exact. */
START_TEST(large_tensors_round_trip) {
  gm_error err = {0};
  const char *path = join(test_dir("large"), "big.safetensors");
  enum { N = 12 * 1000 * 1000 + 3 };
  float *v = malloc((size_t)N * 4);
  gmt_rng r;
  gmt_rng_seed(&r, 5);
  gmt_fill_uniform(&r, v, N, -1, 1);
  gm_tensor *a = tensor_f32(2, GM_SHAPE(3, N / 3), v), *b = tensor_f32(1, GM_SHAPE(7), v + 100);
  gmt_ok(gm_checkpoint_write(path, (gm_named_tensor[]){{"big", a}, {"tail", b}}, 2, NULL, 0,
                             &err), &err);
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  gm_tensor *t;
  gmt_ok(gm_checkpoint_read_new(c, "big", gmt_device(), &t, &err), &err);
  float *got = gmt_read(t);
  ck_assert(memcmp(got, v, (size_t)N * 4) == 0);
  free(got);
  gm_tensor_destroy(t);
  gmt_ok(gm_checkpoint_read_new(c, "tail", gmt_device(), &t, &err), &err);
  got = gmt_read(t);
  ck_assert(memcmp(got, v + 100, 7 * 4) == 0);
  free(got);
  gm_tensor_destroy(t);
  gm_checkpoint_close(c);
  unlink(path);
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
  free(v);
}
END_TEST

START_TEST(metadata_strings_round_trip) {
  gm_error err = {0};
  const char *path = join(test_dir("meta"), "meta.safetensors");
  float v[3] = {1, 2, 3};
  gm_tensor *t = tensor_f32(1, GM_SHAPE(3), v);
  gm_kv meta[] = {
    {"model", "pixelcnn"},
    {"config", "{\"width\": 64, \"path\": \"C:\\\\data\\\\x\"}"},
    {"quote\"key\\", "line1\nline2\ttab\x01"},
    {"emoji", "\xf0\x9f\x98\x80 grinning face, caf\xc3\xa9, \xe2\x82\xac"},
    {"empty", ""},
  };
  gm_named_tensor nt[] = {{"w", t}};
  gmt_ok(gm_checkpoint_write(path, nt, 1, meta, 5, &err), &err);
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  ck_assert_int_eq(gm_checkpoint_meta_count(c), 5);
  for (int i = 0; i < 5; i++) {
    const gm_kv *kv = gm_checkpoint_meta_at(c, i);
    ck_assert_str_eq(kv->key, meta[i].key);
    ck_assert_str_eq(kv->value, meta[i].value);
    ck_assert_str_eq(gm_checkpoint_meta(c, meta[i].key), meta[i].value);
  }
  ck_assert_ptr_null(gm_checkpoint_meta(c, "step"));
  ck_assert_int_eq(gm_checkpoint_count(c), 1);
  gm_checkpoint_close(c);
  gm_tensor_destroy(t);
}
END_TEST

START_TEST(writes_refuse_bad_names_and_metadata_and_create_nothing) {
  gm_error err = {0};
  const char *dir = test_dir("badnames");
  const char *path = join(dir, "x.safetensors");
  float v[2] = {1, 2};
  gm_tensor *t = tensor_f32(1, GM_SHAPE(2), v);
  gm_named_tensor dup[] = {{"a", t}, {"b", t}, {"a", t}};
  ck_assert_int_eq(gm_checkpoint_write(path, dup, 3, NULL, 0, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "'a' is given twice") && strstr(err.msg, path), "%s", err.msg);
  gm_named_tensor empty[] = {{"", t}};
  ck_assert_int_eq(gm_checkpoint_write(path, empty, 1, NULL, 0, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "no name"), "%s", err.msg);
  gm_named_tensor reserved[] = {{"__metadata__", t}};
  ck_assert_int_eq(gm_checkpoint_write(path, reserved, 1, NULL, 0, &err), GM_EINVAL);
  gm_named_tensor null_t[] = {{"w", NULL}};
  ck_assert_int_eq(gm_checkpoint_write(path, null_t, 1, NULL, 0, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "'w'"), "%s", err.msg);
  gm_named_tensor ok[] = {{"w", t}};
  gm_kv bad_utf8[] = {{"k", "\xc3\x28"}};
  ck_assert_int_eq(gm_checkpoint_write(path, ok, 1, bad_utf8, 1, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "'k'") && strstr(err.msg, "UTF-8"), "%s", err.msg);
  gm_kv dup_meta[] = {{"step", "1"}, {"step", "2"}};
  ck_assert_int_eq(gm_checkpoint_write(path, ok, 1, dup_meta, 2, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "'step'"), "%s", err.msg);
  struct stat st;
  ck_assert_int_ne(stat(path, &st), 0);
  ck_assert_int_eq(count_temps(dir), 0);
  gm_tensor_destroy(t);
}
END_TEST

static void fill_f32_le(uint8_t *b, const float *v, size_t n) {
  for (size_t i = 0; i < n; i++) put_le(b + 4 * i, f32_bits(v[i]), 4);
}

/* The study's keys in the order and layout safetensors.torch.save_file gives them:
 * sorted by dtype alignment (the I64 scalar first), then by name. */
START_TEST(file_in_pytorch_layout_loads_into_params) {
  gm_error err = {0};
  const char *path = join(test_dir("torch"), "weights.safetensors");
  enum { C = 64, K = 64 * 3 * 3 * 3 };
  static float wv[K], mv[K], bias[C], bnw[C], bnb[C], rm[C], rv[C];
  for (int i = 0; i < K; i++) {
    wv[i] = (float)i * 0.001f - 3.0f;
    mv[i] = (float)(i % 3 != 0);
  }
  for (int i = 0; i < C; i++) {
    bias[i] = (float)i / 7.0f;
    bnw[i] = 1.0f + (float)i / 64.0f;
    bnb[i] = -(float)i;
    rm[i] = (float)i * 0.5f;
    rv[i] = 2.0f + (float)i;
  }
  static uint8_t bw[4 * K], bm[4 * K], bb[4 * C], bnwb[4 * C], bnbb[4 * C], rmb[4 * C],
      rvb[4 * C], nbt[8];
  fill_f32_le(bw, wv, K);
  fill_f32_le(bm, mv, K);
  fill_f32_le(bb, bias, C);
  fill_f32_le(bnwb, bnw, C);
  fill_f32_le(bnbb, bnb, C);
  fill_f32_le(rmb, rm, C);
  fill_f32_le(rvb, rv, C);
  put_le(nbt, 12345, 8);
  raw_tensor t[] = {
    {"bn.num_batches_tracked", "I64", 0, {0}, nbt, 8},
    {"bn.bias", "F32", 1, {C}, bnbb, sizeof bnbb},
    {"bn.running_mean", "F32", 1, {C}, rmb, sizeof rmb},
    {"bn.running_var", "F32", 1, {C}, rvb, sizeof rvb},
    {"bn.weight", "F32", 1, {C}, bnwb, sizeof bnwb},
    {"conv1.bias", "F32", 1, {C}, bb, sizeof bb},
    {"conv1.mask", "F32", 4, {C, 3, 3, 3}, bm, sizeof bm},
    {"conv1.weight", "F32", 4, {C, 3, 3, 3}, bw, sizeof bw},
  };
  write_torch_layout(path, t, 8, NULL);

  gm_params *p;
  gmt_ok(gm_params_create(&p, gmt_device(), &err), &err);
  gmt_ok(gm_params_declare(p, "conv1.weight", GM_F32, 4, GM_SHAPE(C, 3, 3, 3), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "conv1.bias", GM_F32, 1, GM_SHAPE(C), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "conv1.mask", GM_F32, 4, GM_SHAPE(C, 3, 3, 3), GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.weight", GM_F32, 1, GM_SHAPE(C), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.bias", GM_F32, 1, GM_SHAPE(C), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.running_mean", GM_F32, 1, GM_SHAPE(C), GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.running_var", GM_F32, 1, GM_SHAPE(C), GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.num_batches_tracked", GM_I32, 0, NULL, GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_finalize(p, &err), &err);

  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  ck_assert_int_eq(gm_checkpoint_count(c), 8);
  ck_assert_int_eq(gm_checkpoint_meta_count(c), 0);
  const gm_checkpoint_entry *e = gm_checkpoint_find(c, "bn.num_batches_tracked");
  ck_assert_ptr_nonnull(e);
  ck_assert_int_eq(e->ndim, 0);
  ck_assert_str_eq(e->dtype, "I64");
  gmt_ok(gm_checkpoint_load_params(c, p, NULL, &err), &err);

  struct { const char *name; const float *want; int n; } f[] = {
    {"conv1.weight", wv, K}, {"conv1.mask", mv, K}, {"conv1.bias", bias, C},
    {"bn.weight", bnw, C},   {"bn.bias", bnb, C},   {"bn.running_mean", rm, C},
    {"bn.running_var", rv, C},
  };
  for (int i = 0; i < 7; i++) {
    float *got = gmt_read(gm_params_find(p, f[i].name));
    ck_assert_msg(memcmp(got, f[i].want, (size_t)f[i].n * 4) == 0, "'%s' differs", f[i].name);
    free(got);
  }
  int32_t nb = 0;
  gmt_ok(gm_tensor_read(gm_params_find(p, "bn.num_batches_tracked"), &nb, 4, &err), &err);
  ck_assert_int_eq(nb, 12345);

  gm_tensor *scalar;
  gmt_ok(gm_checkpoint_read_new(c, "bn.num_batches_tracked", gmt_device(), &scalar, &err), &err);
  ck_assert_int_eq(scalar->dtype, GM_I32);
  ck_assert_int_eq(scalar->ndim, 0);
  ck_assert_int_eq(scalar->numel, 1);
  gm_tensor_destroy(scalar);
  gm_checkpoint_close(c);
  gm_params_destroy(p);
}
END_TEST

START_TEST(float_and_integer_dtypes_convert) {
  gm_error err = {0};
  const char *path = join(test_dir("dtypes"), "dtypes.safetensors");
  static const double f64v[6] = {1.0 / 3.0, -0.0, 1e-40, 1e39, -2.5, 65504.0};
  uint8_t f64b[48];
  for (int i = 0; i < 6; i++) {
    uint64_t u;
    memcpy(&u, &f64v[i], 8);
    put_le(f64b + 8 * i, u, 8);
  }
  static const uint16_t f16v[11] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400,
                                    0x7c00, 0xfc00, 0x8000, 0x3555, 0x7e00};
  static const float f16want[10] = {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-8f,
                                    6.097555160522461e-05f, 6.103515625e-05f, INFINITY,
                                    -INFINITY, -0.0f, 0.333251953125f};
  uint8_t f16b[22];
  for (int i = 0; i < 11; i++) put_le(f16b + 2 * i, f16v[i], 2);
  static const uint16_t bf16v[4] = {0x3f80, 0xc049, 0x7f80, 0x0001};
  uint8_t bf16b[8];
  for (int i = 0; i < 4; i++) put_le(bf16b + 2 * i, bf16v[i], 2);
  uint8_t i64b[24], big[16], i32b[8], i16b[6], i8b[3] = {0x80, 0x7f, 0xff},
                                                 u8b[3] = {0, 255, 7}, boolb[2] = {0, 1};
  put_le(i64b, (uint64_t)(int64_t)INT32_MIN, 8);
  put_le(i64b + 8, INT32_MAX, 8);
  put_le(i64b + 16, 0, 8);
  put_le(big, 1, 8);
  put_le(big + 8, (uint64_t)1 << 31, 8);
  put_le(i32b, 0x80000000u, 4);
  put_le(i32b + 4, 5, 4);
  put_le(i16b, 0x8000, 2);
  put_le(i16b + 2, 0x7fff, 2);
  put_le(i16b + 4, 0xffff, 2);
  raw_tensor t[] = {
    {"f64", "F64", 2, {2, 3}, f64b, 48},  {"f16", "F16", 1, {11}, f16b, 22},
    {"bf16", "BF16", 1, {4}, bf16b, 8},   {"i64", "I64", 1, {3}, i64b, 24},
    {"big", "I64", 1, {2}, big, 16},      {"i32", "I32", 1, {2}, i32b, 8},
    {"i16", "I16", 1, {3}, i16b, 6},      {"i8", "I8", 1, {3}, i8b, 3},
    {"u8", "U8", 1, {3}, u8b, 3},         {"bool", "BOOL", 1, {2}, boolb, 2},
  };
  write_torch_layout(path, t, 10, "{\"format\":\"pt\"}");
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  ck_assert_str_eq(gm_checkpoint_meta(c, "format"), "pt");

  gm_tensor *x;
  gmt_ok(gm_checkpoint_read_new(c, "f64", gmt_device(), &x, &err), &err);
  ck_assert_int_eq(x->dtype, GM_F32);
  float *g = gmt_read(x);
  for (int i = 0; i < 6; i++)
    ck_assert_msg(f32_bits(g[i]) == f32_bits((float)f64v[i]), "F64 element %d: %a", i, g[i]);
  free(g);
  gm_tensor_destroy(x);

  gmt_ok(gm_checkpoint_read_new(c, "f16", gmt_device(), &x, &err), &err);
  g = gmt_read(x);
  for (int i = 0; i < 10; i++)
    ck_assert_msg(f32_bits(g[i]) == f32_bits(f16want[i]), "F16 0x%04x: got %a, want %a",
                  f16v[i], g[i], f16want[i]);
  ck_assert(isnan(g[10]));
  free(g);
  gm_tensor_destroy(x);

  gmt_ok(gm_checkpoint_read_new(c, "bf16", gmt_device(), &x, &err), &err);
  g = gmt_read(x);
  ck_assert(g[0] == 1.0f && g[1] == -3.140625f && g[2] == INFINITY);
  ck_assert_uint_eq(f32_bits(g[3]), 0x00010000u);
  free(g);
  gm_tensor_destroy(x);

  struct { const char *name; int n; int32_t want[3]; } ints[] = {
    {"i64", 3, {INT32_MIN, INT32_MAX, 0}}, {"i32", 2, {INT32_MIN, 5}},
    {"i16", 3, {-32768, 32767, -1}},       {"i8", 3, {-128, 127, -1}},
    {"u8", 3, {0, 255, 7}},                {"bool", 2, {0, 1}},
  };
  for (int k = 0; k < 6; k++) {
    gmt_ok(gm_checkpoint_read_new(c, ints[k].name, gmt_device(), &x, &err), &err);
    ck_assert_int_eq(x->dtype, GM_I32);
    int32_t got[3];
    gmt_ok(gm_tensor_read(x, got, (size_t)ints[k].n * 4, &err), &err);
    for (int i = 0; i < ints[k].n; i++)
      ck_assert_msg(got[i] == ints[k].want[i], "%s[%d]: got %d, want %d", ints[k].name, i,
                    got[i], ints[k].want[i]);
    gm_tensor_destroy(x);
  }

  /* An I64 past int32 and a float read into an int tensor are refused by name. */
  ck_assert_int_eq(gm_checkpoint_read_new(c, "big", gmt_device(), &x, &err), GM_ERANGE);
  ck_assert_ptr_null(x);
  ck_assert_msg(strstr(err.msg, "'big'") && strstr(err.msg, "element 1") &&
                strstr(err.msg, "2147483648"), "%s", err.msg);
  gm_tensor *it = tensor_i32(1, GM_SHAPE(11), (int32_t[11]){0});
  ck_assert_int_eq(gm_checkpoint_read(c, "f16", it, &err), GM_EDTYPE);
  ck_assert_msg(strstr(err.msg, "'f16'") && strstr(err.msg, "F16"), "%s", err.msg);
  ck_assert_int_eq(gm_checkpoint_read(c, "nope", it, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, "'nope'"), "%s", err.msg);
  gm_tensor_destroy(it);
  gm_checkpoint_close(c);
}
END_TEST

START_TEST(short_files_and_bad_header_lengths_are_refused) {
  const char *dir = test_dir("lengths");
  const char *p0 = join(dir, "empty.safetensors"), *p7 = join(dir, "seven.safetensors");
  FILE *f = fopen(p0, "wb");
  fclose(f);
  refused(p0, "header", "0 bytes");
  f = fopen(p7, "wb");
  fwrite("\x10\0\0\0\0\0\0", 1, 7, f);
  fclose(f);
  refused(p7, "header", "7 bytes");

  const char *h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  const char *past = join(dir, "past.safetensors");
  write_raw(past, strlen(h) + 5, h, strlen(h), "\0\0\0\0", 4);
  refused(past, "header", "past the end");
  const char *huge = join(dir, "huge.safetensors");
  write_raw(huge, (uint64_t)1 << 63, h, strlen(h), "\0\0\0\0", 4);
  refused(huge, "header", "limit");
  const char *over = join(dir, "over.safetensors");
  write_raw(over, 200u * 1000 * 1000, h, strlen(h), "\0\0\0\0", 4);
  refused(over, "header", "limit");
  const char *zero = join(dir, "zero.safetensors");
  write_raw(zero, 0, NULL, 0, NULL, 0);
  refused(zero, "header", "not valid JSON");

  gm_error err = {0};
  gm_checkpoint *c = NULL;
  ck_assert_int_eq(gm_checkpoint_open(&c, join(dir, "absent.safetensors"), &err), GM_ENOTFOUND);
  ck_assert_ptr_null(c);
  ck_assert_msg(strstr(err.msg, "absent.safetensors"), "%s", err.msg);
  ck_assert_int_eq(gm_checkpoint_open(&c, dir, &err), GM_EIO);  /* a folder */
}
END_TEST

/* Each header over 16 zero bytes of data is refused; the message names who and what. */
static const struct {
  const char *header, *who, *what;
} bad_headers[] = {
  {"{\"w\":", "header", "not valid JSON"},
  {"{\"w\":{\"dtype\":\"F32\",}}", "header", "not valid JSON"},
  {"[1, 2]", "header", "not a JSON object"},
  {"\"weights\"", "header", "not a JSON object"},
  {"{} x", "header", "after the JSON"},
  {"{\"w\":[0, 4]}", "'w'", "not a JSON object"},
  {"{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", "'w'",
   "unknown dtype 'F8_E4M3'"},
  {"{\"w\":{\"dtype\":\"f32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "'w'", "unknown dtype"},
  {"{\"w\":{\"dtype\":4,\"shape\":[4],\"data_offsets\":[0,16]}}", "'w'", "dtype is not a string"},
  {"{\"w\":{\"shape\":[4],\"data_offsets\":[0,16]}}", "'w'", "no dtype"},
  {"{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", "'w'", "no shape"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", "'w'", "not an array"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", "'w'",
   "shape entry 0 is not a non-negative integer"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,1.5],\"data_offsets\":[0,12]}}", "'w'",
   "shape entry 1"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[\"4\"],\"data_offsets\":[0,16]}}", "'w'", "shape entry 0"},
  {"{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", "'w'",
   "9 dimensions"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", "'w'", "no data_offsets"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8,16]}}", "'w'", "[begin, end]"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":{\"0\":16}}}", "'w'", "[begin, end]"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[-4,0]}}", "'w'",
   "not non-negative integers"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", "'w'",
   "end before they begin"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", "'w'",
   "outside the data section of 16 bytes"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", "'w'", "outside"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", "'w'",
   "hold 16 bytes but shape (3) of F32 needs 3 x 4"},
  {"{\"w\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", "'w'", "shape () of I64"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}",
   "'w'", "shape entry 0"},
  {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576,1048576,1048576],"
   "\"data_offsets\":[0,16]}}", "'w'", "more elements"},
  {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "'b'",
   "overlap those of 'a' [0, 8]"},
  {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
   "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[15,16]}}", "'b'", "overlap"},
  {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
   "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "'a'", "appears twice"},
  {"{\"__metadata__\":\"pt\"}", "header", "__metadata__ is not a JSON object"},
  {"{\"__metadata__\":{\"step\":5}}", "header", "'step' is not a string"},
  {"{\"__metadata__\":{\"opts\":{\"a\":\"b\"}}}", "header", "'opts' is not a string"},
  {"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "header", "'a' appears twice"},
  {"{\"__metadata__\":{},\"__metadata__\":{}}", "header", "__metadata__ appears twice"},
};

START_TEST(malformed_headers_are_refused_by_name) {
  const char *dir = test_dir("headers");
  for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "bad%02zu.safetensors", i);
    const char *path = join(dir, name);
    write_st(path, bad_headers[i].header, NULL, 16);
    refused_(path, GM_EFORMAT, bad_headers[i].who, bad_headers[i].what, bad_headers[i].header);
  }
  /* An empty tensor at the end of the data is fine; extra fields are ignored. */
  const char *ok = join(dir, "ok.safetensors");
  write_st(ok, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"x\":1},"
               "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[16,16]}}   ", NULL, 16);
  gm_error err = {0};
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, ok, &err), &err);
  ck_assert_int_eq(gm_checkpoint_count(c), 2);
  gm_checkpoint_close(c);
}
END_TEST

START_TEST(truncated_data_is_refused_naming_the_tensor) {
  gm_error err = {0};
  const char *dir = test_dir("truncated");
  const char *path = join(dir, "t.safetensors");
  static float v[8196];  /* "last" lies beyond what stdio buffered when the header was read */
  for (int i = 0; i < 8196; i++) v[i] = (float)i;
  gm_tensor *a = tensor_f32(1, GM_SHAPE(8192), v), *b = tensor_f32(2, GM_SHAPE(2, 2), v + 8192);
  gm_named_tensor nt[] = {{"first", a}, {"last", b}};
  gmt_ok(gm_checkpoint_write(path, nt, 2, NULL, 0, &err), &err);
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(truncate(path, st.st_size - 3), 0);
  refused(path, "'last'", "outside the data section");

  /* A file cut short after it was opened: the read fails, naming the tensor. */
  gmt_ok(gm_checkpoint_write(path, nt, 2, NULL, 0, &err), &err);
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  ck_assert_int_eq(truncate(path, st.st_size - 8), 0);
  gm_tensor *x = NULL;
  ck_assert_int_eq(gm_checkpoint_read_new(c, "last", gmt_device(), &x, &err), GM_EIO);
  ck_assert_ptr_null(x);
  ck_assert_msg(strstr(err.msg, "'last'") && strstr(err.msg, path), "%s", err.msg);
  gmt_ok(gm_checkpoint_read_new(c, "first", gmt_device(), &x, &err), &err);
  gm_tensor_destroy(x);
  gm_checkpoint_close(c);
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
}
END_TEST

START_TEST(shape_mismatch_names_the_tensor_and_both_shapes) {
  gm_error err = {0};
  const char *path = join(test_dir("shape"), "s.safetensors");
  static float w[64 * 27];
  gm_tensor *t = tensor_f32(4, GM_SHAPE(64, 3, 3, 3), w);
  gm_named_tensor nt[] = {{"conv1.weight", t}};
  gmt_ok(gm_checkpoint_write(path, nt, 1, NULL, 0, &err), &err);
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  gm_tensor *dst;
  gmt_ok(gm_tensor_create(&dst, gmt_device(), GM_F32, 4, GM_SHAPE(64, 3, 5, 5), &err), &err);
  ck_assert_int_eq(gm_checkpoint_read(c, "conv1.weight", dst, &err), GM_ESHAPE);
  ck_assert_msg(strstr(err.msg, "'conv1.weight'") && strstr(err.msg, "(64, 3, 3, 3)") &&
                strstr(err.msg, "(64, 3, 5, 5)"), "%s", err.msg);
  gm_tensor_destroy(dst);
  /* Same element count, different shape: still a mismatch. */
  gmt_ok(gm_tensor_create(&dst, gmt_device(), GM_F32, 2, GM_SHAPE(64, 27), &err), &err);
  ck_assert_int_eq(gm_checkpoint_read(c, "conv1.weight", dst, &err), GM_ESHAPE);
  ck_assert_msg(strstr(err.msg, "(64, 27)"), "%s", err.msg);
  gm_tensor_destroy(dst);
  gm_checkpoint_close(c);
  gm_tensor_destroy(t);
}
END_TEST

static void expect_values(const char *path, const char *name, const float *want, int n) {
  gm_error err = {0};
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  gm_tensor *t;
  gmt_ok(gm_checkpoint_read_new(c, name, gmt_device(), &t, &err), &err);
  ck_assert_int_eq(t->numel, n);
  float *got = gmt_read(t);
  ck_assert(memcmp(got, want, (size_t)n * 4) == 0);
  free(got);
  gm_tensor_destroy(t);
  gm_checkpoint_close(c);
}

/* The file size limit makes the write fail part way through the data, as a full disk
 * would: the previous checkpoint stays intact and the temporary is gone. */
START_TEST(write_failing_part_way_keeps_the_previous_file) {
  gm_error err = {0};
  const char *dir = test_dir("failing");
  const char *path = join(dir, "last.safetensors");
  float small[4] = {1, 2, 3, 4};
  gm_tensor *a = tensor_f32(1, GM_SHAPE(4), small);
  gmt_ok(gm_checkpoint_write(path, (gm_named_tensor[]){{"w", a}}, 1, NULL, 0, &err), &err);

  enum { N = 200000 };
  float *bigv = calloc(N, sizeof *bigv);
  gm_tensor *big = tensor_f32(1, GM_SHAPE(N), bigv);
  struct rlimit old, lim;
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = 64 * 1024;
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  int rc = gm_checkpoint_write(path, (gm_named_tensor[]){{"w", big}}, 1, NULL, 0, &err);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  ck_assert_int_eq(rc, GM_EIO);
  ck_assert_msg(strstr(err.msg, path), "%s", err.msg);
  ck_assert_int_eq(count_temps(dir), 0);
  expect_values(path, "w", small, 4);

  /* Once the disk has room again the same write succeeds and replaces the file. */
  gmt_ok(gm_checkpoint_write(path, (gm_named_tensor[]){{"w", big}}, 1, NULL, 0, &err), &err);
  expect_values(path, "w", bigv, N);
  ck_assert_int_eq(count_temps(dir), 0);
  free(bigv);
  gm_tensor_destroy(big);
  gm_tensor_destroy(a);
}
END_TEST

START_TEST(write_that_cannot_start_or_finish_creates_nothing) {
  gm_error err = {0};
  const char *dir = test_dir("nowhere");
  float v[2] = {1, 2};
  gm_tensor *t = tensor_f32(1, GM_SHAPE(2), v);
  gm_named_tensor nt[] = {{"w", t}};
  const char *missing = join(dir, "no-such-folder/x.safetensors");
  ck_assert_int_eq(gm_checkpoint_write(missing, nt, 1, NULL, 0, &err), GM_EIO);
  ck_assert_msg(strstr(err.msg, missing), "%s", err.msg);
  struct stat st;
  ck_assert_int_ne(stat(join(dir, "no-such-folder"), &st), 0);

  /* The rename fails (a folder sits at the path): the folder stays, no temporary stays. */
  const char *taken = join(dir, "taken.safetensors");
  ck_assert_int_eq(mkdir(taken, 0755), 0);
  ck_assert_int_eq(mkdir(join(taken, "inside"), 0755), 0);
  ck_assert_int_eq(gm_checkpoint_write(taken, nt, 1, NULL, 0, &err), GM_EIO);
  ck_assert_msg(strstr(err.msg, taken) && strstr(err.msg, "rename"), "%s", err.msg);
  ck_assert_int_eq(stat(join(taken, "inside"), &st), 0);
  ck_assert_int_eq(count_temps(dir), 0);

  /* A temporary left by a crash between write and rename does not disturb the previous
   * checkpoint or the next write. */
  const char *path = join(dir, "ck.safetensors");
  gmt_ok(gm_checkpoint_write(path, nt, 1, NULL, 0, &err), &err);
  char stale[1200];
  snprintf(stale, sizeof stale, "%s.tmp.%ld.0", path, (long)getpid());
  FILE *f = fopen(stale, "wb");
  fputs("partial", f);
  fclose(f);
  expect_values(path, "w", v, 2);
  float v2[2] = {5, 6};
  gmt_ok(gm_tensor_write(t, v2, sizeof v2, &err), &err);
  gmt_ok(gm_checkpoint_write(path, nt, 1, NULL, 0, &err), &err);
  expect_values(path, "w", v2, 2);
  gm_tensor_destroy(t);
}
END_TEST

/* conv.weight (4, 3, 3, 3), bn.running_mean (4) buffer, conv.bias (4), bn.count I32 buffer. */
static gm_params *small_params(float base) {
  gm_error err = {0};
  gm_params *p;
  gmt_ok(gm_params_create(&p, gmt_device(), &err), &err);
  gmt_ok(gm_params_declare(p, "conv.weight", GM_F32, 4, GM_SHAPE(4, 3, 3, 3), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.running_mean", GM_F32, 1, GM_SHAPE(4), GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_declare(p, "conv.bias", GM_F32, 1, GM_SHAPE(4), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.count", GM_I32, 0, NULL, GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_finalize(p, &err), &err);
  float tv[112];
  for (int i = 0; i < 112; i++) tv[i] = base + (float)i * 0.25f;
  gmt_ok(gm_tensor_write(gm_params_flat(p), tv, sizeof tv, &err), &err);
  float rm[4] = {base, -base, 0.5f, 2};
  gmt_ok(gm_tensor_write(gm_params_find(p, "bn.running_mean"), rm, sizeof rm, &err), &err);
  int32_t count = (int32_t)base * 10;
  gmt_ok(gm_tensor_write(gm_params_find(p, "bn.count"), &count, 4, &err), &err);
  return p;
}

/* Both flat storages as host words, to compare whole stores. */
static uint32_t *store_words(const gm_params *p, size_t *n) {
  gm_error err = {0};
  size_t nt = (size_t)gm_params_numel(p, GM_PARAM_TRAINABLE);
  size_t nb = (size_t)gm_params_numel(p, GM_PARAM_BUFFER);
  uint32_t *w = malloc((nt + nb) * 4);
  gmt_ok(gm_tensor_read(gm_params_flat(p), w, nt * 4, &err), &err);
  gmt_ok(gm_tensor_read(gm_params_flat_buffers(p), w + nt, nb * 4, &err), &err);
  *n = nt + nb;
  return w;
}

START_TEST(params_round_trip_with_extra_tensors) {
  gm_error err = {0};
  const char *path = join(test_dir("params"), "p.safetensors");
  gm_params *p = small_params(1.0f);
  float mv[4] = {9, 8, 7, 6};
  gm_tensor *m = tensor_f32(1, GM_SHAPE(4), mv);
  gm_named_tensor extra[] = {{"optim.m.conv.bias", m}};
  gm_kv meta[] = {{"model", "tiny"}, {"step", "10"}};
  gmt_ok(gm_checkpoint_write_params(path, p, extra, 1, meta, 2, &err), &err);

  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  ck_assert_int_eq(gm_checkpoint_count(c), 5);
  ck_assert_str_eq(gm_checkpoint_entry_at(c, 0)->name, "conv.weight");
  ck_assert_str_eq(gm_checkpoint_entry_at(c, 3)->name, "bn.count");
  ck_assert_str_eq(gm_checkpoint_entry_at(c, 3)->dtype, "I64");
  ck_assert_str_eq(gm_checkpoint_entry_at(c, 4)->name, "optim.m.conv.bias");
  ck_assert_str_eq(gm_checkpoint_meta(c, "step"), "10");

  gm_params *q = small_params(-5.0f);
  gmt_ok(gm_checkpoint_load_params(c, q, (const char *[]){"optim.", "ema.", NULL}, &err), &err);
  size_t n1, n2;
  uint32_t *w1 = store_words(p, &n1), *w2 = store_words(q, &n2);
  ck_assert_uint_eq(n1, n2);
  ck_assert(memcmp(w1, w2, n1 * 4) == 0);
  free(w1);
  free(w2);
  gm_checkpoint_close(c);

  /* An extra tensor may not reuse a parameter's name. */
  gm_named_tensor clash[] = {{"conv.bias", m}};
  ck_assert_int_eq(gm_checkpoint_write_params(path, p, clash, 1, NULL, 0, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "'conv.bias'"), "%s", err.msg);
  gm_params_destroy(p);
  gm_params_destroy(q);
  gm_tensor_destroy(m);
}
END_TEST

/* load_params on `path` fails with code naming `needle`, and q is unchanged. */
static void load_fails_unchanged(const char *path, const char *const *ignore, int code,
                                 const char *needle) {
  gm_error err = {0};
  gm_params *q = small_params(3.0f);
  size_t n0, n1;
  uint32_t *before = store_words(q, &n0);
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  int rc = gm_checkpoint_load_params(c, q, ignore, &err);
  ck_assert_msg(rc == code, "%s: got %s, want %s (%s)", path, gm_err_name(rc), gm_err_name(code),
                err.msg);
  ck_assert_msg(strstr(err.msg, needle) && strstr(err.msg, path), "'%s' lacks '%s'", err.msg,
                needle);
  uint32_t *after = store_words(q, &n1);
  ck_assert(memcmp(before, after, n0 * 4) == 0);
  free(before);
  free(after);
  gm_checkpoint_close(c);
  gm_params_destroy(q);
}

START_TEST(load_params_refuses_missing_unknown_and_invalid_tensors_leaving_params_unchanged) {
  gm_error err = {0};
  const char *dir = test_dir("load");
  gm_params *p = small_params(1.0f);
  const gm_tensor *w = gm_params_find(p, "conv.weight"), *b = gm_params_find(p, "conv.bias"),
                  *rm = gm_params_find(p, "bn.running_mean"), *cnt = gm_params_find(p, "bn.count");
  gm_tensor *junk = tensor_f32(1, GM_SHAPE(1), (float[]){1});

  const char *missing = join(dir, "missing.safetensors");
  gm_named_tensor m[] = {{"conv.weight", (gm_tensor *)w}, {"bn.running_mean", (gm_tensor *)rm},
                         {"bn.count", (gm_tensor *)cnt}};
  gmt_ok(gm_checkpoint_write(missing, m, 3, NULL, 0, &err), &err);
  load_fails_unchanged(missing, NULL, GM_ENOTFOUND, "'conv.bias'");

  const char *unknown = join(dir, "unknown.safetensors");
  gm_named_tensor u[] = {{"conv.weight", (gm_tensor *)w}, {"bn.running_mean", (gm_tensor *)rm},
                         {"conv.bias", (gm_tensor *)b},   {"bn.count", (gm_tensor *)cnt},
                         {"optim.v.conv.bias", junk},     {"head.weight", junk}};
  gmt_ok(gm_checkpoint_write(unknown, u, 6, NULL, 0, &err), &err);
  load_fails_unchanged(unknown, (const char *[]){"optim.", NULL}, GM_EFORMAT, "'head.weight'");
  load_fails_unchanged(unknown, NULL, GM_EFORMAT, "'optim.v.conv.bias'");
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, unknown, &err), &err);
  gm_params *q = small_params(3.0f);
  gmt_ok(gm_checkpoint_load_params(c, q, (const char *[]){"optim.", "head.", NULL}, &err), &err);
  gm_params_destroy(q);
  gm_checkpoint_close(c);

  /* A wrong shape, a wrong dtype family, an I64 past int32: checked or read before any
   * parameter is written, so the store keeps its values. */
  gm_tensor *bias5 = tensor_f32(1, GM_SHAPE(5), (float[]){1, 2, 3, 4, 5});
  const char *shape = join(dir, "shape.safetensors");
  gm_named_tensor s[] = {{"conv.weight", (gm_tensor *)w}, {"bn.running_mean", (gm_tensor *)rm},
                         {"conv.bias", bias5}, {"bn.count", (gm_tensor *)cnt}};
  gmt_ok(gm_checkpoint_write(shape, s, 4, NULL, 0, &err), &err);
  load_fails_unchanged(shape, NULL, GM_ESHAPE, "'conv.bias'");

  gm_tensor *ibias = tensor_i32(1, GM_SHAPE(4), (int32_t[]){1, 2, 3, 4});
  const char *dtype = join(dir, "dtype.safetensors");
  gm_named_tensor d[] = {{"conv.weight", (gm_tensor *)w}, {"bn.running_mean", (gm_tensor *)rm},
                         {"conv.bias", ibias}, {"bn.count", (gm_tensor *)cnt}};
  gmt_ok(gm_checkpoint_write(dtype, d, 4, NULL, 0, &err), &err);
  load_fails_unchanged(dtype, NULL, GM_EDTYPE, "'conv.bias'");

  /* bn.count comes last in the file: every float tensor reads fine before it fails. */
  static uint8_t wb[4 * 108], rmb[16], bb[16], cb[8];
  float wv[108];
  for (int i = 0; i < 108; i++) wv[i] = -(float)i;
  fill_f32_le(wb, wv, 108);
  fill_f32_le(rmb, (float[]){7, 7, 7, 7}, 4);
  fill_f32_le(bb, (float[]){8, 8, 8, 8}, 4);
  put_le(cb, (uint64_t)1 << 40, 8);
  raw_tensor r[] = {
    {"conv.weight", "F32", 4, {4, 3, 3, 3}, wb, sizeof wb}, {"bn.running_mean", "F32", 1, {4}, rmb, 16},
    {"conv.bias", "F32", 1, {4}, bb, 16},                   {"bn.count", "I64", 0, {0}, cb, 8},
  };
  const char *range = join(dir, "range.safetensors");
  write_torch_layout(range, r, 4, NULL);
  load_fails_unchanged(range, NULL, GM_ERANGE, "'bn.count'");

  gm_tensor_destroy(ibias);
  gm_tensor_destroy(bias5);
  gm_tensor_destroy(junk);
  gm_params_destroy(p);
}
END_TEST

/* The tensors must cover the data section exactly, in order, as the reference
 * implementation (safetensors' Metadata::validate and its buffer-length check) requires:
 * a header length one byte short shifts every tensor by a byte and leaves a byte over. */
START_TEST(data_section_must_be_exactly_covered_by_the_tensors) {
  gm_error err = {0};
  const char *dir = test_dir("coverage");
  const char *good = join(dir, "good.safetensors");
  gm_tensor *a = tensor_f32(1, GM_SHAPE(3), (float[]){1, 2, 3});
  gm_tensor *b = tensor_f32(1, GM_SHAPE(2), (float[]){4, 5});
  gmt_ok(gm_checkpoint_write(good, (gm_named_tensor[]){{"a", a}, {"b", b}}, 2, NULL, 0, &err),
         &err);
  size_t n;
  uint8_t *bytes = slurp(good, &n);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
  ck_assert_msg(bytes[8 + hlen - 1] == ' ', "the header should end in padding");

  /* the header length field one byte short: the header's last space counts as data */
  const char *short_len = join(dir, "short-len.safetensors");
  write_raw(short_len, hlen - 1, bytes + 8, (size_t)hlen, bytes + 8 + hlen, n - 8 - hlen);
  refused(short_len, "data section", "1 byte");

  /* trailing bytes after the last tensor */
  const char *trailing = join(dir, "trailing.safetensors");
  uint8_t *more = calloc(1, n + 3);
  memcpy(more, bytes, n);
  write_raw(trailing, hlen, more + 8, (size_t)hlen, more + 8 + hlen, n - 8 - hlen + 3);
  refused(trailing, "3 bytes after the last tensor", NULL);

  /* a gap between two tensors */
  const char *gap = join(dir, "gap.safetensors");
  write_st(gap, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", NULL, 16);
  refused(gap, "'b'", "gap of 4 bytes");
  /* data that no tensor starts at */
  const char *lead = join(dir, "lead.safetensors");
  write_st(lead, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", NULL, 16);
  refused(lead, "'a'", "gap of 8 bytes");
  /* data but no tensors at all */
  const char *none = join(dir, "none.safetensors");
  write_st(none, "{\"__metadata__\":{\"k\":\"v\"}}", NULL, 4);
  refused(none, "4 bytes after the last tensor", NULL);
  /* an empty tensor inside another's bytes is refused, as the reference refuses it */
  const char *inside = join(dir, "inside.safetensors");
  write_st(inside, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                   "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}", NULL, 16);
  refused(inside, "'e'", "overlap");

  /* the well-formed file and an empty tensor at either end load */
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, good, &err), &err);
  gm_checkpoint_close(c);
  const char *ends = join(dir, "ends.safetensors");
  write_st(ends, "{\"s\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                 "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]}}", NULL, 16);
  gmt_ok(gm_checkpoint_open(&c, ends, &err), &err);
  ck_assert_int_eq(gm_checkpoint_count(c), 3);
  gm_checkpoint_close(c);
  free(more);
  free(bytes);
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
}
END_TEST

/* Loading parameters refuses NaN and infinities, naming the file and the tensor, and
 * leaves the parameters unchanged; gm_checkpoint_read_finite does the same for one
 * tensor, while gm_checkpoint_read still reads any value. */
START_TEST(load_params_refuses_non_finite_values_naming_the_file_and_tensor) {
  gm_error err = {0};
  const char *dir = test_dir("nonfinite");
  const float bad_values[] = {NAN, INFINITY, -INFINITY};
  const char *const what[] = {"nan", "inf", "-inf"};
  for (int k = 0; k < 3; k++) {
    gm_params *p = small_params(1.0f);
    float rm[4] = {1, 2, bad_values[k], 4};
    gmt_ok(gm_tensor_write(gm_params_find(p, "bn.running_mean"), rm, sizeof rm, &err), &err);
    char name[64];
    snprintf(name, sizeof name, "bad%d.safetensors", k);
    const char *path = join(dir, name);
    gmt_ok(gm_checkpoint_write_params(path, p, NULL, 0, NULL, 0, &err), &err);
    gm_params_destroy(p);
    load_fails_unchanged(path, NULL, GM_ENUMERIC, "'bn.running_mean'");
    gm_checkpoint *c;
    gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
    gm_params *q = small_params(3.0f);
    ck_assert_int_eq(gm_checkpoint_load_params(c, q, NULL, &err), GM_ENUMERIC);
    ck_assert_msg(strstr(err.msg, "element 2") && strstr(err.msg, what[k]), "%s", err.msg);
    gm_tensor *t = gm_params_find(q, "bn.running_mean");
    ck_assert_int_eq(gm_checkpoint_read_finite(c, "bn.running_mean", t, &err), GM_ENUMERIC);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "'bn.running_mean'"), "%s", err.msg);
    gmt_ok(gm_checkpoint_read(c, "bn.running_mean", t, &err), &err);
    gmt_ok(gm_checkpoint_read_finite(c, "conv.bias", gm_params_find(q, "conv.bias"), &err), &err);
    gm_params_destroy(q);
    gm_checkpoint_close(c);
  }
}
END_TEST

/* The in-memory entry point the fuzz target uses validates the same way. */
START_TEST(memory_open_matches_file_open) {
  gm_error err = {0};
  const char *path = join(test_dir("mem"), "m.safetensors");
  gm_tensor *t = tensor_f32(1, GM_SHAPE(3), (float[]){1.5f, -2, 4});
  gmt_ok(gm_checkpoint_write(path, (gm_named_tensor[]){{"w", t}}, 1,
                             (gm_kv[]){{"k", "v"}}, 1, &err), &err);
  size_t n;
  uint8_t *bytes = slurp(path, &n);
  gm_checkpoint *c;
  gmt_ok(gm__checkpoint_open_mem(&c, bytes, n, "mem", &err), &err);
  ck_assert_int_eq(gm_checkpoint_count(c), 1);
  ck_assert_str_eq(gm_checkpoint_meta(c, "k"), "v");
  float got[3];
  gmt_ok(gm__checkpoint_read_host(c, 0, GM_F32, got, &err), &err);
  ck_assert(got[0] == 1.5f && got[1] == -2 && got[2] == 4);
  int32_t wrong[3];
  ck_assert_int_eq(gm__checkpoint_read_host(c, 0, GM_I32, wrong, &err), GM_EDTYPE);
  gm_checkpoint_close(c);
  ck_assert_int_eq(gm__checkpoint_open_mem(&c, bytes, n - 1, "mem", &err), GM_EFORMAT);
  ck_assert_ptr_null(c);
  ck_assert_msg(strstr(err.msg, "mem: tensor 'w'"), "%s", err.msg);
  free(bytes);
  gm_tensor_destroy(t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("checkpoint");
  TCase *tc = tcase_create("checkpoint");
  tcase_add_test(tc, round_trip_is_bit_exact_for_f32_and_i32);
  tcase_add_test(tc, large_tensors_round_trip);
  tcase_add_test(tc, metadata_strings_round_trip);
  tcase_add_test(tc, writes_refuse_bad_names_and_metadata_and_create_nothing);
  tcase_add_test(tc, file_in_pytorch_layout_loads_into_params);
  tcase_add_test(tc, float_and_integer_dtypes_convert);
  tcase_add_test(tc, short_files_and_bad_header_lengths_are_refused);
  tcase_add_test(tc, malformed_headers_are_refused_by_name);
  tcase_add_test(tc, truncated_data_is_refused_naming_the_tensor);
  tcase_add_test(tc, shape_mismatch_names_the_tensor_and_both_shapes);
  tcase_add_test(tc, write_failing_part_way_keeps_the_previous_file);
  tcase_add_test(tc, write_that_cannot_start_or_finish_creates_nothing);
  tcase_add_test(tc, params_round_trip_with_extra_tensors);
  tcase_add_test(tc, load_params_refuses_missing_unknown_and_invalid_tensors_leaving_params_unchanged);
  tcase_add_test(tc, memory_open_matches_file_open);
  tcase_add_test(tc, data_section_must_be_exactly_covered_by_the_tensors);
  tcase_add_test(tc, load_params_refuses_non_finite_values_naming_the_file_and_tensor);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
