/* The DDPM plugin's diffusion maths: its schedules against closed forms, the forward
 * process's statistics, the posterior on worked numbers, the samplers (DDIM eta 0
 * determinism, DDIM over every level with eta 1 = ancestral, stopping after k steps) and
 * the likelihood bound against analytic values; the text-conditioned U-Net's metadata,
 * gradients and classifier-free guidance identities (W = 0 is unconditional and the empty
 * text is the unconditional model, bit for bit). The plugin is loaded through the
 * registry; its host-side schedule and bound code is compiled in here as well, to test it
 * directly. The networks are tested in test_ddpm_nets.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include "../plugins/ddpm/bound.c"
#include "../plugins/ddpm/schedule.c"

/* ---- the plugin through the registry ---- */

static const gm_model_vtable *vt;

static void load_plugin(void) { vt = gmt_model_plugin("ddpm"); }

static void unload_plugin(void) {
  gmt_model_plugins_close();
  vt = NULL;
}

/* ---- schedules ---- */

START_TEST(linear_schedule_matches_closed_form_and_rescales_with_T) {
  gm_error err = {0};
  const int Ts[] = {1000, 250, 40};
  for (int c = 0; c < 3; c++) {
    int T = Ts[c];
    ddpm_schedule s;
    gmt_ok(ddpm__schedule_init(&s, DDPM_SCHEDULE_LINEAR, T, &err), &err);
    ck_assert_int_eq(s.levels, T);
    ck_assert(s.ab[0] == 1);
    double scale = 1000.0 / T, ab = 1;
    for (int k = 1; k <= T; k++) {
      double beta = fmin(1e-4 * scale + (0.02 - 1e-4) * scale * (k - 1) / (T - 1), 0.999);
      ab *= 1 - beta;
      ck_assert_double_eq_tol(s.beta[k], beta, 1e-12);
      ck_assert_double_eq_tol(s.ab[k] / ab, 1, 1e-12);
    }
    /* the end point keeps almost no signal at every T */
    ck_assert_double_lt(sqrt(s.ab[T]), 0.01);
    ddpm__schedule_close(&s);
  }
}
END_TEST

START_TEST(cosine_schedule_matches_closed_form) {
  gm_error err = {0};
  const int T = 500;
  ddpm_schedule s;
  gmt_ok(ddpm__schedule_init(&s, DDPM_SCHEDULE_COSINE, T, &err), &err);
  double f0 = pow(cos(0.008 / 1.008 * 3.14159265358979323846 / 2), 2);
  for (int k = 0; k <= T; k++) {
    double f = pow(cos((k / (double)T + 0.008) / 1.008 * 3.14159265358979323846 / 2), 2);
    if (s.beta[k] < 0.999 && k < T - 5) /* before the cap on beta bites */
      ck_assert_double_eq_tol(s.ab[k] / (f / f0), 1, 1e-9);
    ck_assert_double_le(s.beta[k], 0.999 + 1e-12);
  }
  ck_assert_double_lt(s.ab[T], 1e-6);
  ddpm__schedule_close(&s);
}
END_TEST

START_TEST(study_schedule_is_the_notebooks) {
  gm_error err = {0};
  ddpm_schedule s;
  gmt_ok(ddpm__schedule_init(&s, DDPM_SCHEDULE_STUDY, 500, &err), &err);
  ck_assert_int_eq(s.levels, 499);
  ck_assert_double_eq_tol(s.t_scale, 1.0 / 500, 1e-15);
  double ab = 1;
  for (int j = 0; j < 500; j++) {
    double b = 1e-4 + (0.02 - 1e-4) * j / 499.0;
    ab *= 1 - b;
    ck_assert_double_eq_tol(s.ab[j] / ab, 1, 1e-12);
    ck_assert_double_eq_tol(s.beta[j], b, 1e-12);
  }
  ck_assert_double_eq_tol(s.ab[0], 1 - 1e-4, 1e-15);
  ddpm__schedule_close(&s);
}
END_TEST

START_TEST(posterior_formulas_on_worked_numbers) {
  /* ab[0] = 1, ab[1] = 0.9, ab[2] = 0.72: beta[2] = 0.2, beta_tilde[2] = 0.1 / 0.28 * 0.2,
   * mean = sqrt(0.9) 0.2 / 0.28 x0 + sqrt(0.8) 0.1 / 0.28 x_2 */
  double ab[3] = {1, 0.9, 0.72}, buf[12] = {0};
  ddpm_schedule s = {.levels = 2, .ab = ab, .beta = buf, .post_var = buf + 3,
                     .post_c0 = buf + 6, .post_ct = buf + 9};
  ddpm__schedule_derive(&s);
  ck_assert_double_eq_tol(s.beta[1], 0.1, 1e-15);
  ck_assert_double_eq_tol(s.beta[2], 0.2, 1e-15);
  ck_assert_double_eq_tol(s.post_var[1], 0, 1e-15);
  ck_assert_double_eq_tol(s.post_var[2], 0.0714285714285714, 1e-14);
  ck_assert_double_eq_tol(s.post_c0[2], 0.677630927, 1e-9);
  ck_assert_double_eq_tol(s.post_ct[2], 0.319438282, 1e-9);
  ck_assert_double_eq_tol(s.post_c0[1], 1, 1e-15);
  ck_assert_double_eq_tol(s.post_ct[1], 0, 1e-15);
  /* level 1's zero variance is replaced by level 2's for the decoder */
  ck_assert_double_eq(ddpm__reverse_var(&s, 1), s.post_var[2]);
  /* x0 = 0.5, x_2 = -0.3: mean = 0.33881546 - 0.09583148 */
  ck_assert_double_eq_tol(s.post_c0[2] * 0.5 + s.post_ct[2] * -0.3, 0.242983979, 1e-9);
}
END_TEST

