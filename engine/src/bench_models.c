/* Whole-model timing behind `genmoji bench models` (see bench.h): the trainer's own step
 * (trainer_internal.h) on made-up images (and made-up texts for a text model, so its step
 * is the one it trains with), and samplers timed on runs stopped part way
 * (gm_sample_options.stop_after) and extrapolated along a line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer_internal.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int gm_bench_text_cond(gm_device *dev, int vocab_size, int n, uint64_t seed, gm_text_cond *out,
                       gm_error *err) {
  *out = (gm_text_cond){NULL, NULL, NULL};
  if (vocab_size < 2 || n < 1)
    return gm_error_set(err, GM_EINVAL, "bench: made-up texts need a vocabulary of 2 or more "
                        "ids and at least one row");
  const int L = GM_TEXT_MAX_TOKENS, words = 4;
  int32_t *ids = calloc((size_t)n * L, sizeof *ids);
  float *mask = calloc((size_t)n * L, sizeof *mask), *empty = calloc((size_t)n, sizeof *empty);
  int rc = ids && mask && empty ? 0 : gm_error_set(err, GM_ENOMEM, "bench: out of memory");
  uint64_t s = seed;
  for (int i = 0; i < n && rc == 0; i++)
    for (int k = 0; k < words; k++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      ids[i * L + k] = 1 + (int32_t)((s >> 33) % (uint64_t)(vocab_size - 1));
      mask[i * L + k] = 1.0f;
    }
  if (rc == 0) rc = gm_text_cond_create(dev, n, out, err);
  if (rc == 0) rc = gm_tensor_write(out->ids, ids, (size_t)n * L * sizeof *ids, err);
  if (rc == 0) rc = gm_tensor_write(out->mask, mask, (size_t)n * L * sizeof *mask, err);
  if (rc == 0) rc = gm_tensor_write(out->empty, empty, (size_t)n * sizeof *empty, err);
  free(ids);
  free(mask);
  free(empty);
  if (rc) gm_text_cond_free(out);
  return rc;
}

/* ---- training ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int64_t n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* warmup untimed steps, then timed ones until both budgets are met. Each step reads its
 * loss back, so a step's wall time is the device's work for it. */
static int train_steps(gm__train_parts *p, gm_device *dev, gm_tensor *x,
                       const gm_text_cond *cond, const gm_bench_train_opts *o,
                       gm_bench_train_result *out, gm_error *err) {
  gm_rng loss_rng;
  gm_rng_init(&loss_rng, o->seed, 1);
  int warmup = o->warmup > 0 ? o->warmup : 2, min_steps = o->min_steps > 0 ? o->min_steps : 3;
  int64_t step = 0, timed = 0, cap = 64;
  double *each = malloc((size_t)cap * sizeof *each);
  if (!each) return gm_error_set(err, GM_ENOMEM, "bench train: out of memory");
  float loss = NAN;
  int rc = 0;
  for (; rc == 0 && step < warmup; step++) {
    gm_tape_reset(dev);
    rc = gm__train_parts_step(p, x, cond, &loss_rng, step + 1, &loss, err);
  }
  if (rc == 0) rc = gm_device_finish(dev, err);
  double t0 = now_s(), last = t0;
  while (rc == 0 && (last - t0 < o->seconds || timed < min_steps)) {
    if (timed == cap) {
      double *grown = realloc(each, (size_t)(cap *= 2) * sizeof *each);
      if (!grown) {
        rc = gm_error_set(err, GM_ENOMEM, "bench train: out of memory");
        break;
      }
      each = grown;
    }
    gm_tape_reset(dev);
    rc = gm__train_parts_step(p, x, cond, &loss_rng, ++step, &loss, err);
    double now = now_s();
    each[timed++] = now - last;
    last = now;
  }
  if (rc == 0) rc = gm_device_finish(dev, err);
  double elapsed = now_s() - t0;
  gm_tape_reset(dev);
  out->steps = timed;
  out->seconds = elapsed;
  out->mean_images_per_s = elapsed > 0 ? (double)timed * o->batch / elapsed : 0;
  out->step_seconds = rc == 0 ? median(each, timed) : 0;
  out->images_per_s = out->step_seconds > 0 ? o->batch / out->step_seconds : 0;
  out->loss = loss;
  free(each);
  return rc;
}

