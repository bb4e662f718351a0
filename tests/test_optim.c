/* Adam/AdamW against a double C reference of PyTorch's rule (after clip_grad_norm_), over
 * ten steps with fixed gradients written into the flat grad; launches per step; resume;
 * the grad norm; the EMA and its swap; refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

/* ---- the reference: torch.optim.Adam / AdamW after torch.nn.utils.clip_grad_norm_ ---- */

typedef struct ref_adam {
  gm_optim_config c;
  size_t n;
  double *p, *m, *v;
  int64_t t;
} ref_adam;

static void ref_init(ref_adam *r, const gm_optim_config *c, const float *p0, size_t n) {
  r->c = *c;
  r->n = n;
  r->t = 0;
  r->p = malloc(n * sizeof(double));
  r->m = calloc(n, sizeof(double));
  r->v = calloc(n, sizeof(double));
  for (size_t i = 0; i < n; i++) r->p[i] = p0[i];
}

static void ref_free(ref_adam *r) {
  free(r->p);
  free(r->m);
  free(r->v);
}

/* One step with grads g; returns the global norm before clipping. */
static double ref_step(ref_adam *r, const float *g) {
  const gm_optim_config *c = &r->c;
  double lr = c->lr, b1 = c->beta1, b2 = c->beta2, eps = c->eps, wd = c->weight_decay;
  double total = 0;
  for (size_t i = 0; i < r->n; i++) total += (double)g[i] * g[i];
  total = sqrt(total);
  double coef = 1;
  if (c->clip_norm > 0) {
    coef = c->clip_norm / (total + 1e-6);
    if (coef > 1) coef = 1;
  }
  r->t++;
  double bc1 = 1 - pow(b1, (double)r->t), bc2 = 1 - pow(b2, (double)r->t);
  for (size_t i = 0; i < r->n; i++) {
    double gi = g[i] * coef;
    if (c->kind == GM_OPTIM_ADAM && wd != 0) gi += wd * r->p[i];
    if (c->kind == GM_OPTIM_ADAMW) r->p[i] *= 1 - lr * wd;
    r->m[i] = b1 * r->m[i] + (1 - b1) * gi;
    r->v[i] = b2 * r->v[i] + (1 - b2) * gi * gi;
    double m_hat = r->m[i] / bc1, v_hat = r->v[i] / bc2;
    r->p[i] -= lr * m_hat / (sqrt(v_hat) + eps);
  }
  return total;
}

/* ---- the problem: three parameters of odd sizes and a buffer in one store ---- */