START_TEST(posterior_is_bayes_rule_at_every_level) {
  /* precision 1 / (1 - ab[k-1]) + alpha / beta, mean var (sqrt(ab[k-1]) x0 / (1 - ab[k-1])
   * + sqrt(alpha) x_k / beta), for each schedule */
  gm_error err = {0};
  for (int kind = 0; kind < 3; kind++) {
    ddpm_schedule s;
    gmt_ok(ddpm__schedule_init(&s, (ddpm_schedule_kind)kind, 300, &err), &err);
    for (int k = 2; k <= s.levels; k++) {
      double abp = s.ab[k - 1], b = s.beta[k], a = 1 - b;
      double var = 1 / (1 / (1 - abp) + a / b);
      ck_assert_double_eq_tol(s.post_var[k] / var, 1, 1e-9);
      ck_assert_double_eq_tol(s.post_c0[k] / (var * sqrt(abp) / (1 - abp)), 1, 1e-9);
      ck_assert_double_eq_tol(s.post_ct[k] / (var * sqrt(a) / b), 1, 1e-9);
    }
    ddpm__schedule_close(&s);
  }
}
END_TEST

/* ---- the forward process on the device ---- */

START_TEST(forward_process_has_the_scheduled_mean_and_variance) {
  gm_error err = {0};
  ddpm_schedule s;
  gmt_ok(ddpm__schedule_init(&s, DDPM_SCHEDULE_COSINE, 100, &err), &err);
  enum { B = 4, PER = 32768 };
  const int levels[B] = {1, 30, 70, 100};
  float a[101], sd[101];
  for (int k = 0; k <= 100; k++) {
    a[k] = (float)sqrt(s.ab[k]);
    sd[k] = (float)sqrt(1 - s.ab[k]);
  }
  gm_tensor *ta = gmt_tensor_from(1, GM_SHAPE(101), a), *ts = gmt_tensor_from(1, GM_SHAPE(101), sd);
  gm_tensor *x0 = gmt_tensor_from(2, GM_SHAPE(B, PER), NULL), *eps = gmt_tensor_from(2, GM_SHAPE(B, PER), NULL), *idx, *xt;
  gmt_ok(gm_tensor_fill(x0, 0.6, &err), &err);
  gm_rng r;
  gm_rng_init(&r, 5, 1);
  gmt_ok(gm_rng_normal(eps, &r, 0, 1, &err), &err);
  gmt_ok(gm_tensor_create(&idx, gmt_device(), GM_I32, 1, GM_SHAPE(B), &err), &err);
  gmt_ok(gm_tensor_write(idx, levels, sizeof levels, &err), &err);
  gmt_ok(gm_diffusion_q_sample(&xt, x0, eps, idx, ta, ts, 0, &err), &err);
  float *h = gmt_read(xt);
  for (int b = 0; b < B; b++) {
    double sum = 0, sq = 0;
    for (int i = 0; i < PER; i++) sum += h[b * PER + i];
    double mean = sum / PER;
    for (int i = 0; i < PER; i++) sq += pow(h[b * PER + i] - mean, 2);
    double var = sq / (PER - 1), want_var = 1 - s.ab[levels[b]];
    /* 5 standard errors: sd / sqrt(n) for the mean, var sqrt(2 / n) for the variance */
    ck_assert_double_eq_tol(mean, 0.6 * sqrt(s.ab[levels[b]]), 5 * sqrt(want_var / PER) + 1e-6);
    ck_assert_double_eq_tol(var, want_var, 5 * want_var * sqrt(2.0 / PER));
  }
  free(h);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(ta);
  gm_tensor_destroy(ts);
  gm_tensor_destroy(x0);
  gm_tensor_destroy(eps);
  gm_tensor_destroy(idx);
  ddpm__schedule_close(&s);
}
END_TEST

START_TEST(timesteps_are_uniform_over_the_training_levels) {
  /* the study's levels 1 .. T - 1 with T = 10: nine bins, 90000 draws */
  gm_error err = {0};
  enum { N = 90000 };
  gm_tensor *u = gmt_tensor_from(1, GM_SHAPE(N), NULL), *idx, *tin;
  gm_rng r;
  gm_rng_init(&r, 9, 2);
  gmt_ok(gm_rng_uniform(u, &r, 0, 1, &err), &err);
  gmt_ok(gm_diffusion_timesteps(&idx, &tin, u, 1, 9, 0.1f, &err), &err);
  int *h = malloc(N * sizeof *h), count[11] = {0};
  gmt_ok(gm_tensor_read(idx, h, N * sizeof *h, &err), &err);
  for (int i = 0; i < N; i++) {
    ck_assert(h[i] >= 1 && h[i] <= 9);
    count[h[i]]++;
  }
  double chi2 = 0;
  for (int k = 1; k <= 9; k++) chi2 += pow(count[k] - N / 9.0, 2) / (N / 9.0);
  ck_assert_double_lt(chi2, 30); /* 8 degrees of freedom: p < 0.0003 */
  free(h);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(u);
}
END_TEST

/* ---- samplers ---- */

