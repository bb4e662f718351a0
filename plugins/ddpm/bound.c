/* The variational bound in bits per dimension (see bound.h): the noise and the network
 * run on the device, each level's terms are summed on the host in double precision. */
#include "bound.h"

#include <math.h>
#include <stdlib.h>

#define BIN_HALF (1.0 / 15.0)
#define SQRT_HALF 0.70710678118654752440
#define LOG_SQRT_2PI 0.91893853320467274178

double ddpm__bin_nll(double x, double mu, double sigma, double h) {
  double lo = x > -1 + 1e-9 ? (x - h - mu) / sigma : -INFINITY;
  double hi = x < 1 - 1e-9 ? (x + h - mu) / sigma : INFINITY;
  double mass;
  /* Phi(hi) - Phi(lo), taken from the tail both ends lie in so that nothing cancels */
  if (lo >= 0) mass = 0.5 * (erfc(lo * SQRT_HALF) - erfc(hi * SQRT_HALF));
  else if (hi <= 0) mass = 0.5 * (erfc(-hi * SQRT_HALF) - erfc(-lo * SQRT_HALF));
  else mass = 1 - 0.5 * erfc(hi * SQRT_HALF) - 0.5 * erfc(-lo * SQRT_HALF);
  if (mass > 1e-300) return -log(mass);
  /* so far out that the mass underflows: the density at the centre times the width */
  double z = (x - mu) / sigma;
  return 0.5 * z * z + log(sigma) + LOG_SQRT_2PI - log(2 * h);
}

typedef struct level_ctx {
  const ddpm_schedule *s;
  gm_tensor *x0, *noise;
  const double *x0h;   /* x0 on the host */
  float *xt, *eps;     /* host copies, one image batch */
  int64_t n;           /* elements */
} level_ctx;

/* x_k = sqrt(ab) x0 + sqrt(1 - ab) noise on the device, eps_hat from f; both to the host */
static int run_level(level_ctx *c, int k, gm_rng *rng, ddpm_eps_fn f, void *ctx, gm_error *err) {
  gm_device *dev = c->x0->dev;
  gm_tensor *a, *b, *xt, *eps;
  size_t bytes = (size_t)c->n * sizeof(float);
  int rc = gm_rng_normal(c->noise, rng, 0.0f, 1.0f, err);
  if (rc == 0) rc = gm_scale(&a, c->x0, (float)sqrt(c->s->ab[k]), err);
  if (rc == 0) rc = gm_scale(&b, c->noise, (float)sqrt(1 - c->s->ab[k]), err);
  if (rc == 0) rc = gm_add(&xt, a, b, err);
  if (rc == 0) rc = f(ctx, xt, k, &eps, err);
  if (rc == 0 && eps->numel != c->n)
    rc = gm_error_set(err, GM_ESHAPE, "ddpm bound: the predictor returned %lld values for %lld",
                      (long long)eps->numel, (long long)c->n);
  if (rc == 0) rc = gm_tensor_read(xt, c->xt, bytes, err);
  if (rc == 0) rc = gm_tensor_read(eps, c->eps, bytes, err);
  gm_tape_reset(dev);
  return rc;
}

static double clip1(double v) { return v < -1 ? -1 : v > 1 ? 1 : v; }

/* nats per image at level k (the KL term for k >= 2, the decoder's L_0 for k = 1), added
 * into nats[] with weight w */
static void add_level(const level_ctx *c, int k, double w, int64_t per, double *nats) {
  const ddpm_schedule *s = c->s;
  double sab = sqrt(s->ab[k]), s1m = sqrt(1 - s->ab[k]);
  double c0 = s->post_c0[k], ct = s->post_ct[k], var = ddpm__reverse_var(s, k);
  double sigma = sqrt(var);
  for (int64_t i = 0; i < c->n; i++) {
    double xt = c->xt[i], x0 = c->x0h[i];
    double x0_hat = clip1((xt - s1m * c->eps[i]) / sab);
    double v;
    if (k >= 2) {
      double d = c0 * (x0 - x0_hat); /* posterior mean minus the model's */
      v = d * d / (2 * var);
    } else {
      v = ddpm__bin_nll(x0, c0 * x0_hat + ct * xt, sigma, BIN_HALF);
    }
    nats[i / per] += w * v;
  }
}

