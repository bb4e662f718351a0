/* The PixelCNN plugin, loaded through the registry as the host loads it: the seed
 * preset's keys, shapes and parameter count (738,288); its weights through a
 * .safetensors file by key, and a state_dict written by PyTorch giving PyTorch's logits;
 * its forward against a plain C reference of the study's network; causality of both
 * networks pixel by pixel and channel by channel; naive and cached samplers drawing the
 * same images, and stopping after k pixels; the loss falling under Adam; nll as the
 * cross-entropy in bits; refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"
#include "torchref.h"

static const gm_model_vtable *vt;

static void load_plugin(void) { vt = gmt_model_plugin("pixelcnn"); }

static void unload_plugin(void) {
  gmt_model_plugins_close();
  vt = NULL;
}

static gm_tensor *param(gm_model *m, const char *name) {
  gm_tensor *t = gm_params_find(vt->params(m), name);
  ck_assert_msg(t != NULL, "no parameter %s", name);
  return t;
}

/* Random class images (B, 3, H, W) as floats 0..15. */
static float *random_classes(uint64_t seed, size_t n) {
  gmt_rng r;
  gmt_rng_seed(&r, seed);
  float *q = malloc(n * sizeof *q);
  for (size_t i = 0; i < n; i++) q[i] = floorf(gmt_uniform(&r, 0, 16) * 0.9999f);
  return q;
}

/* forward(x) -> logits (B, 3, H, W, 16), read to the host. */
static float *forward_logits(gm_model *m, const float *q, int b, int h, int w) {
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(b, 3, h, w), q);
  gm_named_tensor in = {"x", x}, out[2];
  int n_out = 0;
  gmt_ok(vt->forward(m, &in, 1, out, 2, &n_out, &err), &err);
  ck_assert_int_eq(n_out, 1);
  ck_assert_str_eq(out[0].name, "logits");
  gm_tensor *lg = out[0].tensor;
  ck_assert_int_eq(lg->ndim, 5);
  ck_assert_int_eq(lg->shape[0], b);
  ck_assert_int_eq(lg->shape[1], 3);
  ck_assert_int_eq(lg->shape[2], h);
  ck_assert_int_eq(lg->shape[3], w);
  ck_assert_int_eq(lg->shape[4], 16);
  float *host = gmt_read(lg);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
  return host;
}

/* ---- the seed network's keys and count ---- */

typedef struct key_shape {
  const char *name;
  int64_t shape[4];
  int kind;
} key_shape;

START_TEST(seed_has_the_study_keys_shapes_and_738288_parameters) {
  gm_model *m = gmt_model_create(vt, "seed", NULL, 0, 1);
  gm_params *p = vt->params(m);
  const int T = GM_PARAM_TRAINABLE, B = GM_PARAM_BUFFER;
  const key_shape want[] = {
      {"conv1.weight", {64, 3, 3, 3}, T},   {"conv1.bias", {64}, T},
      {"conv1.mask", {64, 3, 3, 3}, B},     {"conv2.weight", {64, 64, 7, 7}, T},
      {"conv2.bias", {64}, T},              {"conv2.mask", {64, 64, 7, 7}, B},
      {"conv3.weight", {64, 64, 9, 9}, T},  {"conv3.bias", {64}, T},
      {"conv3.mask", {64, 64, 9, 9}, B},    {"conv4.weight", {64, 64, 7, 7}, T},
      {"conv4.bias", {64}, T},              {"conv4.mask", {64, 64, 7, 7}, B},
      {"conv_out.weight", {48, 64, 1, 1}, T}, {"conv_out.bias", {48}, T},
  };
  ck_assert_int_eq(gm_params_count(p), (int)GM__COUNT(want));
  for (int i = 0; i < gm_params_count(p); i++) {
    const char *name;
    int kind;
    gm_tensor *t = gm_params_at(p, i, &name, &kind);
    ck_assert_str_eq(name, want[i].name);
    ck_assert_int_eq(kind, want[i].kind);
    ck_assert_int_eq(t->ndim, strstr(name, "bias") ? 1 : 4);
    for (int d = 0; d < t->ndim; d++) ck_assert_int_eq(t->shape[d], want[i].shape[d]);
  }
  ck_assert_int_eq(gm_params_numel(p, GM_PARAM_TRAINABLE), 738288);
  /* masks: A hides the centre of conv1 (4 of 9 taps open), B keeps it (25 of 49) */
  float *m1 = gmt_read(param(m, "conv1.mask")), *m2 = gmt_read(param(m, "conv2.mask"));
  double s1 = 0, s2 = 0;
  for (int i = 0; i < 64 * 3 * 9; i++) s1 += m1[i];
  for (int i = 0; i < 64 * 64 * 49; i++) s2 += m2[i];
  ck_assert_double_eq(s1, 64 * 3 * 4);
  ck_assert_double_eq(s2, 64 * 64 * 25);
  free(m1);
  free(m2);
  vt->destroy(m);
}
END_TEST

/* A seed checkpoint holds exactly the study's state_dict (keys, order, (out, in, kh, kw)
 * shapes) and loads into another model by key, which then computes the same logits. */