static gm_params *problem(float **p0, size_t *n) {
  gm_error err = {0};
  gm_params *p;
  gmt_ok(gm_params_create(&p, gmt_device(), &err), &err);
  gmt_ok(gm_params_declare(p, "conv.weight", GM_F32, 4, GM_SHAPE(16, 3, 7, 7), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.running_var", GM_F32, 1, GM_SHAPE(16), GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_declare(p, "conv.bias", GM_F32, 1, GM_SHAPE(16), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "fc.weight", GM_F32, 2, GM_SHAPE(5, 13), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_finalize(p, &err), &err);
  *n = (size_t)gm_params_numel(p, GM_PARAM_TRAINABLE);
  gmt_rng r;
  gmt_rng_seed(&r, 99);
  *p0 = malloc(*n * 4);
  gmt_fill_uniform(&r, *p0, *n, -1, 1);
  gmt_ok(gm_tensor_write(gm_params_flat(p), *p0, *n * 4, &err), &err);
  return p;
}

/* The fixed gradient of step s: host random numbers, a different set every step, with
 * some elements much larger than others so that m and v differ across elements. */
static void step_grad(float *g, size_t n, int s) {
  gmt_rng r;
  gmt_rng_seed(&r, 1000 + (uint64_t)s);
  for (size_t i = 0; i < n; i++) g[i] = gmt_normal(&r) * (i % 7 == 0 ? 3.0f : 0.5f);
}

static void assert_matches(const gm_tensor *t, const double *want, size_t n, const char *what) {
  float *got = gmt_read(t), *wf = malloc(n * 4);
  for (size_t i = 0; i < n; i++) wf[i] = (float)want[i];
  gmt_assert_close(got, wf, n, 1e-6, 1e-6, what);
  free(got);
  free(wf);
}

/* Ten steps of the engine and of the reference with the same grads; with clip_norm set,
 * `clipping` says whether the norm exceeds it at every step (1) or at none (0). */
static void run_ten_steps(const gm_optim_config *c, int clipping, const char *what) {
  gm_error err = {0};
  size_t n;
  float *p0;
  gm_params *p = problem(&p0, &n);
  gm_optim *o;
  gmt_ok(gm_optim_create(&o, p, c, &err), &err);
  ref_adam ref;
  ref_init(&ref, c, p0, n);
  float *g = malloc(n * 4);
  for (int s = 0; s < 10; s++) {
    step_grad(g, n, s);
    gmt_ok(gm_tensor_write(gm_params_flat_grad(p), g, n * 4, &err), &err);
    gmt_ok(gm_optim_step(o, &err), &err);
    double total = ref_step(&ref, g);
    if (c->clip_norm > 0) {
      ck_assert_msg((total > c->clip_norm) == clipping, "%s: clipping should be %s (norm %g)",
                    what, clipping ? "active" : "inactive", total);
      float norm;
      gmt_ok(gm_optim_last_grad_norm(o, &norm, &err), &err);
      ck_assert_msg(fabs(norm - total) <= 1e-5 * total, "%s: norm %g, want %g", what,
                    (double)norm, total);
    }
    /* One fused launch over every parameter, plus two for the norm when clipping. */
    ck_assert_int_eq(gm_optim_last_launches(o), c->clip_norm > 0 ? 3 : 1);
  }
  ck_assert_int_eq(gm_optim_steps(o), 10);
  assert_matches(gm_params_flat(p), ref.p, n, what);
  assert_matches(gm_optim_moment(o, 0), ref.m, n, what);
  assert_matches(gm_optim_moment(o, 1), ref.v, n, what);
  /* The parameters did move: the comparison above is not between two copies of p0. */
  float *now = gmt_read(gm_params_flat(p));
  double moved = 0;
  for (size_t i = 0; i < n; i++) moved = fmax(moved, fabs(now[i] - p0[i]));
  ck_assert_msg(moved > 10 * c->lr * 0.5, "%s: largest change %g", what, moved);
  /* The grads are left as written (the clipped values are not stored back). */
  float *gl = gmt_read(gm_params_flat_grad(p));
  ck_assert_mem_eq(gl, g, n * 4);
  free(gl);
  free(now);
  free(g);
  free(p0);
  ref_free(&ref);
  gm_optim_destroy(o);
  gm_params_destroy(p);
}

START_TEST(adam_matches_pytorch_rule_for_ten_steps) {
  gm_optim_config c;
  gm_optim_config_default(&c, GM_OPTIM_ADAM);
  ck_assert(c.lr == 1e-3f && c.beta1 == 0.9f && c.beta2 == 0.999f && c.eps == 1e-8f);
  ck_assert(c.weight_decay == 0 && c.clip_norm == 0);
  run_ten_steps(&c, 0, "adam defaults");
  c.lr = 1e-2f;
  c.weight_decay = 0.1f;
  run_ten_steps(&c, 0, "adam with weight decay");
  c.clip_norm = 1.0f;
  run_ten_steps(&c, 1, "adam with weight decay and clipping");
  c.clip_norm = 1000.0f;  /* configured but never reached: the grads are not scaled up */
  run_ten_steps(&c, 0, "adam with an inactive clip");
  c.beta1 = 0.5f;
  c.beta2 = 0.9f;
  c.eps = 1e-3f;
  c.clip_norm = 0;
  run_ten_steps(&c, 0, "adam with other betas and eps");
}
END_TEST

START_TEST(adamw_matches_pytorch_rule_for_ten_steps) {
  gm_optim_config c;
  gm_optim_config_default(&c, GM_OPTIM_ADAMW);
  ck_assert(c.weight_decay == 1e-2f);
  run_ten_steps(&c, 0, "adamw defaults");
  c.lr = 1e-2f;
  c.weight_decay = 0.5f;
  run_ten_steps(&c, 0, "adamw with strong weight decay");
  c.clip_norm = 2.0f;
  run_ten_steps(&c, 1, "adamw with clipping");
}
END_TEST

START_TEST(lr_changes_and_resume_continue_bit_for_bit) {
  gm_error err = {0};
  gm_optim_config c;
  gm_optim_config_default(&c, GM_OPTIM_ADAMW);
  c.clip_norm = 1.5f;
  size_t n;
  float *p0, *p0b;
  gm_params *pa = problem(&p0, &n), *pb = problem(&p0b, &n);
  free(p0b);
  gm_optim *a, *b;
  gmt_ok(gm_optim_create(&a, pa, &c, &err), &err);
  gmt_ok(gm_optim_create(&b, pb, &c, &err), &err);
  ref_adam ref;
  ref_init(&ref, &c, p0, n);
  free(p0);
  float *g = malloc(n * 4);
  for (int s = 0; s < 10; s++) {
    if (s == 5) {
      /* "Checkpoint" b after five steps and restore it into a fresh optimiser. */
      float *hm = gmt_read(gm_optim_moment(b, 0)), *hv = gmt_read(gm_optim_moment(b, 1));
      int64_t steps = gm_optim_steps(b);
      ck_assert_int_eq(steps, 5);
      gm_optim_destroy(b);
      gmt_ok(gm_optim_create(&b, pb, &c, &err), &err);
      gmt_ok(gm_tensor_write(gm_optim_moment(b, 0), hm, n * 4, &err), &err);
      gmt_ok(gm_tensor_write(gm_optim_moment(b, 1), hv, n * 4, &err), &err);
      gm_optim_set_steps(b, steps);
      free(hm);
      free(hv);
    }
    float lr = s < 5 ? 1e-3f : 3e-4f;
    step_grad(g, n, s);
    gm_optim_set_lr(a, lr);
    gm_optim_set_lr(b, lr);
    ck_assert(gm_optim_lr(b) == lr);
    ref.c.lr = lr;
    ref_step(&ref, g);
    gmt_ok(gm_tensor_write(gm_params_flat_grad(pa), g, n * 4, &err), &err);
    gmt_ok(gm_optim_step(a, &err), &err);
    gmt_ok(gm_tensor_write(gm_params_flat_grad(pb), g, n * 4, &err), &err);
    gmt_ok(gm_optim_step(b, &err), &err);
  }
  ck_assert_int_eq(gm_optim_steps(b), 10);
  assert_matches(gm_params_flat(pa), ref.p, n, "adamw with an lr change");
  ref_free(&ref);
  float *ha = gmt_read(gm_params_flat(pa)), *hb = gmt_read(gm_params_flat(pb));
  ck_assert_mem_eq(ha, hb, n * 4);
  free(ha);
  free(hb);
  free(g);
  gm_optim_destroy(a);
  gm_optim_destroy(b);
  gm_params_destroy(pa);
  gm_params_destroy(pb);
}
END_TEST

START_TEST(tracked_grad_norm_is_independent_of_the_work_group_size) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_optim_config c;
  gm_optim_config_default(&c, GM_OPTIM_ADAM);
  c.track_grad_norm = 1;
  size_t n;
  float *p0;
  gm_params *p = problem(&p0, &n);
  float *g = malloc(n * 4);
  step_grad(g, n, 0);
  gmt_ok(gm_tensor_write(gm_params_flat_grad(p), g, n * 4, &err), &err);
  gm_optim *o;
  gmt_ok(gm_optim_create(&o, p, &c, &err), &err);
  float norm = -1;
  ck_assert_int_eq(gm_optim_last_grad_norm(o, &norm, &err), GM_EINVAL);
  size_t keep = dev->wg1d;
  float norms[3];
  const size_t sizes[] = {1, 8, 64};
  for (int s = 0; s < 3; s++) {
    dev->wg1d = sizes[s];
    gmt_ok(gm_optim_step(o, &err), &err);
    ck_assert_int_eq(gm_optim_last_launches(o), 3);
    gmt_ok(gm_optim_last_grad_norm(o, &norms[s], &err), &err);
  }
  dev->wg1d = keep;
  double want = 0;
  for (size_t i = 0; i < n; i++) want += (double)g[i] * g[i];
  want = sqrt(want);
  ck_assert_msg(fabs(norms[0] - want) <= 1e-6 * want, "norm %g, want %g", (double)norms[0], want);
  ck_assert_mem_eq(&norms[0], &norms[1], 4);
  ck_assert_mem_eq(&norms[0], &norms[2], 4);
  /* Without clipping or tracking: no norm, one launch. */
  gm_optim *plain;
  c.track_grad_norm = 0;
  gmt_ok(gm_optim_create(&plain, p, &c, &err), &err);
  gmt_ok(gm_optim_step(plain, &err), &err);
  ck_assert_int_eq(gm_optim_last_launches(plain), 1);
  ck_assert_int_eq(gm_optim_last_grad_norm(plain, &norm, &err), GM_EINVAL);
  ck_assert_ptr_null(gm_optim_moment(plain, 2));
  free(g);
  free(p0);
  gm_optim_destroy(o);
  gm_optim_destroy(plain);
  gm_params_destroy(p);
}
END_TEST

START_TEST(ema_follows_its_formula_and_swaps) {
  gm_error err = {0};
  size_t n;
  float *p0;
  gm_params *p = problem(&p0, &n);
  const float decay = 0.9f;
  gm_ema *e;
  gmt_ok(gm_ema_create(&e, p, decay, &err), &err);
  float *start = gmt_read(gm_ema_flat(e));
  ck_assert_mem_eq(start, p0, n * 4);  /* a copy of the params */
  free(start);
  double *want = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) want[i] = p0[i];
  float *live = malloc(n * 4);
  gmt_rng r;
  gmt_rng_seed(&r, 7);
  for (int s = 0; s < 10; s++) {
    gmt_fill_uniform(&r, live, n, -2, 2);
    gmt_ok(gm_tensor_write(gm_params_flat(p), live, n * 4, &err), &err);
    gmt_ok(gm_ema_update(e, &err), &err);
    for (size_t i = 0; i < n; i++) want[i] = decay * want[i] + (1.0 - decay) * live[i];
  }
  assert_matches(gm_ema_flat(e), want, n, "ema");
  float *before = gmt_read(gm_ema_flat(e));
  gmt_ok(gm_ema_swap(e, &err), &err);
  float *now_live = gmt_read(gm_params_flat(p)), *now_ema = gmt_read(gm_ema_flat(e));
  ck_assert_mem_eq(now_live, before, n * 4);
  ck_assert_mem_eq(now_ema, live, n * 4);
  /* A named view sees the swapped-in values: the swap is in the flat storage itself. */
  float *bias = gmt_read(gm_params_find(p, "conv.bias"));
  ck_assert_mem_eq(bias, before + gm_params_offset(p, 2), 16 * 4);
  gmt_ok(gm_ema_swap(e, &err), &err);
  free(now_live);
  now_live = gmt_read(gm_params_flat(p));
  ck_assert_mem_eq(now_live, live, n * 4);
  free(bias);
  free(before);
  free(now_live);
  free(now_ema);
  free(live);
  free(want);
  free(p0);
  gm_ema_destroy(e);
  gm_params_destroy(p);
}
END_TEST