int gm_bench_train(gm_device *dev, const gm_model_vtable *vt, const char *name,
                   const gm_resolved_options *opts, const gm_bench_train_opts *o,
                   gm_bench_train_result *out, gm_error *err) {
  memset(out, 0, sizeof *out);
  if (o->batch < 1 || o->size < 1 || !(o->seconds >= 0))
    return gm_error_set(err, GM_EINVAL, "bench train %s: batch (%d) and size (%d) must be "
                        "positive, seconds (%g) not negative", name, o->batch, o->size,
                        o->seconds);
  gm_train_settings s;
  int rc = gm_train_settings_resolve(opts, o->batch, 0, &s, err);
  if (rc) return gm_error_prefix(err, "bench train %s", name);
  gm_tape_reset(dev);
  gm_device_trim(dev);
  gm_device_mem_reset_peak(dev);
  gm__train_parts p;
  gm_tensor *x = NULL;
  rc = gm__train_parts_open(&p, vt, name, dev, opts, &s, o->seed, err);
  if (rc == 0)
    rc = gm_tensor_create(&x, dev, GM_F32, 4, GM_SHAPE(o->batch, 3, o->size, o->size), err);
  if (rc == 0) {
    gm_rng image_rng;
    gm_rng_init(&image_rng, o->seed, 2);
    rc = gm_rng_uniform(x, &image_rng, 0.0f, 255.0f, err);
  }
  gm_model_info info;
  gm_text_cond cond = {NULL, NULL, NULL};
  if (rc == 0) rc = gm_model_describe(vt, opts, &info, err);
  if (rc == 0 && info.text_condition)
    rc = gm_bench_text_cond(dev, info.vocab_size, o->batch, o->seed, &cond, err);
  if (rc == 0) {
    out->params = gm_params_numel(p.params, GM_PARAM_TRAINABLE);
    int was_recording = gm_grad_enable(dev, 1);
    if (vt->train_mode) vt->train_mode(p.model, 1);
    rc = train_steps(&p, dev, x, info.text_condition ? &cond : NULL, o, out, err);
    gm_grad_enable(dev, was_recording);
    gm_mem_stats ms;
    gm_device_mem_stats(dev, &ms);
    out->peak_bytes = ms.peak_bytes;
  }
  gm_text_cond_free(&cond);
  gm_tensor_destroy(x);
  gm__train_parts_close(&p);
  return rc;
}

/* ---- sampling ---- */

typedef struct units_seen {
  int64_t done, total;
} units_seen;

static void note_units(void *ctx, int64_t done, int64_t total) {
  units_seen *u = ctx;
  u->done = done;
  u->total = total;
}

/* One run of the sampler stopped after `units`: its wall time, the units it reported done
 * and in all, and its evaluations per image. */
typedef struct sample_run {
  double seconds, evaluations;
  int64_t done, total;
} sample_run;

static int timed_sample(gm_device *dev, const gm_model_vtable *vt, gm_model *m,
                        const gm_sample_options *so, int64_t units, sample_run *r,
                        gm_error *err) {
  gm_sample_options o = *so;
  units_seen u = {0, 0};
  o.stop_after = units;
  o.progress = note_units;
  o.progress_ctx = &u;
  gm_rng rng;
  gm_rng_init(&rng, 1, 0);
  gm_tensor *img = NULL;
  int rc = gm_device_finish(dev, err);
  double t0 = now_s();
  if (rc == 0) rc = vt->sample(m, &o, &rng, &img, err);
  if (rc == 0) rc = gm_device_finish(dev, err);
  r->seconds = now_s() - t0;
  gm_tape_reset(dev);
  r->done = u.done;
  r->total = u.total;
  r->evaluations = o.evaluations_per_image;
  if (rc == 0 && (u.total < 1 || u.done != (units < u.total ? units : u.total)))
    rc = gm_error_set(err, GM_EPLUGIN, "bench sample: sampler '%s' reported %lld of %lld "
                      "units when asked to stop after %lld", so->sampler ? so->sampler : "default",
                      (long long)u.done, (long long)u.total, (long long)units);
  return rc;
}

