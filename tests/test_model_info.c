/* Model metadata (gm_model_describe, the optional `describe` slot): what the in-tree
 * plugins declare is what their samplers really do (a full run of each sampler counts the
 * declared progress units, and the reference sampler counts the declared network passes
 * per image), the host completes what a plugin leaves out, refuses what contradicts the
 * vtable, and a plugin writes nothing past the size of an older host's struct. */
#include <stddef.h>
#include <string.h>

#include "testlib.h"

typedef struct model_case {
  const char *plugin, *preset;
  const char *sets[8];
  int n_sets;
  const char *title, *likelihood, *fast, *reference, *loss_word;
  int image_size;
} model_case;

static const model_case CASES[] = {
    {"pixelcnn", "gated", {"width=6", "layers=2", "kernel=3", "image_size=4"}, 4, "PixelCNN",
     "exact", "cached", "naive", "cross-entropy", 4},
    {"pixelcnn", "seed", {"width=4", "image_size=4"}, 2, "PixelCNN", "exact", "cached", "naive",
     "cross-entropy", 4},
    {"ddpm", "unet", {"size=8", "ch=8", "mult=1,2", "blocks=1", "attn=none", "timesteps=12"}, 6,
     "DDPM", "bound", "ddim", "ddpm", "predicted v", 8},
    {"ddpm", "seed", {"size=8", "timesteps=9"}, 2, "DDPM", "bound", "ddim", "ddpm",
     "predicted noise", 8},
};

static void resolve(const model_case *c, const gm_model_vtable *vt, gm_resolved_options *ro) {
  gm_error err = {0};
  gmt_ok(gm_model_options_resolve(vt, c->preset, c->sets, c->n_sets, ro, &err), &err);
}

/* The case's plugin, its resolved options and what gm_model_describe makes of them. */
static const gm_model_vtable *describe_case(const model_case *c, gm_resolved_options *ro,
                                            gm_model_info *info) {
  const gm_model_vtable *vt = gmt_model_plugin(c->plugin);
  resolve(c, vt, ro);
  gm_error err = {0};
  gmt_ok(gm_model_describe(vt, ro, info, &err), &err);
  return vt;
}

START_TEST(in_tree_plugins_describe_themselves) {
  const model_case *c = &CASES[_i];
  gm_resolved_options ro;
  gm_model_info info;
  const gm_model_vtable *vt = describe_case(c, &ro, &info);
  ck_assert_ptr_nonnull(vt->describe);
  ck_assert_uint_eq(info.size, sizeof info);
  ck_assert_str_eq(info.title, c->title);
  ck_assert_str_eq(gm_likelihood_name(info.likelihood), c->likelihood);
  ck_assert_msg(info.loss_unit && strstr(info.loss_unit, c->loss_word), "%s %s: loss unit %s",
                c->plugin, c->preset, info.loss_unit ? info.loss_unit : "(none)");
  ck_assert_str_eq(gm_model_info_sampler(&info, NULL, GM_SAMPLER_FAST)->name, c->fast);
  ck_assert_str_eq(gm_model_info_sampler(&info, NULL, GM_SAMPLER_REFERENCE)->name, c->reference);
  ck_assert_int_eq(info.image_size, c->image_size);
  ck_assert_ptr_nonnull(info.size_option);
  ck_assert_ptr_nonnull(gm_kv_get(ro.model, ro.n_model, info.size_option));
  ck_assert_int_eq(info.text_condition, 0);
  gm_model_options_free(&ro);
}
END_TEST

/* Every declared sampler runs to its end on one image: the progress total is the declared
 * units and, where passes are declared, the sampler counts exactly those per image. */
START_TEST(declared_units_and_passes_match_full_runs) {
  const model_case *c = &CASES[_i];
  gm_resolved_options ro;
  gm_model_info info;
  const gm_model_vtable *vt = describe_case(c, &ro, &info);
  gm_error err = {0};
  gm_model *m = gmt_model_create(vt, c->preset, c->sets, c->n_sets, 7);
  if (vt->train_mode) vt->train_mode(m, 0);
  int was = gm_grad_enable(gmt_device(), 0);
  for (int k = 0; k < info.n_samplers; k++) {
    const gm_sampler_info *s = &info.samplers[k];
    gmt_progress_log log = {0};
    gm_sample_options so = {.n = 1, .sampler = s->name, .progress = gmt_progress,
                            .progress_ctx = &log};
    gm_rng rng;
    gm_rng_init(&rng, 3, 0);
    gm_tensor *img = NULL;
    gmt_ok(vt->sample(m, &so, &rng, &img, &err), &err);
    ck_assert_msg(s->units > 0 && log.total == s->units && log.done == s->units,
                  "%s %s sampler %s: declared %lld units, ran %lld of %lld", c->plugin, c->preset,
                  s->name, (long long)s->units, (long long)log.done, (long long)log.total);
    if (s->passes > 0)
      ck_assert_msg(so.evaluations_per_image == s->passes,
                    "%s %s sampler %s: declared %g passes per image, counted %g", c->plugin,
                    c->preset, s->name, s->passes, so.evaluations_per_image);
    else
      ck_assert_msg(s->role != GM_SAMPLER_REFERENCE, "%s %s: reference sampler %s declares no passes",
                    c->plugin, c->preset, s->name);
    gm_tape_reset(gmt_device());
  }
  gm_grad_enable(gmt_device(), was);
  vt->destroy(m);
  gm_model_options_free(&ro);
}
END_TEST

