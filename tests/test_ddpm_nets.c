/* The DDPM plugin's networks: the study's U-Net against a plain C reference (batch norm
 * in evaluation and training mode), its parameter count and state_dict key order, input
 * and option checks, and the training loss falling under Adam for both presets. The
 * plugin is loaded through the registry. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "torchref.h"

/* ---- the plugin through the registry ---- */

static const gm_model_vtable *vt;

static void load_plugin(void) { vt = gmt_model_plugin("ddpm"); }

static void unload_plugin(void) {
  gmt_model_plugins_close();
  vt = NULL;
}

/* ---- the study's U-Net ---- */

static const char *const seed_keys[] = {
    "time_mlp.0.weight", "time_mlp.0.bias", "time_mlp.2.weight", "time_mlp.2.bias",
    "encoderConv1.0.weight", "encoderConv1.0.bias", "encoderConv1.1.weight",
    "encoderConv1.1.bias", "encoderConv1.1.running_mean", "encoderConv1.1.running_var",
    "encoderConv1.1.num_batches_tracked",
    "encoderConv2.0.weight", "encoderConv2.0.bias", "encoderConv2.1.weight",
    "encoderConv2.1.bias", "encoderConv2.1.running_mean", "encoderConv2.1.running_var",
    "encoderConv2.1.num_batches_tracked",
    "bottleneck.0.weight", "bottleneck.0.bias", "bottleneck.1.weight", "bottleneck.1.bias",
    "bottleneck.1.running_mean", "bottleneck.1.running_var", "bottleneck.1.num_batches_tracked",
    "upConv1.weight", "upConv1.bias",
    "decoderConv1.0.weight", "decoderConv1.0.bias", "decoderConv1.1.weight",
    "decoderConv1.1.bias", "decoderConv1.1.running_mean", "decoderConv1.1.running_var",
    "decoderConv1.1.num_batches_tracked",
    "upConv2.weight", "upConv2.bias",
    "decoderConv2.0.weight", "decoderConv2.0.bias", "decoderConv2.1.weight",
    "decoderConv2.1.bias", "decoderConv2.1.running_mean", "decoderConv2.1.running_var",
    "decoderConv2.1.num_batches_tracked",
    "output.weight", "output.bias", NULL};

START_TEST(seed_has_the_study_keys_in_order_and_938444_parameters) {
  gm_model *m = gmt_model_create(vt, "seed", NULL, 0, 1);
  gm_params *p = vt->params(m);
  int n = gm_params_count(p), i = 0;
  for (; seed_keys[i]; i++) {
    const char *name;
    int kind;
    ck_assert_int_lt(i, n);
    gm_tensor *t = gm_params_at(p, i, &name, &kind);
    ck_assert_str_eq(name, seed_keys[i]);
    int buffer = strstr(name, "running_") || strstr(name, "num_batches");
    ck_assert_int_eq(kind, buffer ? GM_PARAM_BUFFER : GM_PARAM_TRAINABLE);
    if (strstr(name, "num_batches")) {
      ck_assert_int_eq(t->dtype, GM_I32);
      ck_assert_int_eq(t->ndim, 0);
    }
  }
  ck_assert_int_eq(i, n);
  ck_assert_int_eq(gm_params_numel(p, GM_PARAM_TRAINABLE), 938444);
  int64_t tm = 0;
  for (int k = 0; k < 4; k++) tm += gm_params_find(p, seed_keys[k])->numel;
  ck_assert_int_eq(tm, 33280);
  int64_t shape[4] = {256, 128, 2, 2};
  gm_tensor *up1 = gm_params_find(p, "upConv1.weight");
  for (int k = 0; k < 4; k++) ck_assert_int_eq(up1->shape[k], shape[k]);
  gm_tensor *out = gm_params_find(p, "output.weight");
  ck_assert_int_eq(out->shape[1], 67);
  vt->destroy(m);
}
END_TEST

/* ---- a plain C reference of the study's U-Net ---- */

typedef struct hostnet {
  float *w[64];
  const char *names[64];
  int n;
} hostnet;