START_TEST(ddim_over_every_level_with_eta_1_is_the_ancestral_step) {
  gm_error err = {0};
  for (int kind = 0; kind < 3; kind++) {
    ddpm_schedule s;
    gmt_ok(ddpm__schedule_init(&s, (ddpm_schedule_kind)kind, 200, &err), &err);
    int lv[200];
    ddpm__ddim_levels(s.levels, s.levels, lv);
    for (int i = 0; i < s.levels; i++) ck_assert_int_eq(lv[i], i + 1);
    for (int k = 1; k <= s.levels; k++) {
      ddpm_step a, d;
      ddpm__step_ancestral(&s, k, &a);
      ddpm__step_ddim(&s, k, k - 1, 1.0, &d);
      ck_assert_int_eq(a.to, d.to);
      ck_assert_double_eq_tol(a.c0, d.c0, 1e-9 * (1 + fabs(a.c0)));
      ck_assert_double_eq_tol(a.c1, d.c1, 1e-9 * (1 + fabs(a.c1)));
      ck_assert_double_eq_tol(a.sigma, d.sigma, 1e-9);
    }
    /* one step on the device from the same x_k, eps and z */
    gmt_rng hr;
    gmt_rng_seed(&hr, 31 + kind);
    enum { N = 2 * 3 * 8 * 8 };
    float x[N], eps[N], z[N];
    for (int i = 0; i < N; i++) {
      x[i] = gmt_normal(&hr);
      eps[i] = gmt_normal(&hr);
      z[i] = gmt_normal(&hr);
    }
    ddpm_step st[2];
    ddpm__step_ancestral(&s, 37, &st[0]);
    ddpm__step_ddim(&s, 37, 36, 1.0, &st[1]);
    float *out[2];
    for (int j = 0; j < 2; j++) {
      gm_tensor *tx = gmt_tensor_from(4, GM_SHAPE(2, 3, 8, 8), x);
      gm_tensor *te = gmt_tensor_from(4, GM_SHAPE(2, 3, 8, 8), eps);
      gm_tensor *tz = gmt_tensor_from(4, GM_SHAPE(2, 3, 8, 8), z);
      gm_diffusion_step_coefs c = {(float)st[j].inv_sqrt_ab, (float)st[j].sqrt_1mab, 1,
                                   (float)st[j].c0, (float)st[j].c1, (float)st[j].sigma, 0};
      gmt_ok(gm_diffusion_step(tx, te, tz, &c, &err), &err);
      out[j] = gmt_read(tx);
      gm_tensor_destroy(tx);
      gm_tensor_destroy(te);
      gm_tensor_destroy(tz);
    }
    gmt_assert_close(out[1], out[0], N, 1e-5, 1e-6, "ddim(eta 1) step vs ancestral step");
    free(out[0]);
    free(out[1]);
    ddpm__schedule_close(&s);
  }
}
END_TEST

START_TEST(ddim_levels_are_evenly_spaced_and_end_at_the_top) {
  int lv[50];
  ddpm__ddim_levels(500, 50, lv);
  for (int i = 0; i < 50; i++) ck_assert_int_eq(lv[i], 10 * (i + 1));
  ddpm__ddim_levels(499, 20, lv);
  ck_assert_int_eq(lv[19], 499);
  for (int i = 1; i < 20; i++) ck_assert_int_gt(lv[i], lv[i - 1]);
}
END_TEST

static float *draw(gm_model *m, const char *sampler, int steps, float eta, gm_tensor *noise,
                   gm_tensor *noise_out, uint64_t seed, double *evals) {
  gm_error err = {0};
  gm_sample_options o = {.n = 3, .sampler = sampler, .steps = steps, .eta = eta,
                         .noise = noise, .noise_out = noise_out};
  gm_rng r;
  gm_rng_init(&r, seed, 7);
  gm_tensor *img;
  gmt_ok(vt->sample(m, &o, &r, &img, &err), &err);
  ck_assert_int_eq(img->ndim, 4);
  ck_assert_int_eq(img->shape[0], 3);
  ck_assert_int_eq(img->shape[1], 3);
  ck_assert_int_eq(img->shape[2], 8);
  float *h = gmt_read(img);
  for (int64_t i = 0; i < img->numel; i++) ck_assert(h[i] >= 0 && h[i] <= 255);
  if (evals) *evals = o.evaluations_per_image;
  gm_tape_reset(gmt_device());
  return h;
}

START_TEST(ddim_with_eta_0_is_deterministic_from_the_same_noise) {
  gm_model *m = gmt_tiny_unet(vt, "timesteps=40", "schedule=cosine", 11);
  gm_tensor *noise = gmt_tensor_from(4, GM_SHAPE(3, 3, 8, 8), NULL);
  double evals = 0;
  /* the noise drawn and saved by one run starts the next ones */
  float *a = draw(m, "ddim", 10, 0, NULL, noise, 1, &evals);
  ck_assert_double_eq(evals, 10);
  float *b = draw(m, "ddim", 10, 0, noise, NULL, 2, NULL);
  float *c = draw(m, "ddim", 10, 0, noise, NULL, 3, NULL);
  gmt_assert_close(b, a, 3 * 3 * 64, 0, 0, "ddim eta 0 from saved noise");
  gmt_assert_close(c, a, 3 * 3 * 64, 0, 0, "ddim eta 0, another rng");
  /* eta 1 draws fresh noise: another rng gives another image */
  float *d = draw(m, "ddim", 10, 1, noise, NULL, 4, NULL);
  float *e = draw(m, "ddim", 10, 1, noise, NULL, 5, NULL);
  double diff = 0;
  for (int i = 0; i < 3 * 3 * 64; i++) diff += fabs(d[i] - e[i]);
  ck_assert_double_gt(diff, 1);
  free(a);
  free(b);
  free(c);
  free(d);
  free(e);
  gm_tensor_destroy(noise);
  vt->destroy(m);
}
END_TEST