/* An older host's struct ends before the ABI 2 fields: the plugin must leave them alone. */
START_TEST(plugins_write_nothing_past_an_older_hosts_struct) {
  const model_case *c = &CASES[_i];
  const gm_model_vtable *vt = gmt_model_plugin(c->plugin);
  gm_resolved_options ro;
  resolve(c, vt, &ro);
  gm_model_info info;
  memset(&info, 0xab, sizeof info);
  info.size = (uint32_t)offsetof(gm_model_info, title);
  gm_error err = {0};
  gmt_ok(vt->describe(ro.model, ro.n_model, &info, &err), &err);
  const unsigned char *p = (const unsigned char *)&info;
  for (size_t i = offsetof(gm_model_info, title); i < sizeof info; i++)
    ck_assert_msg(p[i] == 0xab, "%s wrote byte %zu of a %u-byte struct", c->plugin, i,
                  (unsigned)info.size);
  gm_model_options_free(&ro);
}
END_TEST

/* ---- a plugin without describe, and ones that contradict their vtable ---- */

static int no_sample(gm_model *m, gm_sample_options *o, gm_rng *rng, gm_tensor **images,
                     gm_error *err) {
  (void)m, (void)o, (void)rng, (void)images;
  return gm_error_set(err, GM_EUNSUPPORTED, "not sampled here");
}

static const char *const TWO_SAMPLERS[] = {"quick", "slow", NULL};
static const gm_model_option NO_OPTIONS[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};
static const gm_model_preset ONE_PRESET[] = {{"p", "a preset", ""}, {NULL, NULL, NULL}};

static gm_model_vtable bare_vtable(void) {
  gm_model_vtable vt;
  memset(&vt, 0, sizeof vt);
  vt.size = sizeof vt;
  vt.options = NO_OPTIONS;
  vt.presets = ONE_PRESET;
  vt.sample = no_sample;
  vt.samplers = TWO_SAMPLERS;
  return vt;
}

START_TEST(the_host_completes_a_plugin_without_describe) {
  gm_model_vtable vt = bare_vtable();
  gm_model_info info;
  gm_error err = {0};
  gmt_ok(gm_model_describe(&vt, NULL, &info, &err), &err);
  ck_assert_ptr_null(info.title);
  ck_assert_ptr_null(info.loss_unit);
  ck_assert_int_eq(info.likelihood, GM_LIKELIHOOD_NONE); /* no nll slot */
  ck_assert_str_eq(gm_likelihood_name(info.likelihood), "none");
  ck_assert_int_eq(info.n_samplers, 2);
  ck_assert_str_eq(info.default_sampler, "quick");
  ck_assert_str_eq(gm_model_info_sampler(&info, NULL, GM_SAMPLER_FAST)->name, "quick");
  ck_assert_ptr_null(gm_model_info_sampler(&info, NULL, GM_SAMPLER_REFERENCE));
  ck_assert_int_eq(gm_model_info_sampler(&info, "slow", GM_SAMPLER_OTHER)->role, GM_SAMPLER_OTHER);
  ck_assert_int_eq((int)info.samplers[1].units, 0);
  ck_assert(info.samplers[1].passes == 0);
  ck_assert_ptr_null(gm_model_info_sampler(&info, "absent", GM_SAMPLER_OTHER));
}
END_TEST

static int bad_kind;

static int bad_describe(const gm_kv *opts, int n, gm_model_info *info, gm_error *err) {
  (void)opts, (void)n, (void)err;
  info->n_samplers = 1;
  info->samplers[0] = (gm_sampler_info){.name = "quick", .role = GM_SAMPLER_FAST, .units = 3};
  switch (bad_kind) {
  case 0: info->samplers[0].name = "elsewhere"; break;
  case 1:
    info->samplers[1] = info->samplers[0];
    info->samplers[1].name = "slow";
    info->n_samplers = 2;
    break;
  case 2: info->samplers[0].units = -1; break;
  case 3: info->default_sampler = "elsewhere"; break;
  case 4: info->likelihood = GM_LIKELIHOOD_NONE; break; /* with an nll slot */
  default: info->n_samplers = GM_MODEL_INFO_SAMPLERS + 1;
  }
  return 0;
}

static int some_nll(gm_model *m, gm_tensor *images, const gm_nll_options *o, gm_rng *rng,
                    double *bpd, gm_error *err) {
  (void)m, (void)images, (void)o, (void)rng, (void)err;
  *bpd = 4;
  return 0;
}

START_TEST(metadata_that_contradicts_the_vtable_is_refused) {
  static const char *const WHAT[] = {"not in the samplers list", "fast and",
                                     "negative or non-finite", "default sampler 'elsewhere'",
                                     "likelihood 'none'", "samplers (0.."};
  gm_model_vtable vt = bare_vtable();
  vt.describe = bad_describe;
  vt.nll = some_nll;
  bad_kind = _i;
  gm_model_info info;
  gm_error err = {0};
  int rc = gm_model_describe(&vt, NULL, &info, &err);
  ck_assert_int_eq(rc, GM_EPLUGIN);
  ck_assert_msg(strstr(err.msg, WHAT[_i]), "case %d: %s", _i, err.msg);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("model_info");
  TCase *tc = tcase_create("model_info");
  tcase_set_timeout(tc, 600);
  int n = (int)(sizeof CASES / sizeof CASES[0]);
  tcase_add_loop_test(tc, in_tree_plugins_describe_themselves, 0, n);
  tcase_add_loop_test(tc, declared_units_and_passes_match_full_runs, 0, n);
  tcase_add_loop_test(tc, plugins_write_nothing_past_an_older_hosts_struct, 0, n);
  tcase_add_test(tc, the_host_completes_a_plugin_without_describe);
  tcase_add_loop_test(tc, metadata_that_contradicts_the_vtable_is_refused, 0, 6);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
