/* The DDPM model plugin: options and presets, create/destroy, the network's forward, the
 * training loss (L_simple), and the vtable. The networks live in unet_seed.c (the study's)
 * and unet.c (the time-conditioned default), the samplers in sample.c, the likelihood
 * bound in nll.c and bound.c, the noise schedules in schedule.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpm.h"

static const gm_model_option options[] = {
    {"arch", GM_OPTION_CHOICE, "unet", 1, 0, "unet|seed",
     "network: a time-conditioned U-Net, or the study's U-Net (which ignores t)"},
    {"size", GM_OPTION_INT, "32", 4, 256, NULL, "image side in pixels"},
    {"timesteps", GM_OPTION_INT, "500", 2, 10000, NULL, "T, the number of diffusion steps"},
    {"schedule", GM_OPTION_CHOICE, "cosine", 1, 0, "linear|cosine|study",
     "betas: linear (Ho et al., rescaled by 1000/T), cosine (Nichol & Dhariwal), or the "
     "study's (linear 1e-4..0.02 unscaled, levels 1..T-1)"},
    {"clamp_xt", GM_OPTION_BOOL, "0", 1, 0, NULL,
     "clamp x_t to [-1, 1] in training and after every sampling step, as the study did"},
    {"sampler", GM_OPTION_CHOICE, "ddim", 1, 0, "ddpm|ddim",
     "the default sampler: ancestral (T steps) or DDIM (50 steps unless --steps)"},
    {"pred", GM_OPTION_CHOICE, "v", 1, 0, "eps|v",
     "what the network predicts: the noise eps (Ho et al.), or v = sqrt(ab) eps - "
     "sqrt(1 - ab) x0 (Salimans & Ho), which stays well conditioned at high noise"},
    {"ch", GM_OPTION_INT, "16", 4, 512, NULL, "unet: base channels (even)"},
    {"mult", GM_OPTION_STRING, "1,2,2", 1, 0, NULL,
     "unet: channel multiplier per level, 1 to 6 comma-separated integers in 1..16 (one "
     "level per resolution)"},
    {"blocks", GM_OPTION_INT, "2", 1, 8, NULL, "unet: residual blocks per level"},
    {"attn", GM_OPTION_CHOICE, "8", 1, 0, "8|16|8,16|none",
     "unet: self-attention at these map sides (and in the middle unless none)"},
    {"dropout", GM_OPTION_FLOAT, "0.1", 0, 0.9, NULL, "unet: dropout in the residual blocks"},
    {"vocab", GM_OPTION_INT, "0", 0, 65536, NULL,
     "unet: a text condition whose embedding holds this many token ids (the training "
     "texts' words + 1 must fit); 0 = no text"},
    {"text_dim", GM_OPTION_INT, "64", 8, 512, NULL, "unet, text: the token vectors' width"},
    {"xattn", GM_OPTION_BOOL, "1", 1, 0, NULL,
     "unet, text: the 8x8 maps cross-attend to the token vectors (beside the condition "
     "added to the time embedding)"},
    {"cond_drop", GM_OPTION_FLOAT, "0.15", 0, 0.9, NULL,
     "unet, text: share of training images given the empty text (condition dropout)"},
    {"guidance", GM_OPTION_FLOAT, "1", 0, 20, NULL,
     "unet, text: the default classifier-free guidance W of sample --prompt (1 = plain "
     "conditional)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const gm_model_preset presets[] = {
    /* Sized for a CPU through PoCL (ch 16, batch 8, EMA 0.99: docs/performance.md,
     * "Measurements behind the code's constants", has why). */
    {"unet", "time-conditioned U-Net (GroupNorm, SiLU, attention at 8x8), cosine schedule, EMA",
     "arch=unet timesteps=500 schedule=cosine sampler=ddim pred=v ch=16 mult=1,2,2 blocks=2 attn=8 "
     "dropout=0.1 lr=1e-3 batch=8 optimizer=adam ema=0.99 hflip=1"},
    {"unet-text", "the unet preset conditioned on each emoji's text: the condition added to "
     "the time embedding, the 8x8 maps cross-attending to its words, condition dropout 0.15",
     "arch=unet timesteps=500 schedule=cosine sampler=ddim pred=v ch=16 mult=1,2,2 blocks=2 attn=8 "
     "dropout=0.1 vocab=1024 text_dim=64 xattn=1 cond_drop=0.15 guidance=1 lr=1e-3 batch=8 "
     "optimizer=adam ema=0.99 hflip=1"},
    {"seed", "the study's U-Net exactly: no time input, T=500 linear betas, clamped x_t",
     "arch=seed timesteps=500 schedule=study clamp_xt=1 sampler=ddpm pred=eps lr=1e-3 batch=8 "
     "optimizer=adam ema=0 hflip=1"},
    {NULL, NULL, NULL},
};