START_TEST(ddim_over_every_level_with_eta_1_samples_as_ddpm) {
  gm_model *m = gmt_tiny_unet(vt, "timesteps=20", "schedule=linear", 12);
  gm_tensor *noise = gmt_tensor_from(4, GM_SHAPE(3, 3, 8, 8), NULL);
  gm_error err = {0};
  gm_rng r;
  gm_rng_init(&r, 20, 0);
  gmt_ok(gm_rng_normal(noise, &r, 0, 1, &err), &err);
  double ea = 0, eb = 0;
  /* both start from the same x_N and draw their z from the same stream at the same steps */
  float *a = draw(m, "ddpm", 0, 0, noise, NULL, 21, &ea);
  float *b = draw(m, "ddim", 20, 1, noise, NULL, 21, &eb);
  ck_assert_double_eq(ea, 20);
  ck_assert_double_eq(eb, 20);
  gmt_assert_close(b, a, 3 * 3 * 64, 0, 0.05, "ddim(T steps, eta 1) vs ddpm");
  free(a);
  free(b);
  gm_tensor_destroy(noise);
  vt->destroy(m);
}
END_TEST

/* stop_after k runs k steps of either sampler, reports k of its steps and returns images
 * of the full shape; 0, and more than the steps, run to the end. */
START_TEST(samplers_stop_after_k_steps_with_k_reported) {
  gm_model *m = gmt_tiny_unet(vt, "timesteps=20", "schedule=linear", 16);
  static const struct {
    const char *sampler;
    int steps;
    int64_t stop, want_done, want_total;
  } cases[] = {{"ddpm", 0, 5, 5, 20},  {"ddpm", 0, 0, 20, 20}, {"ddpm", 0, 50, 20, 20},
               {"ddim", 10, 3, 3, 10}, {"ddim", 10, 0, 10, 10}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gm_error err = {0};
    gm_rng r;
    gm_rng_init(&r, 30 + i, 7);
    gmt_progress_log log = {0};
    gm_sample_options o = {.n = 2, .sampler = cases[i].sampler, .steps = cases[i].steps,
                           .stop_after = cases[i].stop, .progress = gmt_progress,
                           .progress_ctx = &log};
    gm_tensor *img;
    gmt_ok(vt->sample(m, &o, &r, &img, &err), &err);
    ck_assert_int_eq(img->ndim, 4);
    ck_assert_int_eq(img->shape[0], 2);
    ck_assert_int_eq(img->shape[1], 3);
    ck_assert_int_eq(img->shape[2], 8);
    ck_assert_int_eq(img->shape[3], 8);
    ck_assert_int_eq(log.done, cases[i].want_done);
    ck_assert_int_eq(log.calls, (int)cases[i].want_done);
    ck_assert_int_eq(log.total, cases[i].want_total);
    ck_assert_double_eq(o.evaluations_per_image, (double)cases[i].want_done);
    gm_tape_reset(gmt_device());
  }
  vt->destroy(m);
}
END_TEST

START_TEST(sampler_options_are_checked_and_stretch_spans_0_to_255) {
  gm_error err = {0};
  gm_model *m = gmt_tiny_unet(vt, "timesteps=20", "schedule=cosine", 13);
  gm_rng r;
  gm_rng_init(&r, 1, 1);
  gm_tensor *img;
  gm_sample_options o = {.n = 2, .sampler = "ddpm", .steps = 7};
  ck_assert_int_eq(vt->sample(m, &o, &r, &img, &err), GM_EINVAL);
  o = (gm_sample_options){.n = 2, .sampler = "ddim", .steps = 21};
  ck_assert_int_eq(vt->sample(m, &o, &r, &img, &err), GM_ERANGE);
  o = (gm_sample_options){.n = 2, .sampler = "euler"};
  ck_assert_int_eq(vt->sample(m, &o, &r, &img, &err), GM_ENOTFOUND);
  gm_tensor *wrong = gmt_tensor_from(4, GM_SHAPE(2, 3, 8, 9), NULL);
  o = (gm_sample_options){.n = 2, .noise = wrong};
  ck_assert_int_eq(vt->sample(m, &o, &r, &img, &err), GM_ESHAPE);
  o = (gm_sample_options){.n = 2, .steps = 5, .stretch = 1};
  gmt_ok(vt->sample(m, &o, &r, &img, &err), &err);
  ck_assert_double_eq(o.evaluations_per_image, 5);
  float *h = gmt_read(img);
  for (int b = 0; b < 2; b++) {
    float lo = 255, hi = 0;
    for (int i = 0; i < 192; i++) {
      lo = fminf(lo, h[b * 192 + i]);
      hi = fmaxf(hi, h[b * 192 + i]);
    }
    ck_assert_float_eq_tol(lo, 0, 1e-3);
    ck_assert_float_eq_tol(hi, 255, 1e-3);
  }
  free(h);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(wrong);
  vt->destroy(m);
}
END_TEST