static float *hw(hostnet *h, const char *name) {
  for (int i = 0; i < h->n; i++)
    if (strcmp(h->names[i], name) == 0) return h->w[i];
  ck_abort_msg("no %s", name);
  return NULL;
}

/* y (B, co, H, W) = conv k x k, padding k / 2, of x (B, ci, H, W) */
static float *ref_conv(const float *x, int B, int ci, int H, int W, const float *w,
                       const float *bias, int co, int k) {
  float *y = calloc((size_t)B * co * H * W, sizeof *y);
  int p = k / 2;
  for (int b = 0; b < B; b++)
    for (int o = 0; o < co; o++)
      for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
          double s = bias[o];
          for (int c = 0; c < ci; c++)
            for (int u = 0; u < k; u++)
              for (int v = 0; v < k; v++) {
                int ii = i + u - p, jj = j + v - p;
                if (ii < 0 || jj < 0 || ii >= H || jj >= W) continue;
                s += (double)w[((o * ci + c) * k + u) * k + v] * x[((b * ci + c) * H + ii) * W + jj];
              }
          y[((b * co + o) * H + i) * W + j] = (float)s;
        }
  return y;
}

/* relu(batchnorm(x)) in place: eval with the running statistics, or train with the batch's
 * (biased) statistics */
static void ref_bn_relu(float *x, int B, int C, int HW, const float *g, const float *be,
                        const float *rm, const float *rv, int train) {
  for (int c = 0; c < C; c++) {
    double mean = rm[c], var = rv[c];
    if (train) {
      double s = 0, sq = 0;
      for (int b = 0; b < B; b++)
        for (int i = 0; i < HW; i++) s += x[(b * C + c) * HW + i];
      mean = s / (B * HW);
      for (int b = 0; b < B; b++)
        for (int i = 0; i < HW; i++) sq += pow(x[(b * C + c) * HW + i] - mean, 2);
      var = sq / (B * HW);
    }
    for (int b = 0; b < B; b++)
      for (int i = 0; i < HW; i++) {
        float *v = &x[(b * C + c) * HW + i];
        double y = g[c] * (*v - mean) / sqrt(var + 1e-5) + be[c];
        *v = (float)(y > 0 ? y : 0);
      }
  }
}

static float *ref_block(hostnet *h, const char *name, const float *x, int B, int ci, int co,
                        int S, int train) {
  char k[6][80];
  const char *leaf[6] = {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                         "1.running_var"};
  for (int i = 0; i < 6; i++) snprintf(k[i], sizeof k[i], "%s.%s", name, leaf[i]);
  float *y = ref_conv(x, B, ci, S, S, hw(h, k[0]), hw(h, k[1]), co, 3);
  ref_bn_relu(y, B, co, S * S, hw(h, k[2]), hw(h, k[3]), hw(h, k[4]), hw(h, k[5]), train);
  return y;
}

static float *ref_pool(const float *x, int B, int C, int S) {
  int s = S / 2;
  float *y = malloc((size_t)B * C * s * s * sizeof *y);
  for (int bc = 0; bc < B * C; bc++)
    for (int i = 0; i < s; i++)
      for (int j = 0; j < s; j++) {
        const float *p = x + (size_t)bc * S * S;
        y[(bc * s + i) * s + j] = fmaxf(fmaxf(p[2 * i * S + 2 * j], p[2 * i * S + 2 * j + 1]),
                                        fmaxf(p[(2 * i + 1) * S + 2 * j], p[(2 * i + 1) * S + 2 * j + 1]));
      }
  return y;
}

/* ConvTranspose2d(ci, co, 2, stride 2), weight (ci, co, 2, 2) */
static float *ref_up(const float *x, int B, int ci, int co, int S, const float *w, const float *bias) {
  int T = 2 * S;
  float *y = malloc((size_t)B * co * T * T * sizeof *y);
  for (int b = 0; b < B; b++)
    for (int o = 0; o < co; o++)
      for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
          double s = bias[o];
          for (int c = 0; c < ci; c++)
            s += (double)w[((c * co + o) * 2 + i % 2) * 2 + j % 2] * x[((b * ci + c) * S + i / 2) * S + j / 2];
          y[((b * co + o) * T + i) * T + j] = (float)s;
        }
  return y;
}

