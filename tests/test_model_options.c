/* Option resolution for model plugins (gm_model_options_resolve): defaults, a preset's
 * values, --set values on top, training keys, and the refusals; also the trainer's
 * training settings resolved from them. No device needed. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "testlib.h"

static const gm_model_option options[] = {
    {"width", GM_OPTION_INT, "64", 1, 512, NULL, "channels"},
    {"layers", GM_OPTION_INT, "4", 1, 16, NULL, "layers"},
    {"mask", GM_OPTION_CHOICE, "gated", 1, 0, "plain|gated", "mask kind"},
    {"dropout", GM_OPTION_FLOAT, "0", 0, 1, NULL, "dropout"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const gm_model_preset presets[] = {
    {"gated", "the default", ""},
    {"seed", "the study's", "width=32 layers=8 mask=plain lr=2e-3 batch=8 hflip=1"},
    {NULL, NULL, NULL}};

static const gm_model_vtable vt = {.size = sizeof vt, .options = options, .presets = presets};

static const char *get(const gm_kv *kv, int n, const char *key) {
  const char *v = gm_kv_get(kv, n, key);
  return v ? v : "(unset)";
}

START_TEST(preset_values_survive_several_set_values) {
  gm_resolved_options o;
  gm_error err = {0};
  const char *sets[] = {"width=16", "dropout=0.25", "batch=3"};
  gmt_ok(gm_model_options_resolve(&vt, "seed", sets, 3, &o, &err), &err);
  ck_assert_int_eq(o.n_model, 4);
  ck_assert_str_eq(get(o.model, o.n_model, "width"), "16");
  ck_assert_str_eq(get(o.model, o.n_model, "layers"), "8");
  ck_assert_str_eq(get(o.model, o.n_model, "mask"), "plain");
  ck_assert_str_eq(get(o.model, o.n_model, "dropout"), "0.25");
  ck_assert_str_eq(get(o.train, o.n_train, "lr"), "2e-3");
  ck_assert_str_eq(get(o.train, o.n_train, "batch"), "3");
  ck_assert_str_eq(get(o.train, o.n_train, "hflip"), "1");
  ck_assert_str_eq(o.preset->name, "seed");
  gm_model_options_free(&o);
}
END_TEST

START_TEST(defaults_fill_every_option_and_the_first_preset_is_the_default) {
  gm_resolved_options o;
  gm_error err = {0};
  gmt_ok(gm_model_options_resolve(&vt, NULL, NULL, 0, &o, &err), &err);
  ck_assert_str_eq(o.preset->name, "gated");
  ck_assert_str_eq(get(o.model, o.n_model, "width"), "64");
  ck_assert_int_eq(o.n_train, 0);
  gm_model_options_free(&o);
}
END_TEST

START_TEST(unknown_keys_presets_and_bad_values_are_refused_by_name) {
  gm_resolved_options o;
  gm_error err = {0};
  const char *bad_key[] = {"colour=red"};
  ck_assert_int_eq(gm_model_options_resolve(&vt, NULL, bad_key, 1, &o, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "unknown option 'colour'"), "%s", err.msg);
  ck_assert_int_eq(gm_model_options_resolve(&vt, "huge", NULL, 0, &o, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, "'huge'") && strstr(err.msg, "gated, seed"), "%s", err.msg);
  const char *range[] = {"width=0"};
  ck_assert_int_eq(gm_model_options_resolve(&vt, NULL, range, 1, &o, &err), GM_ERANGE);
  const char *choice[] = {"mask=fancy"};
  ck_assert_int_eq(gm_model_options_resolve(&vt, NULL, choice, 1, &o, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "plain|gated"), "%s", err.msg);
}
END_TEST

START_TEST(train_settings_take_defaults_then_keys_then_overrides) {
  gm_resolved_options o;
  gm_error err = {0};
  gm_train_settings s;
  gmt_ok(gm_train_settings_resolve(NULL, 0, 0, &s, &err), &err);
  ck_assert(s.lr == 1e-3 && s.batch == 8 && s.optimizer == GM_OPTIM_ADAM && s.hflip == 0 &&
            s.ema == 0 && s.clip == 0 && s.weight_decay == 0);
  const char *sets[] = {"optimizer=adamw", "ema=0.999", "clip=1"};
  gmt_ok(gm_model_options_resolve(&vt, "seed", sets, 3, &o, &err), &err);
  gmt_ok(gm_train_settings_resolve(&o, 0, 0, &s, &err), &err);
  ck_assert(s.lr == 2e-3 && s.batch == 8 && s.hflip == 1);
  ck_assert(s.optimizer == GM_OPTIM_ADAMW && s.weight_decay == 1e-2);
  ck_assert(s.ema == 0.999 && s.clip == 1);
  gmt_ok(gm_train_settings_resolve(&o, 2, 0.5, &s, &err), &err);
  ck_assert(s.batch == 2 && s.lr == 0.5);
  gm_model_options_free(&o);
  /* resolving refuses ema=1 itself now; the trainer keeps its own check behind it */
  gm_kv bad_kv[] = {{"ema", "1"}};
  gm_resolved_options bad = {.train = bad_kv, .n_train = 1};
  ck_assert_int_eq(gm_train_settings_resolve(&bad, 0, 0, &s, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "ema=1"), "%s", err.msg);
}
END_TEST

/* The range of the training key `key` as --help prints it. */
static const char *train_range(const char *key, char *buf, size_t n) {
  for (const gm_model_option *o = gm_train_keys(); o->name; o++)
    if (strcmp(o->name, key) == 0) return gm_model_option_range(o, buf, n);
  ck_abort_msg("no training key %s", key);
  return NULL;
}