int ddpm__bound(const ddpm_schedule *s, gm_tensor *x0, int t_samples, gm_rng *rng,
                ddpm_eps_fn f, void *ctx, double *bits, gm_error *err) {
  if (x0->ndim != 4 || x0->shape[0] < 1 || x0->numel < 1)
    return gm_error_set(err, GM_ESHAPE, "ddpm bound: x0 must be a non-empty (B, C, H, W)");
  if (t_samples < 0)
    return gm_error_set(err, GM_ERANGE, "ddpm bound: t_samples must be >= 0, got %d", t_samples);
  int64_t batch = x0->shape[0], n = x0->numel, per = n / batch;
  int N = s->levels;
  level_ctx c = {.s = s, .x0 = x0, .n = n};
  double *x0h = malloc((size_t)n * sizeof *x0h), *nats = calloc((size_t)batch, sizeof *nats);
  float *host = malloc(3 * (size_t)n * sizeof *host);
  int *draws = NULL, rc = 0;
  gm_tensor *u = NULL;
  if (!x0h || !nats || !host) {
    rc = gm_error_set(err, GM_ENOMEM, "ddpm bound: out of memory");
    goto done;
  }
  c.x0h = x0h;
  c.xt = host + n;
  c.eps = host + 2 * n;
  rc = gm_tensor_read(x0, host, (size_t)n * sizeof *host, err);
  if (rc == 0) rc = gm_tensor_create(&c.noise, x0->dev, GM_F32, 4, x0->shape, err);
  if (rc) goto done;
  /* L_T: KL(N(sqrt(ab) x, 1 - ab) || N(0, 1)) per dimension */
  double abN = s->ab[N];
  for (int64_t i = 0; i < n; i++) {
    x0h[i] = host[i];
    nats[i / per] += 0.5 * ((1 - abN) + abN * x0h[i] * x0h[i] - 1 - log(1 - abN));
  }
  /* L_0 */
  rc = run_level(&c, 1, rng, f, ctx, err);
  if (rc) goto done;
  add_level(&c, 1, 1.0, per, nats);
  /* the KL terms, k = 2 .. N */
  if (N >= 2 && t_samples == 0) {
    for (int k = 2; k <= N && rc == 0; k++) {
      rc = run_level(&c, k, rng, f, ctx, err);
      if (rc == 0) add_level(&c, k, 1.0, per, nats);
    }
  } else if (N >= 2) {
    draws = malloc((size_t)t_samples * sizeof *draws);
    float *uh = malloc((size_t)t_samples * sizeof *uh);
    if (!draws || !uh) rc = gm_error_set(err, GM_ENOMEM, "ddpm bound: out of memory");
    if (rc == 0) rc = gm_tensor_create(&u, x0->dev, GM_F32, 1, GM_SHAPE(t_samples), err);
    if (rc == 0) rc = gm_rng_uniform(u, rng, 0.0f, 1.0f, err);
    if (rc == 0) rc = gm_tensor_read(u, uh, (size_t)t_samples * sizeof *uh, err);
    for (int i = 0; i < t_samples && rc == 0; i++) {
      int k = 2 + (int)floor(uh[i] * (double)(N - 1));
      draws[i] = k > N ? N : k;
    }
    free(uh);
    double w = (double)(N - 1) / t_samples;
    for (int i = 0; i < t_samples && rc == 0; i++) {
      rc = run_level(&c, draws[i], rng, f, ctx, err);
      if (rc == 0) add_level(&c, draws[i], w, per, nats);
    }
  }
  if (rc == 0)
    for (int64_t b = 0; b < batch; b++) bits[b] = nats[b] / ((double)per * log(2.0));
done:
  gm_tensor_destroy(c.noise);
  gm_tensor_destroy(u);
  free(x0h);
  free(nats);
  free(host);
  free(draws);
  return rc;
}