/* ---- forward with v-prediction ---- */

/* With pred=v, forward's "eps" is sqrt(ab) v + sqrt(1 - ab) x at each image's own level,
 * found from t = k / T, for the top and bottom levels too (linear: N = T; study: N = T - 1). */
START_TEST(forward_turns_v_into_eps_at_each_images_level) {
  gm_error err = {0};
  const char *sched[2] = {"schedule=linear", "schedule=study"};
  ddpm_schedule_kind kinds[2] = {DDPM_SCHEDULE_LINEAR, DDPM_SCHEDULE_STUDY};
  gm_model *m = gmt_tiny_unet(vt, "timesteps=40", sched[_i], 17);
  ddpm_schedule s;
  gmt_ok(ddpm__schedule_init(&s, kinds[_i], 40, &err), &err);
  enum { B = 4, PER = 3 * 8 * 8 };
  int lv[B] = {1, 2, 17, s.levels};
  float t[B], x[B * PER];
  for (int b = 0; b < B; b++) t[b] = (float)(lv[b] * s.t_scale);
  gmt_rng hr;
  gmt_rng_seed(&hr, 18);
  for (int i = 0; i < B * PER; i++) x[i] = gmt_normal(&hr);
  gm_tensor *tx = gmt_tensor_from(4, GM_SHAPE(B, 3, 8, 8), x), *tt = gmt_tensor_from(1, GM_SHAPE(B), t);
  gm_named_tensor in[2] = {{"x", tx}, {"t", tt}}, out[2];
  int n_out = 0;
  gmt_ok(vt->forward(m, in, 2, out, 2, &n_out, &err), &err);
  ck_assert_int_eq(n_out, 2);
  ck_assert_str_eq(out[0].name, "eps");
  ck_assert_str_eq(out[1].name, "v");
  float *eps = gmt_read(out[0].tensor), *v = gmt_read(out[1].tensor), want[B * PER];
  for (int b = 0; b < B; b++)
    for (int i = 0; i < PER; i++)
      want[b * PER + i] = (float)(sqrt(s.ab[lv[b]]) * v[b * PER + i] +
                                  sqrt(1 - s.ab[lv[b]]) * x[b * PER + i]);
  gmt_assert_close(eps, want, B * PER, 1e-5, 1e-6, "eps from v");
  free(eps);
  free(v);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(tx);
  gm_tensor_destroy(tt);
  ddpm__schedule_close(&s);
  vt->destroy(m);
}
END_TEST

/* ---- the bound ---- */

typedef struct oracle {
  const ddpm_schedule *s;
  gm_tensor *x0;
  float offset;  /* eps_hat = eps + offset */
  int seen[512]; /* the levels asked for, in order */
  int n_seen;
} oracle;

/* eps = (x_t - sqrt(ab) x0) / sqrt(1 - ab), the exact noise, plus a constant offset */
static int oracle_eps(void *ctx, gm_tensor *xt, int k, gm_tensor **eps, gm_error *err) {
  oracle *o = ctx;
  if (o->n_seen < 512) o->seen[o->n_seen++] = k;
  double ab = o->s->ab[k];
  gm_tensor *a, *d;
  int rc = gm_scale(&a, o->x0, (float)-sqrt(ab), err);
  if (rc == 0) rc = gm_add(&d, xt, a, err);
  if (rc == 0) rc = gm_scale(&d, d, (float)(1 / sqrt(1 - ab)), err);
  if (rc == 0) rc = gm_add_scalar(eps, d, o->offset, err);
  return rc;
}

static double mass(double lo, double hi) { return 0.5 * (erf(hi / sqrt(2)) - erf(lo / sqrt(2))); }

/* KL term k >= 2 of the oracle in nats, summed over n values */
static double oracle_kl(const ddpm_schedule *s, const double *x0, int n, double d, int k) {
  double nats = 0;
  for (int i = 0; i < n; i++) {
    double xh = fmin(fmax(x0[i] - sqrt((1 - s->ab[k]) / s->ab[k]) * d, -1), 1);
    nats += pow(s->post_c0[k] * (x0[i] - xh), 2) / (2 * s->post_var[k]);
  }
  return nats;
}

/* The bound of the oracle, term by term from the closed forms: with eps_hat = eps + d,
 * x0_hat = clip(x0 - sqrt((1 - ab) / ab) d) is the same for every noise draw. */
static double oracle_bits(const ddpm_schedule *s, const double *x0, int n, double d) {
  double nats = 0;
  int N = s->levels;
  for (int k = 2; k <= N; k++) nats += oracle_kl(s, x0, n, d, k);
  for (int i = 0; i < n; i++) {
    double x = x0[i], ab = s->ab[N];
    nats += 0.5 * ((1 - ab) + ab * x * x - 1 - log(1 - ab));
    /* ab[0] = 1: the decoder's mean is x0_hat at level 1, its variance beta_tilde[2] */
    double mu = fmin(fmax(x - sqrt((1 - s->ab[1]) / s->ab[1]) * d, -1), 1);
    double sg = sqrt(s->post_var[2]);
    double lo = x <= -1 + 1e-9 ? -INFINITY : (x - 1 / 15.0 - mu) / sg;
    double hi = x >= 1 - 1e-9 ? INFINITY : (x + 1 / 15.0 - mu) / sg;
    nats += -log(mass(lo, hi));
  }
  return nats / (n * log(2.0));
}