static const char *const samplers[] = {"ddim", "ddpm", NULL};
static const char *const forward_inputs[] = {"x", "t", NULL};
static const char *const forward_outputs[] = {"eps", "v", NULL}; /* v only with pred=v */

/* ---- options ---- */

/* "1,2,2": 1 to DDPM_MAX_LEVELS integers in 1..16, one comma between each two. */
static int parse_mult(const char *s, ddpm_config *c, gm_error *err) {
  c->n_levels = 0;
  const char *p = s;
  for (;;) {
    char *end = (char *)p;
    long v = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : 0;
    if (v < 1 || v > 16 || c->n_levels == DDPM_MAX_LEVELS || (*end && *end != ',') ||
        (*end == ',' && !end[1]))
      return gm_error_set(err, GM_EINVAL, "option mult=%s: want 1 to %d comma-separated "
                          "integers in 1..16", s, DDPM_MAX_LEVELS);
    c->mult[c->n_levels++] = (int)v;
    if (!*end) return 0;
    p = end + 1;
  }
}

static int choice(const gm_kv *kv, int n, const char *key, const char *const *names,
                  int *out, gm_error *err) {
  const char *v = gm_kv_get(kv, n, key);
  if (!v) return gm_error_set(err, GM_ENOTFOUND, "option '%s' is not set", key);
  for (int i = 0; names[i]; i++)
    if (strcmp(v, names[i]) == 0) {
      *out = i;
      return 0;
    }
  return gm_error_set(err, GM_EINVAL, "option %s=%s: not a valid choice", key, v);
}