static float *ref_cat(const float *a, int ca, const float *b, int cb, int B, int HW) {
  float *y = malloc((size_t)B * (ca + cb) * HW * sizeof *y);
  for (int n = 0; n < B; n++) {
    memcpy(y + (size_t)n * (ca + cb) * HW, a + (size_t)n * ca * HW, (size_t)ca * HW * sizeof *y);
    memcpy(y + ((size_t)n * (ca + cb) + ca) * HW, b + (size_t)n * cb * HW, (size_t)cb * HW * sizeof *y);
  }
  return y;
}

static float *ref_seed(hostnet *h, const float *x, int B, int S, int train) {
  int s2 = S / 2, s4 = S / 4;
  float *e1 = ref_block(h, "encoderConv1", x, B, 3, 64, S, train);
  float *p1 = ref_pool(e1, B, 64, S);
  float *e2 = ref_block(h, "encoderConv2", p1, B, 64, 128, s2, train);
  float *p2 = ref_pool(e2, B, 128, s2);
  float *bn = ref_block(h, "bottleneck", p2, B, 128, 256, s4, train);
  float *u1 = ref_up(bn, B, 256, 128, s4, hw(h, "upConv1.weight"), hw(h, "upConv1.bias"));
  float *c1 = ref_cat(u1, 128, e2, 128, B, s2 * s2);
  float *d1 = ref_block(h, "decoderConv1", c1, B, 256, 128, s2, train);
  float *u2 = ref_up(d1, B, 128, 64, s2, hw(h, "upConv2.weight"), hw(h, "upConv2.bias"));
  float *c2 = ref_cat(u2, 64, e1, 64, B, S * S);
  float *d2 = ref_block(h, "decoderConv2", c2, B, 128, 64, S, train);
  float *c3 = ref_cat(d2, 64, x, 3, B, S * S);
  float *y = ref_conv(c3, B, 67, S, S, hw(h, "output.weight"), hw(h, "output.bias"), 3, 1);
  float *all[] = {e1, p1, e2, p2, bn, u1, c1, d1, u2, c2, d2, c3};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
  return y;
}

START_TEST(seed_forward_matches_a_plain_c_reference) {
  gm_error err = {0};
  enum { B = 3, S = 8 };
  const int train = _i;
  const char *sets[] = {"size=8"};
  gm_model *m = gmt_model_create(vt, "seed", sets, 1, 21);
  gm_params *p = vt->params(m);
  /* non-trivial batch norm parameters and running statistics */
  gm_rng r;
  gm_rng_init(&r, 22, 0);
  hostnet h = {.n = 0};
  for (int i = 0; i < gm_params_count(p); i++) {
    const char *name;
    gm_tensor *t = gm_params_at(p, i, &name, NULL);
    if (t->dtype != GM_F32) continue;
    if (strstr(name, ".1.")) gmt_ok(gm_rng_uniform(t, &r, 0.5f, 1.5f, &err), &err);
    if (strstr(name, ".1.bias") || strstr(name, "running_mean"))
      gmt_ok(gm_rng_uniform(t, &r, -0.2f, 0.2f, &err), &err);
    h.names[h.n] = name;
    h.w[h.n++] = gmt_read(t);
  }
  float x[B * 3 * S * S], t[B] = {0.1f, 0.5f, 0.9f};
  gmt_rng hr;
  gmt_rng_seed(&hr, 23);
  gmt_fill_uniform(&hr, x, B * 3 * S * S, -1, 1);
  gm_tensor *tx = gmt_tensor_from(4, GM_SHAPE(B, 3, S, S), x), *tt = gmt_tensor_from(1, GM_SHAPE(B), t);
  vt->train_mode(m, train);
  gm_named_tensor in[2] = {{"x", tx}, {"t", tt}}, out[2];
  int n_out = 0;
  gmt_ok(vt->forward(m, in, 2, out, 2, &n_out, &err), &err);
  ck_assert_int_eq(n_out, 1);
  ck_assert_str_eq(out[0].name, "eps");
  float *got = gmt_read(out[0].tensor);
  float *want = ref_seed(&h, x, B, S, train);
  gmt_assert_close(got, want, B * 3 * S * S, 1e-4, 1e-4, train ? "seed forward, train" : "seed forward, eval");
  if (train) { /* the running statistics moved and the batches were counted */
    int count = -1;
    gmt_ok(gm_tensor_read(gm_params_find(p, "bottleneck.1.num_batches_tracked"), &count, 4, &err), &err);
    ck_assert_int_eq(count, 1);
    float *rm = gmt_read(gm_params_find(p, "encoderConv1.1.running_mean"));
    ck_assert(rm[0] != hw(&h, "encoderConv1.1.running_mean")[0]);
    free(rm);
  }
  free(got);
  free(want);
  for (int i = 0; i < h.n; i++) free(h.w[i]);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(tx);
  gm_tensor_destroy(tt);
  vt->destroy(m);
}
END_TEST