/* With t_samples = K the sum over k is (N - 1) / K times K uniform draws of the KL term:
 * the standard deviation of the mean of `repeats` such estimates, in bits/dim. */
static double oracle_spread(const ddpm_schedule *s, const double *x0, int n, double d, int K,
                            int repeats) {
  int N = s->levels;
  double m = 0, m2 = 0;
  for (int k = 2; k <= N; k++) {
    double v = oracle_kl(s, x0, n, d, k) / (n * log(2.0));
    m += v / (N - 1);
    m2 += v * v / (N - 1);
  }
  return (N - 1) * sqrt((m2 - m * m) / ((double)K * repeats));
}

static void check_oracle(float offset, int t_samples, int repeats, double rtol) {
  gm_error err = {0};
  ddpm_schedule s;
  gmt_ok(ddpm__schedule_init(&s, DDPM_SCHEDULE_LINEAR, 50, &err), &err);
  enum { B = 2, PER = 3 * 4 * 4 };
  gmt_rng hr;
  gmt_rng_seed(&hr, 77);
  float x0[B * PER];
  double x0d[B * PER];
  for (int i = 0; i < B * PER; i++) {
    int q = (int)gmt_uniform(&hr, 0, 16);
    x0[i] = (float)(q / 7.5 - 1);
    x0d[i] = q / 7.5 - 1;
  }
  gm_tensor *tx0 = gmt_tensor_from(4, GM_SHAPE(B, 3, 4, 4), x0);
  oracle o = {.s = &s, .x0 = tx0, .offset = offset};
  double mean = 0;
  gm_rng r;
  gm_rng_init(&r, 3, 3);
  for (int rep = 0; rep < repeats; rep++) {
    double bits[B];
    o.n_seen = 0;
    gmt_ok(ddpm__bound(&s, tx0, t_samples, &r, oracle_eps, &o, bits, &err), &err);
    mean += (bits[0] + bits[1]) / 2 / repeats;
    if (t_samples) {
      /* L_0 first, then K levels from 2 .. N, weighted (N - 1) / K */
      ck_assert_int_eq(o.n_seen, 1 + t_samples);
      ck_assert_int_eq(o.seen[0], 1);
      double kl = 0;
      for (int i = 1; i <= t_samples; i++) {
        ck_assert(o.seen[i] >= 2 && o.seen[i] <= s.levels);
        kl += oracle_kl(&s, x0d, B * PER, offset, o.seen[i]);
      }
      double full = 0, exact_kl = 0;
      for (int k = 2; k <= s.levels; k++) exact_kl += oracle_kl(&s, x0d, B * PER, offset, k);
      full = (oracle_bits(&s, x0d, PER, offset) + oracle_bits(&s, x0d + PER, PER, offset)) / 2;
      double want_rep = full + ((s.levels - 1.0) / t_samples * kl - exact_kl) /
                                   (B * PER * log(2.0));
      ck_assert_msg(fabs((bits[0] + bits[1]) / 2 - want_rep) <= 1e-5 * want_rep,
                    "estimate %.9g bits/dim, %.9g from the levels drawn",
                    (bits[0] + bits[1]) / 2, want_rep);
    }
  }
  double want = (oracle_bits(&s, x0d, PER, offset) + oracle_bits(&s, x0d + PER, PER, offset)) / 2;
  double tol = rtol * want;
  if (t_samples) /* both images share the drawn levels: the spread of their mean */
    tol = 4 * oracle_spread(&s, x0d, B * PER, offset, t_samples, repeats);
  ck_assert_msg(fabs(mean - want) <= tol, "bound %.9g bits/dim, analytic %.9g (tolerance %.3g)",
                mean, want, tol);
  ck_assert_double_gt(want, 0);
  gm_tensor_destroy(tx0);
  ddpm__schedule_close(&s);
}

START_TEST(bound_of_the_exact_eps_predictor_is_the_analytic_value) { check_oracle(0, 0, 1, 1e-5); }
END_TEST

START_TEST(bound_of_an_offset_predictor_is_the_analytic_value) { check_oracle(0.3f, 0, 1, 1e-5); }
END_TEST

START_TEST(bound_estimated_from_sampled_levels_weights_them_and_is_unbiased) { check_oracle(0.3f, 40, 25, 0); }
END_TEST

START_TEST(bin_nll_handles_edges_and_far_tails) {
  /* interior bin centred on mu with sigma tiny: mass 1 */
  ck_assert_double_eq_tol(ddpm__bin_nll(0, 0, 1e-3, 1 / 15.0), 0, 1e-12);
  /* end bins reach to infinity: N(5, 1) puts almost all its mass on the top bin */
  ck_assert_double_eq_tol(ddpm__bin_nll(1, 5, 1, 1 / 15.0), -log(mass(1 - 1 / 15.0 - 5, INFINITY)), 1e-12);
  /* far out, where the mass underflows: finite and large; nearer: the exact mass */
  double far = ddpm__bin_nll(0, 40, 1, 1 / 15.0);
  ck_assert(isfinite(far) && far > 700);
  double upper = 0.5 * (erfc((10 - 1 / 15.0) / sqrt(2)) - erfc((10 + 1 / 15.0) / sqrt(2)));
  ck_assert_double_eq_tol(ddpm__bin_nll(0, 10, 1, 1 / 15.0), -log(upper), 1e-9);
}
END_TEST