static int parse_config(const gm_kv *kv, int n, ddpm_config *c, gm_error *err) {
  memset(c, 0, sizeof *c);
  /* zero, not left unset: gcc -O3 cannot see that a failed parse stops before the use */
  int64_t size = 0, T = 0, ch = 0, blocks = 0;
  double dropout = 0;
  int sched = 0, attn = 0;
  int rc = choice(kv, n, "arch", (const char *const[]){"unet", "seed", NULL}, &c->arch, err);
  if (rc == 0) rc = gm_kv_int(kv, n, "size", &size, err);
  if (rc == 0) rc = gm_kv_int(kv, n, "timesteps", &T, err);
  if (rc == 0)
    rc = choice(kv, n, "schedule", (const char *const[]){"linear", "cosine", "study", NULL},
                &sched, err);
  if (rc == 0) rc = gm_kv_bool(kv, n, "clamp_xt", &c->clamp_xt, err);
  if (rc == 0)
    rc = choice(kv, n, "sampler", (const char *const[]){"ddpm", "ddim", NULL}, &c->sampler, err);
  if (rc == 0) rc = choice(kv, n, "pred", (const char *const[]){"eps", "v", NULL}, &c->pred, err);
  if (rc == 0) rc = gm_kv_int(kv, n, "ch", &ch, err);
  if (rc == 0) rc = parse_mult(gm_kv_get(kv, n, "mult") ? gm_kv_get(kv, n, "mult") : "", c, err);
  if (rc == 0) rc = gm_kv_int(kv, n, "blocks", &blocks, err);
  if (rc == 0)
    rc = choice(kv, n, "attn", (const char *const[]){"8", "16", "8,16", "none", NULL}, &attn, err);
  if (rc == 0) rc = gm_kv_float(kv, n, "dropout", &dropout, err);
  int64_t vocab = 0, text_dim = 0;
  if (rc == 0) rc = gm_kv_int(kv, n, "vocab", &vocab, err);
  if (rc == 0) rc = gm_kv_int(kv, n, "text_dim", &text_dim, err);
  if (rc == 0) rc = gm_kv_bool(kv, n, "xattn", &c->xattn, err);
  if (rc == 0) rc = gm_kv_float(kv, n, "cond_drop", &c->cond_drop, err);
  if (rc == 0) rc = gm_kv_float(kv, n, "guidance", &c->guidance, err);
  if (rc) return rc;
  if (vocab < 0 || vocab > 65536 || vocab == 1 || text_dim < 8 || text_dim > 512 ||
      !(c->cond_drop >= 0 && c->cond_drop < 1) || !(c->guidance >= 0 && c->guidance <= 20))
    return gm_error_set(err, GM_ERANGE, "ddpm: a text option is outside its range (vocab "
                        "%lld: 0 or 2..65536, text_dim %lld: 8..512, cond_drop %g: 0..0.9, "
                        "guidance %g: 0..20)", (long long)vocab, (long long)text_dim,
                        c->cond_drop, c->guidance);
  c->vocab = (int)vocab;
  c->text_dim = (int)text_dim;
  if (c->vocab && c->arch != DDPM_ARCH_UNET)
    return gm_error_set(err, GM_EINVAL, "ddpm: option vocab=%d: a text condition needs "
                        "arch=unet", c->vocab);
  if (size < 4 || size > 256 || T < 2 || T > 10000 || ch < 4 || ch > 512 || blocks < 1 ||
      blocks > 8 || !(dropout >= 0 && dropout < 1))
    return gm_error_set(err, GM_ERANGE, "ddpm: an option is outside its range (size %lld, "
                        "timesteps %lld, ch %lld, blocks %lld, dropout %g)", (long long)size,
                        (long long)T, (long long)ch, (long long)blocks, dropout);
  c->size = (int)size;
  c->timesteps = (int)T;
  c->schedule = (ddpm_schedule_kind)sched;
  c->ch = (int)ch;
  c->blocks = (int)blocks;
  c->attn8 = attn == 0 || attn == 2;
  c->attn16 = attn == 1 || attn == 2;
  c->dropout = (float)dropout;
  if (c->arch == DDPM_ARCH_SEED && size % 4)
    return gm_error_set(err, GM_EINVAL, "ddpm: option size=%d: must be a multiple of 4 in "
                        "4..256 for arch=seed (two max-pools)", c->size);
  if (c->arch == DDPM_ARCH_UNET) {
    if (c->ch % 2)
      return gm_error_set(err, GM_EINVAL, "ddpm: option ch=%d: must be even in 4..512 for "
                          "arch=unet (the sinusoidal embedding has ch entries)", c->ch);
    if (size % (1 << (c->n_levels - 1)))
      return gm_error_set(err, GM_EINVAL, "ddpm: option size=%d: must be a multiple of %d in "
                          "4..256 for arch=unet with %d levels (mult=%s)", c->size,
                          1 << (c->n_levels - 1), c->n_levels, gm_kv_get(kv, n, "mult"));
  }
  return 0;
}

/* gm_model_vtable.check_options: what the option table cannot say, before a device. */
static int check_options(const gm_kv *kv, int n, gm_error *err) {
  ddpm_config c;
  return parse_config(kv, n, &c, err);
}

/* ---- create / destroy ---- */