/* One training step of the study's U-Net against PyTorch (tests/data/torch/
 * make_fixtures.py, torch 1.13, two 16x16 images): its state_dict (batch norm's affine
 * parameters and running statistics away from their defaults, num_batches_tracked 3)
 * loads by key; forward in train mode on the dumped x and t gives PyTorch's eps, the MSE
 * against the dumped target its loss, gm_backward its gradient for every trainable
 * parameter (by name; time_mlp's are exactly zero, computed and never used), and the one
 * forward moves the running statistics as PyTorch's (momentum 0.1, unbiased variance)
 * and counts the batch. Tolerances: float32 on both sides with different summation
 * orders, through five batch norms on batch statistics (whose backward subtracts two
 * means from each gradient, losing a few bits to cancellation). Measured on PoCL the
 * worst gradient element is within 1.8e-6 of its tensor's largest |grad| (own GEMMs, host
 * BLAS and im2col alike); rtol 1e-4 leaves room for other devices and GEMM paths, while a
 * wrong term (a skipped mean in the batch norm backward, a swapped concatenation) is off
 * by 1e-2 or more. The floor, 1e-2 of the largest gradient in the network (0.13, in
 * output.weight), is for the conv biases under batch norm: their exact gradient is zero
 * (batch norm removes the mean) and both sides hold rounding residue only (PyTorch's up
 * to 1e-8, genmoji's differing from it by up to 1.3e-8, 1e-7 of the largest), held to
 * 1e-6 of the largest; a real bias gradient there would be of batch norm's bias
 * gradients' size, 1e-3 and up. */