START_TEST(bound_is_positive_and_finite_for_random_models) {
  gm_error err = {0};
  gm_tensor *img = gmt_tensor_from(4, GM_SHAPE(2, 3, 8, 8), NULL);
  gm_rng r;
  gm_rng_init(&r, 4, 4);
  gmt_ok(gm_rng_uniform(img, &r, 0, 256, &err), &err);
  gm_model *u = gmt_tiny_unet(vt, "timesteps=12", "schedule=cosine", 14);
  const char *sets[] = {"size=8", "timesteps=12"};
  gm_model *s = gmt_model_create(vt, "seed", sets, 2, 15);
  gm_model *ms[2] = {u, s};
  for (int i = 0; i < 2; i++) {
    gm_nll_options o = {.t_samples = 0};
    double exact = 0, est = 0;
    gmt_ok(vt->nll(ms[i], img, &o, &r, &exact, &err), &err);
    o.t_samples = 3;
    gmt_ok(vt->nll(ms[i], img, &o, &r, &est, &err), &err);
    ck_assert_msg(isfinite(exact) && exact > 0, "exact bound %g", exact);
    ck_assert_msg(isfinite(est) && est > 0, "estimated bound %g", est);
    vt->destroy(ms[i]);
  }
  gm_tensor_destroy(img);
}
END_TEST

/* ---- the text condition ---- */

static const char *const TEXTS[] = {"red apple", "yellow banana", "red cherry", "green kiwi"};

/* A tiny unet-text model on 8x8 images, with random weights where the initialisation has
 * zeros (the output conv, each block's second conv, the attention outputs: zero, they
 * would hide the time embedding, and with it the text, until trained), and its
 * vocabulary. */
static gm_model *tiny_text_unet(gm_vocab **v, uint64_t seed) {
  const char *sets[] = {"size=8", "ch=8", "mult=1,2", "blocks=1", "dropout=0", "timesteps=20",
                        "vocab=12", "text_dim=8"};
  gm_model *m = gmt_model_create(vt, "unet-text", sets, 8, seed);
  gm_error err = {0};
  gm_rng rng;
  gm_rng_init(&rng, seed + 1, 3);
  gm_params *p = vt->params(m);
  for (int i = 0; i < gm_params_count(p); i++) {
    const char *name;
    gm_tensor *t = gm_params_at(p, i, &name, NULL);
    if (strstr(name, "out.conv.") || strstr(name, ".conv2.") || strstr(name, ".proj."))
      gmt_ok(gm_init_uniform(t, 0.2f, &rng, &err), &err);
  }
  gmt_ok(gm_vocab_build(v, TEXTS, 4, 1, &err), &err);
  return m;
}

/* n rows of texts[i % 4] (or "" when empty) as a condition. */
static float *draw_text(gm_model *m, const gm_text_cond *c, float w, int *rc, gm_error *err) {
  gm_sample_options o = {.n = 3, .sampler = "ddim", .steps = 5, .cond = c, .guidance = w};
  gm_rng r;
  gm_rng_init(&r, 21, 7);
  gm_tensor *img = NULL;
  *rc = vt->sample(m, &o, &r, &img, err);
  float *h = *rc ? NULL : gmt_read(img);
  gm_tape_reset(gmt_device());
  return h;
}

START_TEST(the_text_unet_declares_its_condition_and_learns_through_it) {
  gm_vocab *v;
  gm_model *m = tiny_text_unet(&v, 31);
  gm_error err = {0};
  gm_resolved_options o;
  const char *sets[] = {"vocab=12"};
  gmt_ok(gm_model_options_resolve(vt, "unet-text", sets, 1, &o, &err), &err);
  gm_model_info info;
  gmt_ok(gm_model_describe(vt, &o, &info, &err), &err);
  ck_assert_int_eq(info.text_condition, 1);
  ck_assert_int_eq(info.vocab_size, 12);
  ck_assert_double_eq_tol(info.cond_drop, 0.15, 1e-12);
  ck_assert_double_eq(info.guidance, 1);
  gm_model_options_free(&o);
  gmt_ok(gm_model_options_resolve(vt, "unet", NULL, 0, &o, &err), &err);
  gmt_ok(gm_model_describe(vt, &o, &info, &err), &err);
  ck_assert_int_eq(info.text_condition, 0);
  gm_model_options_free(&o);
  /* one training step's gradient reaches the embedding and the cross-attention */
  gm_tensor *img = gmt_tensor_from(4, GM_SHAPE(3, 3, 8, 8), NULL);
  gm_rng r;
  gm_rng_init(&r, 5, 5);
  gmt_ok(gm_rng_uniform(img, &r, 0, 256, &err), &err);
  gm_text_cond c = gmt_text_cond(v, TEXTS, 4, 3, 0);
  gm_params *p = vt->params(m);
  if (vt->train_mode) vt->train_mode(m, 1);
  gm_tensor *loss;
  gmt_ok(vt->loss_text(m, img, &c, &r, &loss, &err), &err);
  gmt_ok(gm_params_zero_grad(p, &err), &err);
  gmt_ok(gm_backward(loss, &err), &err);
  const char *names[] = {"text.embed.weight", "text.mean.weight", "down.0.attn.0.xattn.proj.weight",
                         "up.0.attn.0.xattn.proj.weight"};
  for (int k = 0; k < 4; k++) gmt_assert_grad_nonzero(p, names[k]);
  /* refusals: no condition for loss_text; a condition for a model without text */
  ck_assert_int_eq(vt->loss_text(m, img, NULL, &r, &loss, &err), GM_EINVAL);
  gm_tape_reset(gmt_device());
  gm_model *plain = gmt_tiny_unet(vt, "timesteps=20", "schedule=cosine", 32);
  int rc;
  float *none = draw_text(plain, &c, 1, &rc, &err);
  ck_assert_int_eq(rc, GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "takes no text"), "%s", err.msg);
  ck_assert_ptr_null(none);
  gm_text_cond two = gmt_text_cond(v, TEXTS, 4, 2, 0);
  ck_assert_ptr_null(draw_text(m, &two, 1, &rc, &err));
  ck_assert_int_eq(rc, GM_ESHAPE);
  gm_text_cond_free(&two);
  gm_text_cond_free(&c);
  gm_tensor_destroy(img);
  gm_vocab_destroy(v);
  vt->destroy(plain);
  vt->destroy(m);
}
END_TEST