static void destroy(gm_model *m) {
  if (!m) return;
  ddpm__seed_free(m);
  ddpm__unet_free(m);
  gm_params_destroy(m->params);
  gm_tensor_destroy(m->sqrt_ab);
  gm_tensor_destroy(m->sqrt_1mab);
  gm_tensor_destroy(m->neg_sqrt_1mab);
  gm_tensor_destroy(m->eps);
  gm_tensor_destroy(m->u);
  gm_text_cond_free(&m->none);
  ddpm__schedule_close(&m->sched);
  free(m);
}

/* sqrt(ab) and sqrt(1 - ab) per level on the device, for the training loss */
static int upload_tables(gm_model *m, gm_error *err) {
  int n = m->sched.levels + 1;
  float *h = malloc(3 * (size_t)n * sizeof *h);
  if (!h) return gm_error_set(err, GM_ENOMEM, "ddpm: out of memory");
  for (int k = 0; k < n; k++) {
    h[k] = (float)sqrt(m->sched.ab[k]);
    h[n + k] = (float)sqrt(1 - m->sched.ab[k]);
    h[2 * n + k] = -h[n + k];
  }
  size_t bytes = (size_t)n * sizeof *h;
  int rc = gm_tensor_create(&m->sqrt_ab, m->dev, GM_F32, 1, GM_SHAPE(n), err);
  if (rc == 0) rc = gm_tensor_create(&m->sqrt_1mab, m->dev, GM_F32, 1, GM_SHAPE(n), err);
  if (rc == 0) rc = gm_tensor_create(&m->neg_sqrt_1mab, m->dev, GM_F32, 1, GM_SHAPE(n), err);
  if (rc == 0) rc = gm_tensor_write(m->sqrt_ab, h, bytes, err);
  if (rc == 0) rc = gm_tensor_write(m->sqrt_1mab, h + n, bytes, err);
  if (rc == 0) rc = gm_tensor_write(m->neg_sqrt_1mab, h + 2 * n, bytes, err);
  free(h);
  return rc;
}

static int create(gm_model **out, gm_device *dev, const gm_kv *opts, int n_opts, gm_rng *rng,
                  gm_error *err) {
  *out = NULL;
  gm_model *m = calloc(1, sizeof *m);
  if (!m) return gm_error_set(err, GM_ENOMEM, "ddpm: out of memory");
  m->dev = dev;
  int rc = parse_config(opts, n_opts, &m->cfg, err);
  if (rc == 0) rc = ddpm__schedule_init(&m->sched, m->cfg.schedule, m->cfg.timesteps, err);
  if (rc == 0) rc = gm_params_create(&m->params, dev, err);
  if (rc == 0)
    rc = m->cfg.arch == DDPM_ARCH_SEED ? ddpm__seed_declare(m, err) : ddpm__unet_declare(m, err);
  if (rc == 0) rc = gm_params_finalize(m->params, err);
  if (rc == 0)
    rc = m->cfg.arch == DDPM_ARCH_SEED ? ddpm__seed_init(m, rng, err)
                                       : ddpm__unet_init(m, rng, err);
  if (rc == 0) rc = upload_tables(m, err);
  if (rc) {
    destroy(m);
    return rc;
  }
  *out = m;
  return 0;
}

static gm_params *params(gm_model *m) { return m->params; }

static void train_mode(gm_model *m, int training) { m->training = training != 0; }

/* ---- the network ---- */

/* The empty condition for b images, kept for the next call. */
static int empty_cond(gm_model *m, int64_t b, const gm_text_cond **out, gm_error *err) {
  if (!m->none.ids || m->none.ids->shape[0] != b) {
    gm_text_cond_free(&m->none);
    int rc = gm_text_cond_empty(m->dev, b, &m->none, err);
    if (rc) return rc;
  }
  *out = &m->none;
  return 0;
}