START_TEST(seed_unet_loss_gradients_and_running_stats_match_pytorch) {
  gm_error err = {0};
  const char *sets[] = {"size=16"};
  gm_model *m = gmt_model_create(vt, "seed", sets, 1, 51);
  gm_params *p = vt->params(m);
  gm_checkpoint *c = gmt_torch_open("unet_seed_s16.safetensors");
  gmt_ok(gm_checkpoint_load_params(c, p, (const char *[]){"io.", "grad.", "after.", NULL}, &err),
         &err);
  gm_tensor *x = gmt_torch_tensor(c, "io.x"), *t = gmt_torch_tensor(c, "io.t");
  gm_tensor *target = gmt_torch_tensor(c, "io.target"), *eps_want = gmt_torch_tensor(c, "io.eps");
  gm_tensor *loss_want = gmt_torch_tensor(c, "io.loss"), *loss;
  vt->train_mode(m, 1);
  gmt_ok(gm_params_zero_grad(p, &err), &err);
  gm_named_tensor in[2] = {{"x", x}, {"t", t}}, out[2];
  int n_out = 0;
  gmt_ok(vt->forward(m, in, 2, out, 2, &n_out, &err), &err);
  ck_assert_int_eq(n_out, 1);
  ck_assert_str_eq(out[0].name, "eps");
  gmt_ok(gm_mse(&loss, out[0].tensor, target, &err), &err);
  gmt_ok(gm_backward(loss, &err), &err);
  float *eg = gmt_read(out[0].tensor), *ew = gmt_read(eps_want), got, want;
  gmt_assert_close(eg, ew, (size_t)eps_want->numel, 1e-4, 1e-5, "eps vs PyTorch's, train mode");
  gmt_ok(gm_tensor_read(loss, &got, 4, &err), &err);
  gmt_ok(gm_tensor_read(loss_want, &want, 4, &err), &err);
  ck_assert_msg(fabs(got - want) <= 1e-5 * want, "loss %.8g, PyTorch's %.8g", got, want);
  const char *where = "";
  double worst = gmt_assert_grads_match_torch(c, p, 1e-4, 1e-2, "ddpm seed", &where);
  fprintf(stderr, "ddpm seed vs PyTorch: loss %.8g / %.8g, worst gradient error %.3g of the "
          "tensor's largest |grad| (%s)\n", got, want, worst, where);
  /* the unused time_mlp gets no gradient at all, and the buffers moved as PyTorch's */
  for (int k = 0; k < 4; k++) {
    gm_tensor *w = gm_params_find(p, seed_keys[k]);
    float *g = gmt_read(w->grad);
    for (int64_t i = 0; i < w->numel; i++)
      ck_assert_msg(g[i] == 0.0f, "%s: grad %g at %lld", seed_keys[k], g[i], (long long)i);
    free(g);
  }
  int n_buffers = 0;
  for (int k = 0; seed_keys[k]; k++) {
    if (!strstr(seed_keys[k], "running_") && !strstr(seed_keys[k], "num_batches")) continue;
    char key[120];
    snprintf(key, sizeof key, "after.%s", seed_keys[k]);
    gm_tensor *b = gm_params_find(p, seed_keys[k]), *a = gmt_torch_tensor(c, key);
    ck_assert_int_eq(a->numel, b->numel);
    if (b->dtype == GM_I32) {
      int32_t vb = -1, va = -2;
      gmt_ok(gm_tensor_read(b, &vb, 4, &err), &err);
      gmt_ok(gm_tensor_read(a, &va, 4, &err), &err);
      ck_assert_msg(vb == va && va == 4, "%s: %d, PyTorch's %d", seed_keys[k], vb, va);
    } else {
      float *hb = gmt_read(b), *ha = gmt_read(a);
      gmt_assert_close(hb, ha, (size_t)a->numel, 1e-5, 1e-6, key);
      free(hb);
      free(ha);
    }
    gm_tensor_destroy(a);
    n_buffers++;
  }
  ck_assert_int_eq(n_buffers, 15);
  free(eg);
  free(ew);
  gm_tape_reset(gmt_device());
  gm_tensor *all[] = {x, t, target, eps_want, loss_want};
  for (int k = 0; k < 5; k++) gm_tensor_destroy(all[k]);
  gm_checkpoint_close(c);
  vt->destroy(m);
}
END_TEST