START_TEST(bad_configurations_are_refused) {
  gm_error err = {0};
  gm_params *raw;
  gmt_ok(gm_params_create(&raw, gmt_device(), &err), &err);
  gmt_ok(gm_params_declare(raw, "w", GM_F32, 1, GM_SHAPE(3), GM_PARAM_TRAINABLE, &err), &err);
  gm_optim_config c;
  gm_optim_config_default(&c, GM_OPTIM_ADAM);
  gm_optim *o = NULL;
  gm_ema *e = NULL;
  ck_assert_int_eq(gm_optim_create(&o, raw, &c, &err), GM_EINVAL);  /* not finalized */
  ck_assert_int_eq(gm_ema_create(&e, raw, 0.9f, &err), GM_EINVAL);
  gmt_ok(gm_params_finalize(raw, &err), &err);
  gm_optim_config bad = c;
  bad.beta1 = 1.0f;
  ck_assert_int_eq(gm_optim_create(&o, raw, &bad, &err), GM_ERANGE);
  bad = c;
  bad.lr = -1e-3f;
  ck_assert_int_eq(gm_optim_create(&o, raw, &bad, &err), GM_ERANGE);
  bad = c;
  bad.clip_norm = -1;
  ck_assert_int_eq(gm_optim_create(&o, raw, &bad, &err), GM_ERANGE);
  bad = c;
  bad.kind = (gm_optim_kind)7;
  ck_assert_int_eq(gm_optim_create(&o, raw, &bad, &err), GM_EINVAL);
  ck_assert_ptr_null(o);
  ck_assert_int_eq(gm_ema_create(&e, raw, 1.5f, &err), GM_ERANGE);
  ck_assert_ptr_null(e);
  gm_params_destroy(raw);
}
END_TEST

int main(void) {
  Suite *s = suite_create("optim");
  TCase *tc = tcase_create("optim");
  tcase_add_test(tc, adam_matches_pytorch_rule_for_ten_steps);
  tcase_add_test(tc, adamw_matches_pytorch_rule_for_ten_steps);
  tcase_add_test(tc, lr_changes_and_resume_continue_bit_for_bit);
  tcase_add_test(tc, tracked_grad_norm_is_independent_of_the_work_group_size);
  tcase_add_test(tc, ema_follows_its_formula_and_swaps);
  tcase_add_test(tc, bad_configurations_are_refused);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