int ddpm__net(gm_model *m, gm_tensor *x, gm_tensor *t, const gm_text_cond *cond,
              gm_rng *dropout, gm_tensor **out, gm_error *err) {
  char sx[96], st[96];
  if (x->dtype != GM_F32 || t->dtype != GM_F32 || x->ndim != 4 || x->shape[1] != 3 ||
      t->ndim != 1 || t->shape[0] != x->shape[0])
    return gm_error_set(err, GM_ESHAPE, "ddpm: want x (B, 3, H, W) and t (B), float32; got "
                        "x %s and t %s", gm_shape_str(x, sx, sizeof sx),
                        gm_shape_str(t, st, sizeof st));
  if (m->cfg.arch == DDPM_ARCH_SEED) {
    if (x->shape[2] % 4 || x->shape[3] % 4)
      return gm_error_set(err, GM_ESHAPE, "ddpm seed: x %s: H and W must be divisible by 4",
                          gm_shape_str(x, sx, sizeof sx));
    if (cond) return gm_error_set(err, GM_EINVAL, "ddpm seed: the study's U-Net takes no text");
    return ddpm__seed_forward(m, x, t, out, err);
  }
  if (cond && !m->cfg.vocab)
    return gm_error_set(err, GM_EINVAL, "ddpm: this model takes no text (vocab=0)");
  if (cond && (!cond->ids || !cond->mask || !cond->empty || cond->ids->dtype != GM_I32 ||
               cond->ids->ndim != 2 || cond->ids->shape[0] != x->shape[0]))
    return gm_error_set(err, GM_ESHAPE, "ddpm: the text condition must have one row of int32 "
                        "token ids per image (%lld)", (long long)x->shape[0]);
  if (m->cfg.vocab && !cond) {
    int rc = empty_cond(m, x->shape[0], &cond, err);
    if (rc) return rc;
  }
  return ddpm__unet_forward(m, x, t, cond, dropout, out, err);
}

int ddpm__eps(gm_model *m, gm_tensor *x, gm_tensor *t, int level, const gm_text_cond *cond,
              gm_tensor **eps, gm_error *err) {
  gm_tensor *y, *a, *b;
  int rc = ddpm__net(m, x, t, cond, NULL, &y, err);
  if (rc || m->cfg.pred == DDPM_PRED_EPS) {
    *eps = y;
    return rc;
  }
  double ab = m->sched.ab[level];
  rc = gm_scale(&a, y, (float)sqrt(ab), err);
  if (rc == 0) rc = gm_scale(&b, x, (float)sqrt(1 - ab), err);
  if (rc == 0) rc = gm_add(eps, a, b, err);
  return rc;
}

int ddpm__eps_guided(gm_model *m, gm_tensor *x, gm_tensor *t, int level,
                     const gm_text_cond *cond, float w, gm_tensor **eps, gm_error *err) {
  if (!cond || w == 0.0f) return ddpm__eps(m, x, t, level, NULL, eps, err);
  if (w == 1.0f) return ddpm__eps(m, x, t, level, cond, eps, err);
  gm_tensor *c, *u, *d;
  int rc = ddpm__eps(m, x, t, level, cond, &c, err);
  if (rc == 0) rc = ddpm__eps(m, x, t, level, NULL, &u, err);
  if (rc == 0) rc = gm_scale(&d, u, -1.0f, err);
  if (rc == 0) rc = gm_add(&d, c, d, err);    /* c - u */
  if (rc == 0) rc = gm_scale(&d, d, w, err);  /* w (c - u) */
  if (rc == 0) rc = gm_add(eps, u, d, err);   /* u + w (c - u) */
  return rc;
}

static gm_tensor *named(const gm_named_tensor *in, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (in[i].name && strcmp(in[i].name, name) == 0) return in[i].tensor;
  return NULL;
}