START_TEST(training_keys_are_checked_against_the_ranges_help_shows) {
  char r[64];
  /* the trainer's own rules, shown as such (it was "outside 1..1e+30" for batch=0) */
  ck_assert_str_eq(train_range("batch", r, sizeof r), "1..1048576");
  ck_assert_str_eq(train_range("lr", r, sizeof r), "> 0");
  ck_assert_str_eq(train_range("ema", r, sizeof r), "[0, 1)");
  ck_assert_str_eq(train_range("clip", r, sizeof r), ">= 0");
  ck_assert_str_eq(train_range("optimizer", r, sizeof r), "adam|adamw");
  static const struct {
    const char *set, *key;
  } bad[] = {{"batch=0", "batch"},  {"batch=2000000", "batch"}, {"batch=x", "batch"},
             {"ema=2", "ema"},      {"ema=1", "ema"},           {"ema=-0.1", "ema"},
             {"lr=0", "lr"},        {"lr=-1", "lr"},            {"clip=-1", "clip"},
             {"weight_decay=-1", "weight_decay"}, {"optimizer=sgd", "optimizer"},
             {"hflip=2", "hflip"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    gm_resolved_options o;
    gm_error err = {0};
    int rc = gm_model_options_resolve(&vt, NULL, &bad[i].set, 1, &o, &err);
    ck_assert_msg(rc == GM_EINVAL || rc == GM_ERANGE, "%s: rc %d", bad[i].set, rc);
    ck_assert_msg(strstr(err.msg, bad[i].set) && strstr(err.msg, train_range(bad[i].key, r, sizeof r)),
                  "%s: the message does not name the value and the range %s: %s", bad[i].set, r,
                  err.msg);
  }
  const char *good[] = {"batch=1048576", "ema=0.9999", "ema=0", "lr=1e-9", "clip=0"};
  gm_resolved_options o;
  gm_error err = {0};
  gmt_ok(gm_model_options_resolve(&vt, NULL, good, 5, &o, &err), &err);
  gm_model_options_free(&o);
}
END_TEST

/* A model whose width must be even: the check runs on the complete list, after the preset
 * and --set, and its message says where the values came from. */
static int even_width(const gm_kv *kv, int n, gm_error *err) {
  int64_t w;
  int rc = gm_kv_int(kv, n, "width", &w, err);
  if (!rc && w % 2) rc = gm_error_set(err, GM_EINVAL, "option width=%lld: must be even", (long long)w);
  return rc;
}

START_TEST(the_plugins_option_check_runs_when_options_resolve) {
  gm_model_vtable checked = vt;
  checked.check_options = even_width;
  gm_resolved_options o;
  gm_error err = {0};
  const char *odd[] = {"width=31"};
  ck_assert_int_eq(gm_model_options_resolve(&checked, "seed", odd, 1, &o, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "preset 'seed' with --set") && strstr(err.msg, "width=31"), "%s",
                err.msg);
  const char *even[] = {"width=30"};
  gmt_ok(gm_model_options_resolve(&checked, "seed", even, 1, &o, &err), &err);
  gm_model_options_free(&o);
  /* a plugin built before the slot: its vtable ends before check_options */
  checked.size = (uint32_t)offsetof(gm_model_vtable, check_options);
  gmt_ok(gm_model_options_resolve(&checked, "seed", odd, 1, &o, &err), &err);
  gm_model_options_free(&o);
}
END_TEST

/* What the real plugins' tables cannot say is refused while resolving, naming the range
 * their --help shows; create() is never reached. */
START_TEST(pixelcnn_and_ddpm_refuse_bad_combinations_while_resolving) {
  static const struct {
    const char *model, *preset, *set, *want;
  } bad[] = {
      {"pixelcnn", NULL, "width=4", "3..1024"},
      {"pixelcnn", NULL, "kernel=4", "3..9"},
      {"pixelcnn", "seed", "arch=gated", "width=64"},
      {"ddpm", NULL, "ch=5", "4..512"},
      {"ddpm", NULL, "mult=abc", "1..16"},
      {"ddpm", NULL, "mult=1,,2", "1..16"},
      {"ddpm", NULL, "mult=1,2,", "1..16"},
      {"ddpm", NULL, "mult=", "1..16"},
      {"ddpm", NULL, "size=30", "4..256"},
      {"ddpm", "seed", "size=30", "4..256"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    gm_resolved_options o;
    gm_error err = {0};
    int rc = gm_model_options_resolve(gmt_model_plugin(bad[i].model), bad[i].preset, &bad[i].set,
                                      1, &o, &err);
    ck_assert_msg(rc != 0, "%s %s: accepted", bad[i].model, bad[i].set);
    ck_assert_msg(strstr(err.msg, bad[i].want), "%s %s: %s", bad[i].model, bad[i].set, err.msg);
  }
  const char *fine[] = {"mult=1,2", "ch=8", "size=16"};
  gm_resolved_options o;
  gm_error err = {0};
  gmt_ok(gm_model_options_resolve(gmt_model_plugin("ddpm"), NULL, fine, 3, &o, &err), &err);
  gm_model_options_free(&o);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("model_options");
  TCase *tc = tcase_create("resolve");
  tcase_add_test(tc, preset_values_survive_several_set_values);
  tcase_add_test(tc, defaults_fill_every_option_and_the_first_preset_is_the_default);
  tcase_add_test(tc, unknown_keys_presets_and_bad_values_are_refused_by_name);
  tcase_add_test(tc, train_settings_take_defaults_then_keys_then_overrides);
  tcase_add_test(tc, training_keys_are_checked_against_the_ranges_help_shows);
  tcase_add_test(tc, the_plugins_option_check_runs_when_options_resolve);
  tcase_add_test(tc, pixelcnn_and_ddpm_refuse_bad_combinations_while_resolving);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