START_TEST(seed_weights_travel_by_key_through_safetensors) {
  gm_error err = {0};
  gm_model *a = gmt_model_create(vt, "seed", NULL, 0, 31), *b = gmt_model_create(vt, "seed", NULL, 0, 32);
  char path[1200];
  snprintf(path, sizeof path, "%s/seed.safetensors", gmt_tmpdir());
  gmt_ok(gm_checkpoint_write_params(path, vt->params(a), NULL, 0, NULL, 0, &err), &err);
  gm_checkpoint *c;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  gm_params *p = vt->params(a);
  ck_assert_int_eq(gm_checkpoint_count(c), gm_params_count(p));
  for (int i = 0; i < gm_checkpoint_count(c); i++) {
    const char *name;
    gm_tensor *t = gm_params_at(p, i, &name, NULL);
    const gm_checkpoint_entry *e = gm_checkpoint_entry_at(c, i);
    ck_assert_str_eq(e->name, name);
    ck_assert_str_eq(e->dtype, "F32");
    ck_assert_int_eq(e->ndim, t->ndim);
    for (int d = 0; d < t->ndim; d++) ck_assert_int_eq(e->shape[d], t->shape[d]);
  }
  gmt_ok(gm_checkpoint_load_params(c, vt->params(b), NULL, &err), &err);
  gm_checkpoint_close(c);
  float *q = random_classes(3, 2 * 3 * 5 * 5);
  float *la = forward_logits(a, q, 2, 5, 5), *lb = forward_logits(b, q, 2, 5, 5);
  gmt_assert_close(lb, la, 2 * 3 * 25 * 16, 0, 0, "logits after loading the checkpoint");
  free(q);
  free(la);
  free(lb);
  vt->destroy(a);
  vt->destroy(b);
}
END_TEST

/* The study's network built in PyTorch (tests/data/pixelcnn/seed_torch.py, width 8): its
 * state_dict loads into the seed preset by key, gives PyTorch's logits on PyTorch's
 * input, and written back by genmoji holds the same tensors under the same names, so it
 * loads into PyTorch again. */
START_TEST(seed_loads_a_pytorch_state_dict_and_gives_its_logits) {
  gm_error err = {0};
  const char *sets[] = {"width=8"};
  gm_model *m = gmt_model_create(vt, "seed", sets, 1, 41);
  gm_checkpoint *c, *io, *back;
  const char *dir = GM_TEST_SOURCE_DIR "/data/pixelcnn";
  char path[1200];
  snprintf(path, sizeof path, "%s/seed_w8_torch.safetensors", dir);
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  gmt_ok(gm_checkpoint_load_params(c, vt->params(m), NULL, &err), &err);
  snprintf(path, sizeof path, "%s/seed_w8_torch_io.safetensors", dir);
  gmt_ok(gm_checkpoint_open(&io, path, &err), &err);
  gm_tensor *x, *want;
  gmt_ok(gm_checkpoint_read_new(io, "x", gmt_device(), &x, &err), &err);
  gmt_ok(gm_checkpoint_read_new(io, "logits", gmt_device(), &want, &err), &err);
  ck_assert_int_eq(want->ndim, 5);
  float *hx = gmt_read(x), *hw = gmt_read(want);
  float *got = forward_logits(m, hx, (int)x->shape[0], (int)x->shape[2], (int)x->shape[3]);
  gmt_assert_close(got, hw, (size_t)want->numel, 1e-5, 1e-6, "logits vs PyTorch's");
  snprintf(path, sizeof path, "%s/seed_w8_back.safetensors", gmt_tmpdir());
  gmt_ok(gm_checkpoint_write_params(path, vt->params(m), NULL, 0, NULL, 0, &err), &err);
  gmt_ok(gm_checkpoint_open(&back, path, &err), &err);
  ck_assert_int_eq(gm_checkpoint_count(back), gm_checkpoint_count(c));
  for (int i = 0; i < gm_checkpoint_count(back); i++) {
    const gm_checkpoint_entry *e = gm_checkpoint_entry_at(back, i);
    ck_assert_ptr_nonnull(gm_checkpoint_find(c, e->name));
    gm_tensor *a, *b;
    gmt_ok(gm_checkpoint_read_new(c, e->name, gmt_device(), &a, &err), &err);
    gmt_ok(gm_checkpoint_read_new(back, e->name, gmt_device(), &b, &err), &err);
    ck_assert_int_eq(a->numel, b->numel);
    float *ha = gmt_read(a), *hb = gmt_read(b);
    gmt_assert_close(hb, ha, (size_t)a->numel, 0, 0, e->name);
    free(ha);
    free(hb);
    gm_tensor_destroy(a);
    gm_tensor_destroy(b);
  }
  gm_checkpoint_close(back);
  gm_checkpoint_close(io);
  gm_checkpoint_close(c);
  free(hx);
  free(hw);
  free(got);
  gm_tensor_destroy(x);
  gm_tensor_destroy(want);
  vt->destroy(m);
}
END_TEST