START_TEST(forward_refuses_missing_or_misshapen_inputs) {
  gm_error err = {0};
  gm_model *m = gmt_tiny_unet(vt, "timesteps=20", "schedule=cosine", 16);
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(2, 3, 8, 8), NULL), *t = gmt_tensor_from(1, GM_SHAPE(3), NULL);
  gm_named_tensor in[2] = {{"x", x}, {"t", t}}, out[1];
  int n_out;
  ck_assert_int_eq(vt->forward(m, in, 1, out, 1, &n_out, &err), GM_EINVAL);
  ck_assert_int_eq(vt->forward(m, in, 2, out, 1, &n_out, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(3)"));
  gm_tensor_destroy(x);
  gm_tensor_destroy(t);
  vt->destroy(m);
}
END_TEST

START_TEST(options_are_validated_at_create) {
  gm_error err = {0};
  gm_resolved_options ro;
  gmt_ok(gm_model_options_resolve(vt, "unet", NULL, 0, &ro, &err), &err);
  gm_rng r;
  gm_rng_init(&r, 1, 1);
  gm_model *m = NULL;
  const char *bad[][2] = {{"mult", "1,x"}, {"mult", ""}, {"size", "30"}, {"ch", "7"}};
  for (int i = 0; i < 4; i++) {
    const char *keep = NULL;
    for (int j = 0; j < ro.n_model; j++)
      if (!strcmp(ro.model[j].key, bad[i][0])) {
        keep = ro.model[j].value;
        ro.model[j].value = bad[i][1];
      }
    int rc = vt->create(&m, gmt_device(), ro.model, ro.n_model, &r, &err);
    ck_assert_msg(rc < 0 && m == NULL, "%s=%s was accepted", bad[i][0], bad[i][1]);
    for (int j = 0; j < ro.n_model; j++)
      if (!strcmp(ro.model[j].key, bad[i][0])) ro.model[j].value = keep;
  }
  gm_model_options_free(&ro);
}
END_TEST

/* ---- the loss's target ---- */

/* A fresh U-Net predicts exactly 0 (its output conv starts at zero), so its loss is the
 * mean square of the target; the levels and noise are redrawn here from the same stream
 * (u for the B levels, then eps), and the target rebuilt on the host: eps, or
 * v = sqrt(ab) eps - sqrt(1 - ab) x0 with x0 = v / 127.5 - 1. */
START_TEST(loss_targets_eps_or_v_at_the_drawn_levels) {
  gm_error err = {0};
  const int pred_v = _i;
  enum { B = 5, S = 8, N = 40 };
  const char *sets[] = {"size=8", "ch=8", "mult=1,2", "blocks=1", "timesteps=40",
                        "schedule=cosine", pred_v ? "pred=v" : "pred=eps"};
  gm_model *m = gmt_model_create(vt, "unet", sets, 7, 41);
  gmt_rng hr;
  gmt_rng_seed(&hr, 42);
  float img[B * 3 * S * S];
  for (int i = 0; i < B * 3 * S * S; i++) img[i] = floorf(gmt_uniform(&hr, 0, 256));
  gm_tensor *timg = gmt_tensor_from(4, GM_SHAPE(B, 3, S, S), img);
  gm_rng r, again;
  gm_rng_init(&r, 43, 1);
  again = r;
  gm_tensor *l;
  vt->train_mode(m, 1);
  gmt_ok(vt->loss(m, timg, &r, &l, &err), &err);
  float got;
  gmt_ok(gm_tensor_read(l, &got, 4, &err), &err);
  gm_tensor *u = gmt_tensor_from(1, GM_SHAPE(B), NULL), *eps = gmt_tensor_from(4, GM_SHAPE(B, 3, S, S), NULL);
  gmt_ok(gm_rng_uniform(u, &again, 0, 1, &err), &err);
  gmt_ok(gm_rng_normal(eps, &again, 0, 1, &err), &err);
  float *hu = gmt_read(u), *he = gmt_read(eps);
  /* the cosine schedule of T = 40, as the plugin builds it */
  double ab[N + 1];
  ab[0] = 1;
  for (int k = 1; k <= N; k++) {
    double fk = pow(cos((k / (double)N + 0.008) / 1.008 * 3.14159265358979323846 / 2), 2);
    double fp = pow(cos(((k - 1) / (double)N + 0.008) / 1.008 * 3.14159265358979323846 / 2), 2);
    ab[k] = ab[k - 1] * (1 - fmin(1 - fk / fp, 0.999));
  }
  double sum = 0;
  for (int b = 0; b < B; b++) {
    int k = (int)floorf(hu[b] * (float)N);
    k = 1 + (k < N - 1 ? k : N - 1);
    for (int i = 0; i < 3 * S * S; i++) {
      double e = he[b * 3 * S * S + i], x0 = img[b * 3 * S * S + i] / 127.5 - 1;
      double t = pred_v ? sqrt(ab[k]) * e - sqrt(1 - ab[k]) * x0 : e;
      sum += t * t;
    }
  }
  double want = sum / (B * 3 * S * S);
  ck_assert_msg(fabs(got - want) <= 1e-5 * want, "loss %.7g, mean square target %.7g", got, want);
  free(hu);
  free(he);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(u);
  gm_tensor_destroy(eps);
  gm_tensor_destroy(timg);
  vt->destroy(m);
}
END_TEST

/* ---- training ---- */

/* four 8x8 images: colour blobs on black */
static gm_tensor *toy_images(void) {
  enum { B = 4, S = 8 };
  float h[B * 3 * S * S];
  for (int b = 0; b < B; b++)
    for (int c = 0; c < 3; c++)
      for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
          double d = hypot(i - 2.0 - b, j - 3.5);
          h[((b * 3 + c) * S + i) * S + j] = d < 3 ? (float)(255 * ((b + c) % 3) / 2.0) : 0;
        }
  return gmt_tensor_from(4, GM_SHAPE(B, 3, S, S), h);
}

