/* The plugin host: loading a good module and using its vtable, zero-filling an older
 * struct, each reason a module is refused (with the small modules in tests/modules/),
 * duplicates, and the order and tolerance of the search path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define MODULES GM_TEST_MODULE_DIR
#define ORDER_A GM_TEST_MODULE_DIR "/order_a"
#define ORDER_B GM_TEST_MODULE_DIR "/order_b"

/* The registry over the given folders, with GM_PLUGIN_PATH set to env (NULL: unset) for
 * the duration of the call. */
static gm_registry *registry_with(const char *const *dirs, int n, const char *env) {
  char *saved = getenv("GM_PLUGIN_PATH") ? strdup(getenv("GM_PLUGIN_PATH")) : NULL;
  if (env)
    setenv("GM_PLUGIN_PATH", env, 1);
  else
    unsetenv("GM_PLUGIN_PATH");
  gm_error err = {0};
  gm_registry *reg = NULL;
  int rc = gm_registry_create(&reg, dirs, n, &err);
  if (saved)
    setenv("GM_PLUGIN_PATH", saved, 1);
  else
    unsetenv("GM_PLUGIN_PATH");
  free(saved);
  gmt_ok(rc, &err);
  ck_assert_ptr_nonnull(reg);
  return reg;
}

static gm_registry *modules_registry(void) {
  const char *dirs[] = {MODULES};
  return registry_with(dirs, 1, NULL);
}

/* The record of the file dir/file; fails the test when the registry did not look at it. */
static const gm_plugin_record *record_of(const gm_registry *reg, const char *dir,
                                         const char *file) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    if (strcmp(r->path, path) == 0) return r;
  }
  ck_abort_msg("no record for %s (search path %s)", path, gm_registry_search_path(reg));
  return NULL;
}

/* Asserts that file was refused with a reason containing every given fragment. */
static void assert_refused(const gm_registry *reg, const char *file, const char *const *parts,
                           int n_parts) {
  const gm_plugin_record *r = record_of(reg, MODULES, file);
  ck_assert_msg(r->plugin == NULL, "%s was loaded, expected a refusal", file);
  ck_assert_ptr_null(r->vtable);
  ck_assert_ptr_nonnull(r->reason);
  for (int i = 0; i < n_parts; i++)
    ck_assert_msg(strstr(r->reason, parts[i]) != NULL, "%s: reason '%s' lacks '%s'", file,
                  r->reason, parts[i]);
}

#define ASSERT_REFUSED(reg, file, ...)                                                   \
  do {                                                                                   \
    const char *const parts_[] = {__VA_ARGS__};                                          \
    assert_refused((reg), (file), parts_, (int)(sizeof parts_ / sizeof parts_[0]));      \
  } while (0)