/* The training step against PyTorch (tests/data/torch/make_fixtures.py, torch 1.13, width
 * 8, two 8x8 images): the plugin's loss slot on the dumped images gives PyTorch's
 * cross-entropy, and gm_backward gives PyTorch's gradient for every trainable parameter,
 * matched by name. Float32 on both sides with different summation orders: the loss is a
 * mean of 384 terms (rtol 1e-5), each gradient element a sum over at most 128 positions
 * and 64 taps through four masked convolutions; measured on PoCL the worst element is
 * within 5.4e-7 of its tensor's largest |grad| (the same with GM_CONV=im2col), so 5e-5
 * (100 times that) leaves room for other devices and summation orders, while a wrong
 * term (a mask, the 1 / 15 input scale, the reduction) is off by far more. */
START_TEST(seed_loss_and_every_gradient_match_pytorch) {
  gm_error err = {0};
  const char *sets[] = {"width=8"};
  gm_model *m = gmt_model_create(vt, "seed", sets, 1, 42);
  gm_params *p = vt->params(m);
  gm_checkpoint *c = gmt_torch_open("pixelcnn_seed_w8.safetensors");
  gmt_ok(gm_checkpoint_load_params(c, p, (const char *[]){"io.", "grad.", NULL}, &err), &err);
  gm_tensor *img = gmt_torch_tensor(c, "io.images"), *want = gmt_torch_tensor(c, "io.loss"), *loss;
  gm_rng rng;
  gm_rng_init(&rng, 1, 0);
  gmt_ok(gm_params_zero_grad(p, &err), &err);
  gmt_ok(vt->loss(m, img, &rng, &loss, &err), &err);
  gmt_ok(gm_backward(loss, &err), &err);
  float got, hw;
  gmt_ok(gm_tensor_read(loss, &got, 4, &err), &err);
  gmt_ok(gm_tensor_read(want, &hw, 4, &err), &err);
  ck_assert_msg(fabs(got - hw) <= 1e-5 * hw, "loss %.8g nats, PyTorch's %.8g", got, hw);
  const char *where = "";
  double worst = gmt_assert_grads_match_torch(c, p, 5e-5, 0, "pixelcnn seed", &where);
  fprintf(stderr, "pixelcnn seed vs PyTorch: loss %.8g / %.8g, worst gradient error %.3g of "
          "the tensor's largest |grad| (%s)\n", got, hw, worst, where);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(img);
  gm_tensor_destroy(want);
  gm_checkpoint_close(c);
  vt->destroy(m);
}
END_TEST

/* ---- the seed network against a plain C reference ---- */

/* y (B, cout, H, W) = masked conv (padding k/2) of x (B, cin, H, W) in double, the mask
 * as the study words it (docs/pixelcnn.md): A zeroes the centre row from the centre rightwards and every
 * row below, B the centre row right of the centre and every row below. */
static void ref_conv(const double *x, int b, int cin, int h, int w, const float *wt,
                     const float *bias, int cout, int k, char mask, double *y) {
  int c = k / 2;
  for (int n = 0; n < b; n++)
    for (int co = 0; co < cout; co++)
      for (int oy = 0; oy < h; oy++)
        for (int ox = 0; ox < w; ox++) {
          double acc = bias[co];
          for (int ci = 0; ci < cin; ci++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                if (mask && (ky > c || (ky == c && (mask == 'A' ? kx >= c : kx > c)))) continue;
                int iy = oy - c + ky, ix = ox - c + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                acc += x[(((size_t)n * cin + ci) * h + iy) * w + ix] *
                       wt[(((size_t)co * cin + ci) * k + ky) * k + kx];
              }
          y[(((size_t)n * cout + co) * h + oy) * w + ox] = acc;
        }
}