static int forward(gm_model *m, const gm_named_tensor *in, int n_in, gm_named_tensor *out,
                   int max_out, int *n_out, gm_error *err) {
  *n_out = 0;
  gm_tensor *x = named(in, n_in, "x"), *t = named(in, n_in, "t"), *y;
  if (!x || !t)
    return gm_error_set(err, GM_EINVAL, "ddpm forward: needs inputs 'x' (B, 3, H, W) in "
                        "[-1, 1] and 't' (B) holding t / T");
  if (max_out < 1) return gm_error_set(err, GM_EINVAL, "ddpm forward: no room for output 'eps'");
  int rc = ddpm__net(m, x, t, NULL, NULL, &y, err);
  if (rc) return rc;
  if (m->cfg.pred == DDPM_PRED_EPS) {
    out[0] = (gm_named_tensor){"eps", y};
    *n_out = 1;
    return 0;
  }
  /* eps = sqrt(ab) v + sqrt(1 - ab) x per image, its level k found from t = k / T as
   * floor((k + 1/2) / (N + 1) * (N + 1)), safe from the rounding of k / T */
  int n1 = m->sched.levels + 1;
  gm_tensor *u, *idx, *tin, *eps;
  rc = gm_scale(&u, t, (float)(m->sched.T / (double)n1), err);
  if (rc == 0) rc = gm_add_scalar(&u, u, (float)(0.5 / n1), err);
  if (rc == 0) rc = gm_diffusion_timesteps(&idx, &tin, u, 0, n1, 1.0f, err);
  if (rc == 0) rc = gm_diffusion_q_sample(&eps, y, x, idx, m->sqrt_ab, m->sqrt_1mab, 0, err);
  if (rc) return rc;
  out[0] = (gm_named_tensor){"eps", eps};
  *n_out = 1;
  if (max_out >= 2) {
    out[1] = (gm_named_tensor){"v", y};
    *n_out = 2;
  }
  return 0;
}

/* ---- the training loss ---- */

/* Model-owned scratch of the given shape, reallocated when the shape changes. */
static int scratch(gm_tensor **t, gm_device *dev, int ndim, const int64_t *shape, gm_error *err) {
  if (*t && (*t)->ndim == ndim && !memcmp((*t)->shape, shape, (size_t)ndim * sizeof *shape))
    return 0;
  gm_tensor_destroy(*t);
  *t = NULL;
  return gm_tensor_create(t, dev, GM_F32, ndim, shape, err);
}

/* L_simple: t uniform over the levels (the study: 1 .. T - 1), x_t from the forward
 * process (clamped when clamp_xt), loss = mean((eps_hat - eps)^2), or with pred=v
 * mean((v_hat - v)^2), v = sqrt(ab) eps - sqrt(1 - ab) x0 (eps weighted by 1 + SNR). */
static int loss_cond(gm_model *m, gm_tensor *images, const gm_text_cond *cond, gm_rng *rng,
                     gm_tensor **out, gm_error *err) {
  char s[96];
  if (images->ndim != 4 || images->shape[1] != 3)
    return gm_error_set(err, GM_ESHAPE, "ddpm loss: images must be (B, 3, S, S), got %s",
                        gm_shape_str(images, s, sizeof s));
  int64_t b = images->shape[0];
  gm_tensor *x0, *idx, *tin, *xt, *y, *target;
  int rc = scratch(&m->eps, m->dev, 4, images->shape, err);
  if (rc == 0) rc = scratch(&m->u, m->dev, 1, GM_SHAPE(b), err);
  if (rc == 0) rc = gm_scale(&x0, images, 1.0f / 127.5f, err);
  if (rc == 0) rc = gm_add_scalar(&x0, x0, -1.0f, err);
  if (rc == 0) rc = gm_rng_uniform(m->u, rng, 0.0f, 1.0f, err);
  if (rc == 0) rc = gm_rng_normal(m->eps, rng, 0.0f, 1.0f, err);
  if (rc == 0)
    rc = gm_diffusion_timesteps(&idx, &tin, m->u, 1, m->sched.levels, (float)m->sched.t_scale,
                                err);
  if (rc == 0)
    rc = gm_diffusion_q_sample(&xt, x0, m->eps, idx, m->sqrt_ab, m->sqrt_1mab, m->cfg.clamp_xt,
                               err);
  target = m->eps;
  if (rc == 0 && m->cfg.pred == DDPM_PRED_V)
    rc = gm_diffusion_q_sample(&target, x0, m->eps, idx, m->neg_sqrt_1mab, m->sqrt_ab, 0, err);
  if (rc == 0) rc = ddpm__net(m, xt, tin, cond, rng, &y, err);
  if (rc == 0) rc = gm_mse(out, y, target, err);
  return rc;
}