static float loss_at(gm_model *m, gm_tensor *img, uint64_t seed) {
  gm_error err = {0};
  gm_rng r;
  gm_rng_init(&r, seed, 9);
  gm_tensor *l;
  float v = 0;
  int rec = gm_grad_enable(gmt_device(), 0);
  double sum = 0;
  for (int i = 0; i < 4; i++) {
    gmt_ok(vt->loss(m, img, &r, &l, &err), &err);
    gmt_ok(gm_tensor_read(l, &v, 4, &err), &err);
    sum += v;
    gm_tape_reset(gmt_device());
  }
  gm_grad_enable(gmt_device(), rec);
  return (float)(sum / 4);
}

static void check_training(gm_model *m, float lr) {
  gm_error err = {0};
  gm_tensor *img = toy_images();
  gm_params *p = vt->params(m);
  gm_optim_config oc;
  gm_optim_config_default(&oc, GM_OPTIM_ADAM);
  oc.lr = lr;
  gm_optim *opt;
  gmt_ok(gm_optim_create(&opt, p, &oc, &err), &err);
  vt->train_mode(m, 1);
  float before = loss_at(m, img, 100);
  gm_rng r;
  gm_rng_init(&r, 101, 0);
  for (int step = 0; step < 30; step++) {
    gm_tensor *l;
    gmt_ok(gm_params_zero_grad(p, &err), &err);
    gmt_ok(vt->loss(m, img, &r, &l, &err), &err);
    gmt_ok(gm_backward(l, &err), &err);
    gmt_ok(gm_optim_step(opt, &err), &err);
    gm_tape_reset(gmt_device());
  }
  float after = loss_at(m, img, 100);
  ck_assert_msg(after < 0.7f * before, "loss %g before and %g after 30 Adam steps", before, after);
  gm_optim_destroy(opt);
  gm_tensor_destroy(img);
}

START_TEST(seed_loss_falls_under_adam) {
  const char *sets[] = {"size=8"};
  gm_model *m = gmt_model_create(vt, "seed", sets, 1, 31);
  check_training(m, 1e-3f);
  vt->destroy(m);
}
END_TEST

START_TEST(unet_loss_falls_under_adam) {
  const char *sets[] = {"size=8", "ch=16", "mult=1,2", "blocks=1", "dropout=0.1"};
  gm_model *m = gmt_model_create(vt, "unet", sets, 5, 32);
  check_training(m, 2e-3f);
  vt->destroy(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ddpm_nets");
  TCase *tc = tcase_create("ddpm_nets");
  tcase_add_checked_fixture(tc, load_plugin, unload_plugin);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, seed_has_the_study_keys_in_order_and_938444_parameters);
  tcase_add_loop_test(tc, seed_forward_matches_a_plain_c_reference, 0, 2);
  tcase_add_test(tc, seed_unet_loss_gradients_and_running_stats_match_pytorch);
  tcase_add_test(tc, forward_refuses_missing_or_misshapen_inputs);
  tcase_add_test(tc, options_are_validated_at_create);
  tcase_add_loop_test(tc, loss_targets_eps_or_v_at_the_drawn_levels, 0, 2);
  tcase_add_test(tc, seed_loss_falls_under_adam);
  tcase_add_test(tc, unet_loss_falls_under_adam);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