START_TEST(seed_forward_matches_a_plain_c_reference_of_the_study_network) {
  gm_error err = {0};
  gm_model *m = gmt_model_create(vt, "seed", NULL, 0, 2);
  int b = 2, h = 7, w = 6, f = 64;
  const char *names[5] = {"conv1", "conv2", "conv3", "conv4", "conv_out"};
  const int ks[5] = {3, 7, 9, 7, 1}, cins[5] = {3, 64, 64, 64, 64}, couts[5] = {64, 64, 64, 64, 48};
  float *wts[5], *biases[5];
  gmt_rng r;
  gmt_rng_seed(&r, 77);
  for (int l = 0; l < 5; l++) {
    char key[32];
    size_t nw = (size_t)couts[l] * cins[l] * ks[l] * ks[l];
    double bound = 1.0 / sqrt((double)cins[l] * ks[l] * ks[l]);
    wts[l] = malloc(nw * 4);
    biases[l] = malloc((size_t)couts[l] * 4);
    gmt_fill_uniform(&r, wts[l], nw, (float)-bound, (float)bound);
    gmt_fill_uniform(&r, biases[l], (size_t)couts[l], (float)-bound, (float)bound);
    snprintf(key, sizeof key, "%s.weight", names[l]);
    gmt_ok(gm_tensor_write(param(m, key), wts[l], nw * 4, &err), &err);
    snprintf(key, sizeof key, "%s.bias", names[l]);
    gmt_ok(gm_tensor_write(param(m, key), biases[l], (size_t)couts[l] * 4, &err), &err);
  }
  size_t npix = (size_t)b * h * w;
  float *q = random_classes(5, npix * 3);
  double *a = malloc(npix * f * sizeof(double)), *t = malloc(npix * f * sizeof(double));
  for (size_t i = 0; i < npix * 3; i++) a[i] = q[i] / 15.0;
  for (int l = 0; l < 5; l++) {
    ref_conv(a, b, cins[l], h, w, wts[l], biases[l], couts[l], ks[l],
             l == 0 ? 'A' : l < 4 ? 'B' : 0, t);
    size_t n = npix * couts[l];
    for (size_t i = 0; i < n; i++) a[i] = l < 4 && t[i] < 0 ? 0 : t[i];
  }
  /* the study's layout: (B, 48, H, W) -> (B, 3, 16, H, W) -> (B, 3, H, W, 16) */
  float *want = malloc(npix * 48 * 4);
  for (int n = 0; n < b; n++)
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          for (int k = 0; k < 16; k++)
            want[((((size_t)n * 3 + c) * h + y) * w + x) * 16 + k] =
                (float)a[(((size_t)n * 48 + c * 16 + k) * h + y) * w + x];
  float *got = forward_logits(m, q, b, h, w);
  gmt_assert_close(got, want, npix * 48, 1e-4, 1e-5, "seed logits vs reference");
  for (int l = 0; l < 5; l++) {
    free(wts[l]);
    free(biases[l]);
  }
  free(q);
  free(a);
  free(t);
  free(want);
  free(got);
  vt->destroy(m);
}
END_TEST

/* ---- causality ---- */

/* Changing channel c of pixel k must leave every logit of earlier pixels unchanged, and
 * at pixel k itself: every channel's logits for the seed network (mask A), the logits of
 * channels <= c for the gated one. It must change something later. */
static void check_causal(gm_model *m, int gated, int h, int w) {
  int npix = h * w;
  float *q = random_classes(11, (size_t)npix * 3);
  float *base = forward_logits(m, q, 1, h, w);
  for (int k = 0; k < npix; k++)
    for (int c = 0; c < 3; c++) {
      float *q2 = malloc((size_t)npix * 3 * 4);
      memcpy(q2, q, (size_t)npix * 3 * 4);
      q2[c * npix + k] = q[c * npix + k] < 8 ? 15 : 0;
      float *got = forward_logits(m, q2, 1, h, w);
      double later = 0;
      for (int ch = 0; ch < 3; ch++)
        for (int p = 0; p < npix; p++)
          for (int cls = 0; cls < 16; cls++) {
            size_t i = ((size_t)ch * npix + p) * 16 + cls;
            int must_hold = p < k || (p == k && (!gated || ch <= c));
            if (must_hold)
              ck_assert_msg(got[i] == base[i],
                            "pixel %d channel %d changed the logit %d of channel %d at pixel %d: "
                            "%.9g -> %.9g", k, c, cls, ch, p, base[i], got[i]);
            else
              later = fmax(later, fabs((double)got[i] - base[i]));
          }
      if (k < npix - 1 || (gated && c < 2))
        ck_assert_msg(later > 0, "pixel %d channel %d changed no later logit", k, c);
      free(got);
      free(q2);
    }
  free(q);
  free(base);
}

START_TEST(seed_logits_ignore_the_current_and_later_pixels) {
  const char *sets[] = {"width=16"};
  gm_model *m = gmt_model_create(vt, "seed", sets, 1, 3);
  check_causal(m, 0, 5, 6);
  vt->destroy(m);
}
END_TEST

START_TEST(gated_logits_ignore_later_pixels_and_later_channels) {
  const char *sets[][3] = {{"width=6", "layers=3", "kernel=3"},
                           {"width=9", "layers=2", "kernel=5"}};
  gm_model *m = gmt_model_create(vt, "gated", sets[_i], 3, 4 + (uint64_t)_i);
  check_causal(m, 1, 5, 6);
  vt->destroy(m);
}
END_TEST

/* No blind spot: with kernel 3 and 2 layers, the gated network at (2, 1) sees (1, 3),
 * above and two to the right. */
START_TEST(gated_sees_pixels_above_and_to_the_right) {
  const char *sets[] = {"width=6", "layers=2", "kernel=3"};
  gm_model *m = gmt_model_create(vt, "gated", sets, 3, 9);
  int h = 4, w = 5, npix = h * w;
  float *q = random_classes(12, (size_t)npix * 3);
  float *base = forward_logits(m, q, 1, h, w);
  q[1 * w + 3] = q[1 * w + 3] < 8 ? 15 : 0;
  float *got = forward_logits(m, q, 1, h, w);
  double d = 0;
  for (int cls = 0; cls < 16; cls++) {
    size_t i = (size_t)(2 * w + 1) * 16 + cls;  /* R logits of pixel (2, 1) */
    d = fmax(d, fabs(got[i] - base[i]));
  }
  ck_assert_msg(d > 1e-5, "pixel (1, 3) does not reach the R logits at (2, 1)");
  free(q);
  free(base);
  free(got);
  vt->destroy(m);
}
END_TEST