/* A text model trains unconditionally here on the empty text; loss_text on each image's. */
static int loss(gm_model *m, gm_tensor *images, gm_rng *rng, gm_tensor **out, gm_error *err) {
  return loss_cond(m, images, NULL, rng, out, err);
}

static int loss_text(gm_model *m, gm_tensor *images, const gm_text_cond *cond, gm_rng *rng,
                     gm_tensor **out, gm_error *err) {
  if (!cond) return gm_error_set(err, GM_EINVAL, "ddpm loss_text: no condition");
  return loss_cond(m, images, cond, rng, out, err);
}

static int sample(gm_model *m, gm_sample_options *o, gm_rng *rng, gm_tensor **images,
                  gm_error *err) {
  return ddpm__sample(m, o, rng, images, err);
}

static int nll(gm_model *m, gm_tensor *images, const gm_nll_options *o, gm_rng *rng,
               double *bits_per_dim, gm_error *err) {
  return ddpm__nll(m, images, o, rng, bits_per_dim, err);
}

/* ---- metadata ---- */

/* What `compare` and `bench` learn about a DDPM for these options: a bound, not an exact
 * likelihood; DDIM the fast sampler (its default steps), ancestral DDPM the reference over
 * every level; each step is one network pass per image. */
static int describe(const gm_kv *kv, int n, gm_model_info *info, gm_error *err) {
  ddpm_config c;
  int rc = parse_config(kv, n, &c, err);
  if (rc) return rc;
  int levels = c.schedule == DDPM_SCHEDULE_STUDY ? c.timesteps - 1 : c.timesteps;
  int ddim = levels < DDPM_DDIM_DEFAULT_STEPS ? levels : DDPM_DDIM_DEFAULT_STEPS;
  if (!GM_MODEL_INFO_HAS(info, image_size)) return 0; /* every field below is ABI 2's */
  info->title = "DDPM";
  info->likelihood = GM_LIKELIHOOD_BOUND;
  info->loss_unit = c.pred == DDPM_PRED_V ? "mean squared error of the predicted v"
                                          : "mean squared error of the predicted noise";
  info->default_sampler = c.sampler == DDPM_SAMPLER_DDIM ? "ddim" : "ddpm";
  info->samplers[0] = (gm_sampler_info){.name = "ddim", .role = GM_SAMPLER_FAST, .unit = "step",
                                        .units = ddim, .passes = ddim, .steps = ddim};
  info->samplers[1] = (gm_sampler_info){.name = "ddpm", .role = GM_SAMPLER_REFERENCE,
                                        .unit = "level", .units = levels, .passes = levels,
                                        .steps = levels};
  info->n_samplers = 2;
  info->size_option = "size";
  info->image_size = c.size;
  if (c.vocab && GM_MODEL_INFO_HAS(info, guidance)) {
    info->text_condition = 1;
    info->vocab_size = c.vocab;
    info->cond_drop = c.cond_drop;
    info->guidance = c.guidance;
  }
  return 0;
}

static const gm_model_vtable vtable = {
    .size = sizeof(gm_model_vtable),
    .options = options,
    .presets = presets,
    .create = create,
    .destroy = destroy,
    .params = params,
    .forward = forward,
    .loss = loss,
    .sample = sample,
    .samplers = samplers,
    .nll = nll,
    .train_mode = train_mode,
    .forward_inputs = forward_inputs,
    .forward_outputs = forward_outputs,
    .describe = describe,
    .check_options = check_options,
    .loss_text = loss_text,
};

static const gm_plugin plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_MODEL,
    .name = "ddpm",
    .version = "0.1.0",
    .summary = "denoising diffusion: the study's U-Net and a time-conditioned U-Net, "
               "DDPM/DDIM sampling, a likelihood bound",
    .vtable = &vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &plugin; }