START_TEST(guidance_0_and_the_empty_text_are_the_unconditional_model_bit_for_bit) {
  gm_vocab *v;
  gm_model *m = tiny_text_unet(&v, 41);
  gm_error err = {0};
  int rc;
  gm_text_cond c = gmt_text_cond(v, TEXTS, 4, 3, 0), e = gmt_text_cond(v, TEXTS, 4, 3, 1);
  const size_t n = 3 * 3 * 64;
  float *u = draw_text(m, NULL, 0, &rc, &err);
  ck_assert_msg(rc == 0, "%s", err.msg);
  float *w0 = draw_text(m, &c, 0, &rc, &err);      /* W = 0: unconditional */
  float *empty = draw_text(m, &e, 1, &rc, &err);   /* the empty text, W = 1 */
  float *w1 = draw_text(m, &c, 1, &rc, &err);      /* plain conditional */
  float *w3 = draw_text(m, &c, 3, &rc, &err);      /* guided */
  gmt_assert_close(w0, u, n, 0, 0, "guidance 0 against no condition");
  gmt_assert_close(empty, u, n, 0, 0, "the empty text against no condition");
  double d1 = 0, d3 = 0;
  for (size_t i = 0; i < n; i++) d1 += fabs(w1[i] - u[i]), d3 += fabs(w3[i] - w1[i]);
  ck_assert_msg(d1 > 1, "the text changes nothing (%g)", d1);
  ck_assert_msg(d3 > 1, "guidance 3 draws what guidance 1 draws (%g)", d3);
  /* the bound with each image's text differs from the unconditional one */
  gm_tensor *img = gmt_tensor_from(4, GM_SHAPE(3, 3, 8, 8), NULL);
  gm_rng r;
  gm_rng_init(&r, 6, 6);
  gmt_ok(gm_rng_uniform(img, &r, 0, 256, &err), &err);
  gm_nll_options no = {.t_samples = 0}, co = {.t_samples = 0, .cond = &c};
  double a = 0, b = 0;
  gmt_ok(vt->nll(m, img, &no, &r, &a, &err), &err);
  gmt_ok(vt->nll(m, img, &co, &r, &b, &err), &err);
  ck_assert_msg(isfinite(a) && isfinite(b) && a != b, "bits/dim %g and %g with the texts", a, b);
  free(u), free(w0), free(empty), free(w1), free(w3);
  gm_text_cond_free(&c);
  gm_text_cond_free(&e);
  gm_tensor_destroy(img);
  gm_vocab_destroy(v);
  vt->destroy(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ddpm");
  TCase *tc = tcase_create("ddpm");
  tcase_add_checked_fixture(tc, load_plugin, unload_plugin);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, linear_schedule_matches_closed_form_and_rescales_with_T);
  tcase_add_test(tc, cosine_schedule_matches_closed_form);
  tcase_add_test(tc, study_schedule_is_the_notebooks);
  tcase_add_test(tc, posterior_formulas_on_worked_numbers);
  tcase_add_test(tc, posterior_is_bayes_rule_at_every_level);
  tcase_add_test(tc, forward_process_has_the_scheduled_mean_and_variance);
  tcase_add_test(tc, timesteps_are_uniform_over_the_training_levels);
  tcase_add_test(tc, ddim_over_every_level_with_eta_1_is_the_ancestral_step);
  tcase_add_test(tc, ddim_levels_are_evenly_spaced_and_end_at_the_top);
  tcase_add_test(tc, ddim_with_eta_0_is_deterministic_from_the_same_noise);
  tcase_add_test(tc, ddim_over_every_level_with_eta_1_samples_as_ddpm);
  tcase_add_test(tc, sampler_options_are_checked_and_stretch_spans_0_to_255);
  tcase_add_test(tc, samplers_stop_after_k_steps_with_k_reported);
  tcase_add_loop_test(tc, forward_turns_v_into_eps_at_each_images_level, 0, 2);
  tcase_add_test(tc, bound_of_the_exact_eps_predictor_is_the_analytic_value);
  tcase_add_test(tc, bound_of_an_offset_predictor_is_the_analytic_value);
  tcase_add_test(tc, bound_estimated_from_sampled_levels_weights_them_and_is_unbiased);
  tcase_add_test(tc, bin_nll_handles_edges_and_far_tails);
  tcase_add_test(tc, bound_is_positive_and_finite_for_random_models);
  tcase_add_test(tc, the_text_unet_declares_its_condition_and_learns_through_it);
  tcase_add_test(tc, guidance_0_and_the_empty_text_are_the_unconditional_model_bit_for_bit);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