/* ---- samplers ---- */

static float *draw_images(gm_model *m, const char *sampler, int n, uint64_t seed,
                          double *evals) {
  gm_error err = {0};
  gm_rng rng;
  gm_rng_init(&rng, seed, 7);
  gm_sample_options o = {.n = n, .sampler = sampler};
  gm_tensor *img = NULL;
  gmt_ok(vt->sample(m, &o, &rng, &img, &err), &err);
  ck_assert_int_eq(img->shape[0], n);
  ck_assert_int_eq(img->shape[1], 3);
  float *host = gmt_read(img);
  gm_tape_reset(gmt_device());
  *evals = o.evaluations_per_image;
  return host;
}

static void check_samplers_agree(const char *preset, const char *const *sets, int n_sets,
                                 int size, double naive_evals) {
  const int batches[] = {1, 3, 70}, seeds[] = {1, 2, 3};
  gm_model *m = gmt_model_create(vt, preset, sets, n_sets, 21);
  for (int bi = 0; bi < 3; bi++) {
    int n = batches[bi];
    size_t numel = (size_t)n * 3 * size * size;
    for (int si = 0; si < (n > 3 ? 1 : 3); si++) {
      double en, ec;
      float *a = draw_images(m, "naive", n, (uint64_t)seeds[si], &en);
      float *b = draw_images(m, "cached", n, (uint64_t)seeds[si], &ec);
      for (size_t i = 0; i < numel; i++) {
        ck_assert_msg(a[i] == b[i], "%s, %d images, seed %d: naive %g, cached %g at %zu", preset,
                      n, seeds[si], a[i], b[i], i);
        ck_assert_msg(fmodf(a[i], 17.0f) == 0 && a[i] >= 0 && a[i] <= 255, "value %g", a[i]);
      }
      ck_assert_double_eq(en, naive_evals);
      ck_assert_msg(ec > 0.5 && ec < 4, "cached evaluations per image %g", ec);
      free(a);
      free(b);
    }
  }
  vt->destroy(m);
}

START_TEST(seed_naive_and_cached_samplers_draw_the_same_images) {
  const char *sets[] = {"width=8", "image_size=6"};
  check_samplers_agree("seed", sets, 2, 6, 36);
}
END_TEST

START_TEST(gated_naive_and_cached_samplers_draw_the_same_images) {
  const char *sets[] = {"width=12", "layers=3", "kernel=5", "image_size=6"};
  check_samplers_agree("gated", sets, 4, 6, 3 * 36);
}
END_TEST

START_TEST(samples_vary_with_the_seed_and_are_repeatable) {
  const char *sets[] = {"width=6", "layers=2", "kernel=3", "image_size=5"};
  gm_model *m = gmt_model_create(vt, "gated", sets, 4, 5);
  double e;
  float *a = draw_images(m, NULL, 2, 1, &e), *b = draw_images(m, NULL, 2, 1, &e);
  float *c = draw_images(m, NULL, 2, 2, &e);
  size_t n = 2 * 3 * 25, same = 0;
  for (size_t i = 0; i < n; i++) {
    ck_assert(a[i] == b[i]);
    same += a[i] == c[i];
  }
  ck_assert_msg(same < n, "seeds 1 and 2 drew identical images");
  free(a);
  free(b);
  free(c);
  vt->destroy(m);
}
END_TEST

/* stop_after k draws the first k pixels as a full run does (same seed), leaves the rest at
 * class 0, reports exactly k of 36 pixels and counts k evaluations (naive); 0 and more
 * than the image run to the end. */
START_TEST(samplers_stop_after_k_pixels_with_k_reported_and_the_rest_undrawn) {
  const char *sets[] = {"width=8", "image_size=6"};
  const char *sampler = _i ? "cached" : "naive";
  gm_model *m = gmt_model_create(vt, "seed", sets, 2, 31);
  const int64_t stops[] = {7, 6, 0, 100};
  double e;
  float *full = draw_images(m, sampler, 2, 5, &e);
  for (int si = 0; si < 4; si++) {
    int64_t k = stops[si], want = k > 0 && k < 36 ? k : 36;
    gm_error err = {0};
    gm_rng rng;
    gm_rng_init(&rng, 5, 7);
    gmt_progress_log log = {0};
    gm_sample_options o = {.n = 2, .sampler = sampler, .stop_after = k,
                           .progress = gmt_progress, .progress_ctx = &log};
    gm_tensor *img = NULL;
    gmt_ok(vt->sample(m, &o, &rng, &img, &err), &err);
    ck_assert_int_eq(img->ndim, 4);
    ck_assert_int_eq(img->shape[0], 2);
    ck_assert_int_eq(img->shape[1], 3);
    ck_assert_int_eq(img->shape[2], 6);
    ck_assert_int_eq(img->shape[3], 6);
    ck_assert_int_eq(log.done, want);
    ck_assert_int_eq(log.total, 36);
    ck_assert_int_eq(log.calls, (int)((want + 5) / 6));  /* each row's end, and the stop */
    if (!_i) ck_assert_double_eq(o.evaluations_per_image, (double)want);
    else ck_assert_msg(o.evaluations_per_image > 0, "evaluations %g", o.evaluations_per_image);
    float *h = gmt_read(img);
    for (int b = 0; b < 2; b++)
      for (int c = 0; c < 3; c++)
        for (int p = 0; p < 36; p++) {
          size_t at = ((size_t)b * 3 + (size_t)c) * 36 + (size_t)p;
          float expect = p < want ? full[at] : 0.0f;
          ck_assert_msg(h[at] == expect, "%s stop_after %lld: image %d channel %d pixel %d is "
                        "%g, expected %g", sampler, (long long)k, b, c, p, h[at], expect);
        }
    free(h);
    gm_tape_reset(gmt_device());
  }
  free(full);
  vt->destroy(m);
}
END_TEST