START_TEST(good_loader_loads_and_its_vtable_yields_images) {
  gm_registry *reg = modules_registry();
  const gm_plugin_record *r = gm_registry_find(reg, GM_PLUGIN_KIND_LOADER, "good");
  ck_assert_ptr_nonnull(r);
  ck_assert_ptr_eq(r, record_of(reg, MODULES, "good_loader.so"));
  ck_assert_ptr_null(r->reason);
  ck_assert_str_eq(r->kind, "loader");
  ck_assert_str_eq(r->name, "good");
  ck_assert_str_eq(r->plugin->version, "1.2.3");
  ck_assert_str_eq(r->plugin->summary, "a loader for the plugin host's tests");
  ck_assert_ptr_eq(r->plugin->vtable, r->vtable);

  const gm_loader_vtable *vt = r->vtable;
  ck_assert_uint_eq(vt->size, sizeof(gm_loader_vtable));
  ck_assert_str_eq(vt->option_keys[0], "colour");
  ck_assert_int_eq(vt->probe("test:"), 1);
  ck_assert_int_eq(vt->probe("elsewhere"), 0);
  gm_error err = {0};
  void *state = NULL;
  gmt_ok(vt->open(&state, "test:", NULL, 0, &err), &err);
  gm_image img;
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(vt->next(state, &img, &err), 1);
    ck_assert_int_eq(img.width, 2);
    ck_assert_int_eq(img.rgba[0], 100 + i);
    ck_assert_int_eq(img.rgba[3], 255);
    free(img.rgba);
  }
  ck_assert_int_eq(vt->next(state, &img, &err), 0);
  vt->close(state);
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(older_loader_vtable_is_zero_filled_to_the_hosts_size) {
  gm_registry *reg = modules_registry();
  const gm_plugin_record *r = gm_registry_find(reg, GM_PLUGIN_KIND_LOADER, "old");
  ck_assert_msg(r != NULL, "old loader refused: %s",
                record_of(reg, MODULES, "old_loader.so")->reason);
  const gm_loader_vtable *vt = r->vtable;
  /* The size stays the plugin's own; the slot it never had reads as NULL. */
  ck_assert_uint_eq(vt->size, offsetof(gm_loader_vtable, option_keys));
  ck_assert_ptr_null(vt->option_keys);
  ck_assert_int_eq(vt->probe("test:"), 1);
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_a_file_that_is_not_a_shared_module) {
  gm_registry *reg = modules_registry();
  ASSERT_REFUSED(reg, "text.so", "cannot be loaded as a shared module", "text.so");
  const gm_plugin_record *r = record_of(reg, MODULES, "text.so");
  ck_assert_str_eq(r->kind, "");
  ck_assert_str_eq(r->name, "");
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_a_module_without_the_entry_symbol) {
  gm_registry *reg = modules_registry();
  ASSERT_REFUSED(reg, "no_entry.so", "exports no gm_plugin_entry() symbol");
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_an_entry_that_returns_null) {
  gm_registry *reg = modules_registry();
  ASSERT_REFUSED(reg, "null_entry.so", "gm_plugin_entry() returned NULL");
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_another_abi_and_says_both_numbers) {
  gm_registry *reg = modules_registry();
  char host[32];
  snprintf(host, sizeof host, "ABI %u", (unsigned)GM_PLUGIN_ABI);
  ASSERT_REFUSED(reg, "other_abi.so", "ABI 99", host);
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_a_larger_plugin_struct_and_says_both_sizes) {
  gm_registry *reg = modules_registry();
  char plugin_size[64], host_size[64];
  snprintf(plugin_size, sizeof plugin_size, "is %zu bytes", sizeof(gm_plugin) + sizeof(void *));
  snprintf(host_size, sizeof host_size, "the %zu bytes this host knows", sizeof(gm_plugin));
  ASSERT_REFUSED(reg, "big_struct.so", plugin_size, host_size);
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(older_plugin_struct_is_zero_filled_past_its_size) {
  /* small_struct.so's struct in memory has a vtable pointer after its declared size; the
   * host must not see it, and so refuses the plugin for lacking one. */
  gm_registry *reg = modules_registry();
  ASSERT_REFUSED(reg, "small_struct.so", "missing required field 'vtable'");
  const gm_plugin_record *r = record_of(reg, MODULES, "small_struct.so");
  ck_assert_str_eq(r->kind, "loader");
  ck_assert_str_eq(r->name, "faulty");
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_each_missing_required_field_by_name) {
  static const char *const fields[] = {"kind", "name", "version", "summary", "vtable"};
  gm_registry *reg = modules_registry();
  for (int i = 0; i < 5; i++) {
    char file[64], what[64];
    snprintf(file, sizeof file, "missing_%s.so", fields[i]);
    snprintf(what, sizeof what, "missing required field '%s'", fields[i]);
    ASSERT_REFUSED(reg, file, what);
  }
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_an_unknown_kind_and_a_malformed_name) {
  gm_registry *reg = modules_registry();
  ASSERT_REFUSED(reg, "unknown_kind.so", "unknown kind 'sampler'");
  ck_assert_str_eq(record_of(reg, MODULES, "unknown_kind.so")->kind, "sampler");
  ASSERT_REFUSED(reg, "bad_name.so", "'Bad Name'");
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_each_missing_vtable_slot_by_name) {
  gm_registry *reg = modules_registry();
  ASSERT_REFUSED(reg, "loader_no_next.so", "missing required loader vtable slot 'next'");
  ASSERT_REFUSED(reg, "frontend_no_commands.so",
                 "missing required frontend vtable slot 'commands'");
  ASSERT_REFUSED(reg, "frontend_no_main.so", "commands[0].main", "gmt-broken");
  ck_assert_ptr_null(gm_registry_find(reg, GM_PLUGIN_KIND_LOADER, "nonext"));
  ck_assert_ptr_null(gm_registry_find_command(reg, "gmt-broken", NULL));
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(refuses_a_larger_vtable_and_says_both_sizes) {
  gm_registry *reg = modules_registry();
  char plugin_size[64], host_size[64];
  snprintf(plugin_size, sizeof plugin_size, "loader vtable is %zu bytes",
           sizeof(gm_loader_vtable) + sizeof(void *));
  snprintf(host_size, sizeof host_size, "the %zu bytes this host knows",
           sizeof(gm_loader_vtable));
  ASSERT_REFUSED(reg, "big_vtable.so", plugin_size, host_size);
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(frontend_commands_are_found_and_run) {
  gm_registry *reg = modules_registry();
  const gm_plugin_record *owner = NULL;
  const gm_command *c = gm_registry_find_command(reg, "gmt-hello", &owner);
  ck_assert_ptr_nonnull(c);
  ck_assert_ptr_eq(owner, gm_registry_find(reg, GM_PLUGIN_KIND_FRONTEND, "gmt"));
  gm_error err = {0};
  gm_host *host = NULL;
  gmt_ok(gm_host_create(&host, reg, "genmoji-test", &err), &err);
  ck_assert_ptr_eq(gm_host_registry(host), reg);
  ck_assert_str_eq(gm_host_argv0(host), "genmoji-test");
  char name[] = "gmt-hello";
  char *argv[] = {name, NULL};
  ck_assert_int_eq(c->main(1, argv, host), 7);
  ck_assert_ptr_null(gm_registry_find_command(reg, "no-such-command", &owner));
  ck_assert_ptr_null(owner);
  gm_host_destroy(host);
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(duplicate_kind_and_name_refuses_the_second_naming_both_files) {
  const char *dirs[] = {ORDER_A, ORDER_B};
  gm_registry *reg = registry_with(dirs, 2, NULL);
  const gm_plugin_record *first = gm_registry_find(reg, GM_PLUGIN_KIND_LOADER, "twin");
  ck_assert_ptr_nonnull(first);
  ck_assert_str_eq(first->plugin->version, "a");
  ck_assert_str_eq(first->path, ORDER_A "/twin.so");
  const gm_plugin_record *second = record_of(reg, ORDER_B, "twin.so");
  ck_assert_ptr_null(second->plugin);
  ck_assert_str_eq(second->name, "twin");
  ck_assert_ptr_nonnull(strstr(second->reason, ORDER_A "/twin.so"));
  ck_assert_ptr_nonnull(strstr(second->reason, ORDER_B "/twin.so"));
  ck_assert_ptr_nonnull(strstr(second->reason, "duplicate"));
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(plugin_path_dirs_come_before_the_environment) {
  const char *dirs[] = {ORDER_A};
  gm_registry *reg = registry_with(dirs, 1, ORDER_B);
  ck_assert_str_eq(gm_registry_find(reg, "loader", "twin")->plugin->version, "a");
  const char *path = gm_registry_search_path(reg);
  ck_assert_msg(strncmp(path, ORDER_A ":" ORDER_B ":", strlen(ORDER_A ":" ORDER_B ":")) == 0,
                "search path %s", path);
  ck_assert_ptr_nonnull(strstr(path, GM_BUILD_PLUGIN_DIR));
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(colon_separated_lists_keep_their_order) {
  gm_registry *reg = registry_with(NULL, 0, ORDER_B ":" ORDER_A);
  ck_assert_str_eq(gm_registry_find(reg, "loader", "twin")->plugin->version, "b");
  gm_registry_destroy(reg);
  const char *dirs[] = {ORDER_B ":" ORDER_A};
  reg = registry_with(dirs, 1, NULL);
  ck_assert_str_eq(gm_registry_find(reg, "loader", "twin")->plugin->version, "b");
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(a_folder_named_twice_is_searched_once) {
  const char *dirs[] = {ORDER_A, ORDER_A "/", ORDER_A "/."};
  gm_registry *reg = registry_with(dirs, 3, ORDER_A);
  int twins = 0;
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    twins += strcmp(r->name, "twin") == 0;
    ck_assert_msg(r->reason == NULL || strstr(r->reason, "twin") == NULL, "%s refused: %s",
                  r->path, r->reason);
  }
  ck_assert_int_eq(twins, 1);
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(nonexistent_folders_are_skipped_quietly) {
  const char *dirs[] = {"/nonexistent/genmoji-plugins", MODULES "/no-such-folder", "",
                        MODULES "/text.so"};
  gm_registry *reg = registry_with(dirs, 4, "/also/nonexistent");
  const char *path = gm_registry_search_path(reg);
  ck_assert_ptr_nonnull(strstr(path, "/nonexistent/genmoji-plugins"));
  ck_assert_ptr_nonnull(strstr(path, "/also/nonexistent"));
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const char *p = gm_registry_record(reg, i)->path;
    ck_assert_msg(strstr(p, "nonexistent") == NULL && strstr(p, "no-such-folder") == NULL &&
                      strcmp(p, MODULES "/text.so") != 0,
                  "unexpected record %s", p);
  }
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(out_of_range_lookups_return_null) {
  gm_registry *reg = modules_registry();
  ck_assert_ptr_null(gm_registry_record(reg, -1));
  ck_assert_ptr_null(gm_registry_record(reg, gm_registry_count(reg)));
  ck_assert_ptr_null(gm_registry_find(reg, "loader", "no-such-loader"));
  ck_assert_ptr_null(gm_registry_find(reg, "model", "good"));
  gm_registry_destroy(reg);
  gm_registry_destroy(NULL);
  gm_error err = {0};
  gm_registry *none = NULL;
  ck_assert_int_eq(gm_registry_create(&none, NULL, 2, &err), GM_EINVAL);
  ck_assert_ptr_null(none);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("plugin");
  TCase *load = tcase_create("load");
  tcase_add_test(load, good_loader_loads_and_its_vtable_yields_images);
  tcase_add_test(load, older_loader_vtable_is_zero_filled_to_the_hosts_size);
  tcase_add_test(load, frontend_commands_are_found_and_run);
  tcase_add_test(load, out_of_range_lookups_return_null);
  suite_add_tcase(s, load);
  TCase *refuse = tcase_create("refuse");
  tcase_add_test(refuse, refuses_a_file_that_is_not_a_shared_module);
  tcase_add_test(refuse, refuses_a_module_without_the_entry_symbol);
  tcase_add_test(refuse, refuses_an_entry_that_returns_null);
  tcase_add_test(refuse, refuses_another_abi_and_says_both_numbers);
  tcase_add_test(refuse, refuses_a_larger_plugin_struct_and_says_both_sizes);
  tcase_add_test(refuse, older_plugin_struct_is_zero_filled_past_its_size);
  tcase_add_test(refuse, refuses_each_missing_required_field_by_name);
  tcase_add_test(refuse, refuses_an_unknown_kind_and_a_malformed_name);
  tcase_add_test(refuse, refuses_each_missing_vtable_slot_by_name);
  tcase_add_test(refuse, refuses_a_larger_vtable_and_says_both_sizes);
  suite_add_tcase(s, refuse);
  TCase *search = tcase_create("search");
  tcase_add_test(search, duplicate_kind_and_name_refuses_the_second_naming_both_files);
  tcase_add_test(search, plugin_path_dirs_come_before_the_environment);
  tcase_add_test(search, colon_separated_lists_keep_their_order);
  tcase_add_test(search, a_folder_named_twice_is_searched_once);
  tcase_add_test(search, nonexistent_folders_are_skipped_quietly);
  suite_add_tcase(s, search);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