/* The faster of two runs stopped after `units`: other load on the machine only ever adds
 * time, so the minimum is the run's own cost. */
static int best_of_two(gm_device *dev, const gm_model_vtable *vt, gm_model *m,
                       const gm_sample_options *so, int64_t units, sample_run *r,
                       gm_error *err) {
  sample_run again;
  int rc = timed_sample(dev, vt, m, so, units, r, err);
  if (rc == 0) rc = timed_sample(dev, vt, m, so, units, &again, err);
  if (rc == 0 && again.seconds < r->seconds) *r = again;
  return rc;
}

/* The next b: aimed at a run of `seconds` along the line so far, 2..8 times the last. */
static int64_t next_units(const sample_run *a, const sample_run *b, double seconds) {
  int64_t lo = 2 * b->done, hi = 8 * b->done, want = lo;
  double per = (b->seconds - a->seconds) / (double)(b->done - a->done);
  if (per > 0) {
    double aim = (double)a->done + (seconds - a->seconds) / per;
    if (aim > (double)hi) want = hi;
    else if (aim > (double)lo) want = (int64_t)aim;
  }
  return want < b->total ? want : b->total;
}

static void fit_line(const sample_run *a, const sample_run *b, int n, gm_bench_sample_result *out) {
  int64_t total = b->total, du = b->done - a->done;
  out->total_units = total;
  out->units_a = a->done;
  out->units_b = b->done;
  out->seconds_a = a->seconds;
  out->seconds_b = b->seconds;
  out->seconds_per_unit = du > 0 ? (b->seconds - a->seconds) / (double)du : 0;
  out->fixed_seconds = a->seconds - (double)a->done * out->seconds_per_unit;
  double evals_per_unit = du > 0 ? (b->evaluations - a->evaluations) / (double)du : 0;
  if (b->done == total) {
    out->seconds = b->seconds;
    out->evaluations_per_image = b->evaluations;
  } else {
    out->seconds = out->fixed_seconds + (double)total * out->seconds_per_unit;
    if (out->seconds < b->seconds) out->seconds = b->seconds;  /* timing noise: at least what ran */
    out->evaluations_per_image = a->evaluations + (double)(total - a->done) * evals_per_unit;
  }
  out->seconds_per_image = out->seconds / n;
}

int gm_bench_sample(gm_device *dev, const gm_model_vtable *vt, gm_model *m,
                    const gm_sample_options *so, double seconds, gm_bench_sample_result *out,
                    gm_error *err) {
  memset(out, 0, sizeof *out);
  if (so->n < 1 || !(seconds >= 0))
    return gm_error_set(err, GM_EINVAL, "bench sample: n (%d) must be positive and seconds "
                        "(%g) not negative", so->n, seconds);
  if (vt->train_mode) vt->train_mode(m, 0);
  sample_run a, b;
  int rc = timed_sample(dev, vt, m, so, 1, &a, err);  /* warm-up */
  if (rc == 0) rc = best_of_two(dev, vt, m, so, 1, &a, err);
  b = a;
  int64_t units = a.total > 1 ? 2 : 1;
  while (rc == 0 && b.done < b.total) {
    rc = best_of_two(dev, vt, m, so, units, &b, err);
    if (rc == 0 && b.done < b.total && b.seconds < 0.5 * seconds)
      units = next_units(&a, &b, seconds);
    else break;
  }
  if (rc == 0) fit_line(&a, &b, so->n, out);
  return rc;
}