/* ---- training and likelihood ---- */

/* n images (n, 3, s, s) of 0..255 values with some structure: a bright disc on black. */
static gm_tensor *disc_images(int n, int s) {
  size_t numel = (size_t)n * 3 * s * s;
  float *v = malloc(numel * 4);
  for (int b = 0; b < n; b++)
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
          double dy = y - s / 2.0 + 0.5, dx = x - s / 2.0 + 0.5 + b * 0.5;
          int inside = dy * dy + dx * dx < s * s / 6.0;
          float face = c == 2 ? 40.0f : 250.0f - 20 * c;
          v[(((size_t)b * 3 + c) * s + y) * s + x] = inside ? face : 0.0f;
        }
  gm_tensor *t = gmt_tensor_from(4, GM_SHAPE(n, 3, s, s), v);
  free(v);
  return t;
}

static void check_loss_falls(const char *preset, const char *const *sets, int n_sets) {
  gm_error err = {0};
  gm_model *m = gmt_model_create(vt, preset, sets, n_sets, 8);
  gm_optim_config c;
  gm_optim_config_default(&c, GM_OPTIM_ADAM);
  c.lr = 3e-3f;
  gm_optim *opt;
  gmt_ok(gm_optim_create(&opt, vt->params(m), &c, &err), &err);
  gm_tensor *img = disc_images(4, 8);
  gm_rng rng;
  gm_rng_init(&rng, 1, 0);
  float first = 0, last = 0;
  for (int step = 0; step < 30; step++) {
    gm_tensor *loss;
    gmt_ok(gm_params_zero_grad(vt->params(m), &err), &err);
    gmt_ok(vt->loss(m, img, &rng, &loss, &err), &err);
    gmt_ok(gm_backward(loss, &err), &err);
    gmt_ok(gm_optim_step(opt, &err), &err);
    float v;
    gmt_ok(gm_tensor_read(loss, &v, 4, &err), &err);
    if (step == 0) first = v;
    last = v;
    gm_tape_reset(gmt_device());
  }
  ck_assert_msg(first > 2.0f && first < 3.5f, "%s: initial loss %g is not near ln 16", preset,
                first);
  ck_assert_msg(last < 0.85f * first, "%s: loss %g -> %g after 30 Adam steps", preset, first, last);
  gm_tensor_destroy(img);
  gm_optim_destroy(opt);
  vt->destroy(m);
}

START_TEST(seed_loss_falls_under_adam) {
  const char *sets[] = {"width=16"};
  check_loss_falls("seed", sets, 1);
}
END_TEST

START_TEST(gated_loss_falls_under_adam) {
  const char *sets[] = {"width=12", "layers=2", "kernel=3"};
  check_loss_falls("gated", sets, 3);
}
END_TEST

START_TEST(nll_is_the_mean_cross_entropy_in_bits) {
  gm_error err = {0};
  const char *sets[] = {"width=6", "layers=2", "kernel=3"};
  gm_model *m = gmt_model_create(vt, "gated", sets, 3, 10);
  gm_tensor *img = disc_images(3, 6), *loss;
  gm_rng rng;
  gm_rng_init(&rng, 1, 0);
  gmt_ok(vt->loss(m, img, &rng, &loss, &err), &err);
  float nats;
  gmt_ok(gm_tensor_read(loss, &nats, 4, &err), &err);
  double bits = 0;
  gmt_ok(vt->nll(m, img, NULL, &rng, &bits, &err), &err);
  ck_assert_msg(fabs(bits - nats / log(2.0)) < 1e-5, "nll %.7f bits, loss %.7f nats", bits, nats);
  /* a network whose logits are all zero is uniform over 16 levels: 4 bits exactly */
  gmt_ok(gm_tensor_fill(param(m, "out.1.weight"), 0.0, &err), &err);
  gmt_ok(gm_tensor_fill(param(m, "out.1.bias"), 0.0, &err), &err);
  gmt_ok(vt->nll(m, img, NULL, &rng, &bits, &err), &err);
  ck_assert_msg(fabs(bits - 4.0) < 1e-6, "uniform model: %.9f bits per dimension", bits);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(img);
  vt->destroy(m);
}
END_TEST

