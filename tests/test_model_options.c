/* Option resolution for model plugins (gm_model_options_resolve): defaults, a preset's
 * values, --set values on top, training keys, and the refusals; also the trainer's
 * training settings resolved from them. No device needed. */
#include <math.h>
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
  const char *bad[] = {"ema=1"};
  gmt_ok(gm_model_options_resolve(&vt, NULL, bad, 1, &o, &err), &err);
  ck_assert_int_eq(gm_train_settings_resolve(&o, 0, 0, &s, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "ema=1"), "%s", err.msg);
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
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