START_TEST(pixelcnn_refuses_bad_options_and_inputs) {
  gm_error err = {0};
  gm_resolved_options ro;
  gm_rng rng;
  gm_rng_init(&rng, 1, 0);
  gm_model *m = NULL;
  const char *bad[][1] = {{"width=8"}, {"kernel=4"}};
  const gm_kv bad_kv[] = {{"width", "8"}, {"kernel", "4"}};
  const char *why[] = {"multiple of 3", "odd"};
  gmt_ok(gm_model_options_resolve(vt, "gated", NULL, 0, &ro, &err), &err);
  for (int i = 0; i < 2; i++) {
    /* resolving refuses the value with the options (a usage error for the CLI) ... */
    gm_resolved_options bad_ro;
    ck_assert_int_eq(gm_model_options_resolve(vt, "gated", bad[i], 1, &bad_ro, &err), GM_EINVAL);
    ck_assert_msg(strstr(err.msg, why[i]), "%s: %s", bad[i][0], err.msg);
    /* ... and create still refuses a list that was never resolved (the last setting wins) */
    gm_kv kv[64];
    ck_assert_int_lt(ro.n_model, 63);
    memcpy(kv, ro.model, sizeof *kv * (size_t)ro.n_model);
    kv[ro.n_model] = bad_kv[i];
    err.msg[0] = '\0';
    ck_assert_int_eq(vt->create(&m, gmt_device(), kv, ro.n_model + 1, &rng, &err), GM_EINVAL);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, why[i]), "%s: %s", bad[i][0], err.msg);
  }
  gm_model_options_free(&ro);
  const char *sets[] = {"width=6", "layers=1", "image_size=3"};
  m = gmt_model_create(vt, "gated", sets, 3, 1);
  gm_sample_options o = {.n = 1, .sampler = "fast"};
  gm_tensor *img;
  ck_assert_int_eq(vt->sample(m, &o, &rng, &img, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "fast"));
  gm_tensor *gray = gmt_tensor_from(4, GM_SHAPE(1, 1, 4, 4), NULL), *loss;
  ck_assert_int_eq(vt->loss(m, gray, &rng, &loss, &err), GM_ESHAPE);
  gm_named_tensor in = {"t", gray}, out[1];
  int n_out;
  ck_assert_int_eq(vt->forward(m, &in, 1, out, 1, &n_out, &err), GM_EINVAL);
  gm_tensor_destroy(gray);
  ck_assert_str_eq(vt->presets[0].name, "gated");
  ck_assert_str_eq(vt->samplers[0], "cached");
  vt->destroy(m);
  gm_tape_reset(gmt_device());
}
END_TEST

/* ---- the text condition ---- */

static const char *const PTEXTS[] = {"red apple", "yellow banana", "red cherry", "green kiwi"};

static float *draw_text(gm_model *m, const char *sampler, const gm_text_cond *c, float w,
                        double *evals) {
  gm_error err = {0};
  gm_rng rng;
  gm_rng_init(&rng, 77, 7);
  gm_sample_options o = {.n = 3, .sampler = sampler, .cond = c, .guidance = w};
  gm_tensor *img = NULL;
  gmt_ok(vt->sample(m, &o, &rng, &img, &err), &err);
  float *host = gmt_read(img);
  gm_tape_reset(gmt_device());
  if (evals) *evals = o.evaluations_per_image;
  return host;
}

START_TEST(gated_text_follows_its_condition_with_guidance_identities_in_both_samplers) {
  const char *sets[] = {"width=12", "layers=3", "kernel=3", "image_size=5", "vocab=12",
                        "text_dim=8"};
  gm_model *m = gmt_model_create(vt, "gated-text", sets, 6, 51);
  gm_error err = {0};
  gm_vocab *v;
  gmt_ok(gm_vocab_build(&v, PTEXTS, 4, 1, &err), &err);
  gm_resolved_options o;
  gmt_ok(gm_model_options_resolve(vt, "gated-text", sets, 6, &o, &err), &err);
  gm_model_info info;
  gmt_ok(gm_model_describe(vt, &o, &info, &err), &err);
  ck_assert_int_eq(info.text_condition, 1);
  ck_assert_int_eq(info.vocab_size, 12);
  gm_model_options_free(&o);
  gm_text_cond c = gmt_text_cond(v, PTEXTS, 4, 3, 0), e = gmt_text_cond(v, PTEXTS, 4, 3, 1);
  const size_t n = 3 * 3 * 25;
  double ev_plain, ev_guided;
  float *u = draw_text(m, "cached", NULL, 0, &ev_plain);
  const char *samplers[2] = {"cached", "naive"};
  float *first[3] = {NULL, NULL, NULL};
  for (int k = 0; k < 2; k++) {
    float *w0 = draw_text(m, samplers[k], &c, 0, NULL);
    float *empty = draw_text(m, samplers[k], &e, 1, NULL);
    float *w1 = draw_text(m, samplers[k], &c, 1, NULL);
    float *w3 = draw_text(m, samplers[k], &c, 3, k ? NULL : &ev_guided);
    gmt_assert_close(w0, u, n, 0, 0, "guidance 0 against no condition");
    gmt_assert_close(empty, u, n, 0, 0, "the empty text against no condition");
    if (k == 0) {
      first[0] = w1, first[1] = w3;
      double d1 = 0, d3 = 0;
      for (size_t i = 0; i < n; i++) d1 += fabs(w1[i] - u[i]), d3 += fabs(w3[i] - w1[i]);
      ck_assert_msg(d1 > 0, "the text changes nothing");
      ck_assert_msg(d3 > 0, "guidance 3 draws what guidance 1 draws");
    } else { /* naive == cached, prompted and guided */
      gmt_assert_close(w1, first[0], n, 0, 0, "naive against cached, guidance 1");
      gmt_assert_close(w3, first[1], n, 0, 0, "naive against cached, guidance 3");
      free(w1);
      free(w3);
    }
    free(w0);
    free(empty);
  }
  ck_assert_double_eq_tol(ev_guided, 2 * ev_plain, 1e-9); /* two network images per image */
  /* gradients reach the embedding and every layer's gate biases */
  gm_tensor *img = gmt_tensor_from(4, GM_SHAPE(3, 3, 5, 5), NULL);
  gm_rng r;
  gm_rng_init(&r, 9, 9);
  gmt_ok(gm_rng_uniform(img, &r, 0, 256, &err), &err);
  gm_tensor *loss;
  gm_params *p = vt->params(m);
  gmt_ok(vt->loss_text(m, img, &c, &r, &loss, &err), &err);
  gmt_ok(gm_params_zero_grad(p, &err), &err);
  gmt_ok(gm_backward(loss, &err), &err);
  const char *names[] = {"text.embed.weight", "layers.0.cv.weight", "layers.2.ch.weight"};
  for (int k = 0; k < 3; k++) gmt_assert_grad_nonzero(p, names[k]);
  gm_tape_reset(gmt_device());
  /* the likelihood with the texts is another number */
  gm_nll_options no = {0}, co = {.cond = &c};
  double a = 0, b = 0;
  gmt_ok(vt->nll(m, img, &no, &r, &a, &err), &err);
  gmt_ok(vt->nll(m, img, &co, &r, &b, &err), &err);
  ck_assert_msg(isfinite(a) && isfinite(b) && a != b, "bits/dim %g and %g", a, b);
  /* a condition to a model without text is refused */
  const char *plain_sets[] = {"width=12", "layers=2", "kernel=3", "image_size=5"};
  gm_model *plain = gmt_model_create(vt, "gated", plain_sets, 4, 52);
  gm_sample_options so = {.n = 3, .cond = &c, .guidance = 1};
  gm_tensor *out;
  ck_assert_int_eq(vt->sample(plain, &so, &r, &out, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "takes no text"), "%s", err.msg);
  free(u);
  free(first[0]);
  free(first[1]);
  gm_text_cond_free(&c);
  gm_text_cond_free(&e);
  gm_tensor_destroy(img);
  gm_vocab_destroy(v);
  vt->destroy(plain);
  vt->destroy(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pixelcnn");
  TCase *tc = tcase_create("pixelcnn");
  tcase_add_unchecked_fixture(tc, load_plugin, unload_plugin);
  tcase_add_test(tc, seed_has_the_study_keys_shapes_and_738288_parameters);
  tcase_add_test(tc, seed_weights_travel_by_key_through_safetensors);
  tcase_add_test(tc, seed_loads_a_pytorch_state_dict_and_gives_its_logits);
  tcase_add_test(tc, seed_loss_and_every_gradient_match_pytorch);
  tcase_add_test(tc, seed_forward_matches_a_plain_c_reference_of_the_study_network);
  tcase_add_test(tc, seed_logits_ignore_the_current_and_later_pixels);
  tcase_add_loop_test(tc, gated_logits_ignore_later_pixels_and_later_channels, 0, 2);
  tcase_add_test(tc, gated_sees_pixels_above_and_to_the_right);
  tcase_add_test(tc, seed_naive_and_cached_samplers_draw_the_same_images);
  tcase_add_test(tc, gated_naive_and_cached_samplers_draw_the_same_images);
  tcase_add_test(tc, samples_vary_with_the_seed_and_are_repeatable);
  tcase_add_loop_test(tc, samplers_stop_after_k_pixels_with_k_reported_and_the_rest_undrawn, 0, 2);
  tcase_add_test(tc, seed_loss_falls_under_adam);
  tcase_add_test(tc, gated_loss_falls_under_adam);
  tcase_add_test(tc, nll_is_the_mean_cross_entropy_in_bits);
  tcase_add_test(tc, pixelcnn_refuses_bad_options_and_inputs);
  tcase_add_test(tc, gated_text_follows_its_condition_with_guidance_identities_in_both_samplers);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
