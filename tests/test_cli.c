/* The genmoji executable end to end: it is run as a child process with the build tree's
 * plugins, and its exit codes, stdout and stderr are checked (JSON parsed with cJSON). */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "clitest.h"
#include "testlib.h"

extern char **environ;

/* The executable sits beside the build tree's plugins/ folder. */
#define GENMOJI_EXE GM_BUILD_PLUGIN_DIR "/../genmoji"

typedef struct run_result {
  int status;   /* exit code, or -1 when it did not exit normally */
  char *out;    /* stdout, NUL-terminated */
  char *err;    /* stderr */
} run_result;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot read %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(s);
  ck_assert_int_eq(fread(s, 1, (size_t)n, f), n);
  s[n] = '\0';
  fclose(f);
  return s;
}

/* Runs genmoji with args (NULL-terminated) and the test's environment plus the
 * "NAME=value" entries of extra_env (NULL-terminated, may be NULL). */
static run_result run_env(const char *const *args, const char *const *extra_env) {
  char out_path[1100], err_path[1100];
  snprintf(out_path, sizeof out_path, "%s/cli.out", gmt_tmpdir());
  snprintf(err_path, sizeof err_path, "%s/cli.err", gmt_tmpdir());

  const char *argv[32] = {GENMOJI_EXE};
  int argc = 1;
  for (; args[argc - 1]; argc++) {
    ck_assert_int_lt(argc, 31);
    argv[argc] = args[argc - 1];
  }
  argv[argc] = NULL;

  int n_env = 0, n_extra = 0;
  while (environ[n_env]) n_env++;
  while (extra_env && extra_env[n_extra]) n_extra++;
  char **envp = calloc((size_t)(n_env + n_extra + 1), sizeof *envp);
  ck_assert_ptr_nonnull(envp);
  int k = 0;
  for (int i = 0; i < n_extra; i++) envp[k++] = (char *)extra_env[i];
  for (int i = 0; i < n_env; i++) {
    int overridden = 0;
    for (int j = 0; j < n_extra; j++) {
      size_t len = strcspn(extra_env[j], "=") + 1;
      overridden |= strncmp(environ[i], extra_env[j], len) == 0;
    }
    if (!overridden) envp[k++] = environ[i];
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int rc = posix_spawn(&pid, GENMOJI_EXE, &fa, NULL, (char *const *)argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  ck_assert_msg(rc == 0, "cannot run %s: %s", GENMOJI_EXE, strerror(rc));
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);

  run_result r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

static run_result run(const char *const *args) { return run_env(args, NULL); }

static void result_free(run_result *r) {
  free(r->out);
  free(r->err);
}

#define RUN(...) run((const char *const[]){__VA_ARGS__, NULL})

#define ASSERT_EXIT(r, code)                                                              \
  ck_assert_msg((r).status == (code), "exit %d, want %d\nstdout:\n%s\nstderr:\n%s",      \
                (r).status, (code), (r).out, (r).err)

/* A usage or failure message: one line on stderr in the house format, nothing on stdout. */
static void assert_one_line_error(const run_result *r) {
  ck_assert_msg(strncmp(r->err, "genmoji: ", 9) == 0, "stderr: %s", r->err);
  const char *nl = strchr(r->err, '\n');
  ck_assert_msg(nl && nl[1] == '\0', "not one line: %s", r->err);
  ck_assert_str_eq(r->out, "");
}

START_TEST(version_prints_both_versions) {
  run_result r = RUN("--version");
  ASSERT_EXIT(r, 0);
  char want[64];
  snprintf(want, sizeof want, "genmoji %d.%d.%d\n", GM_VERSION_MAJOR, GM_VERSION_MINOR,
           GM_VERSION_PATCH);
  ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "stdout: %s", r.out);
  ck_assert_ptr_nonnull(strstr(r.out, gm_version()));
  ck_assert_str_eq(r.err, "");
  result_free(&r);
  r = RUN("version");
  ASSERT_EXIT(r, 0);
  ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "stdout: %s", r.out);
  result_free(&r);
}
END_TEST

START_TEST(help_lists_every_command_with_its_summary) {
  const char *const variants[][2] = {{"--help", NULL}, {"-h", NULL}, {"help", NULL}};
  for (int i = 0; i < 3; i++) {
    run_result r = run(variants[i]);
    ASSERT_EXIT(r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: genmoji"));
    ck_assert_ptr_nonnull(strstr(r.out, "  devices "));
    ck_assert_ptr_nonnull(strstr(r.out, "list OpenCL platforms and devices"));
    ck_assert_ptr_nonnull(strstr(r.out, "  plugins "));
    ck_assert_ptr_nonnull(strstr(r.out, "  version "));
    result_free(&r);
  }
}
END_TEST

START_TEST(no_command_shows_the_help) {
  run_result r = run((const char *const[]){NULL});
  ASSERT_EXIT(r, 0);
  ck_assert_ptr_nonnull(strstr(r.out, "  devices "));
  result_free(&r);
}
END_TEST

START_TEST(every_command_answers_help_with_exit_0) {
  static const char *const commands[] = {"devices", "plugins", "help", "version"};
  for (int i = 0; i < 4; i++) {
    run_result r = RUN(commands[i], "--help");
    ASSERT_EXIT(r, 0);
    char want[64];
    snprintf(want, sizeof want, "Usage: genmoji %s", commands[i]);
    ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "stdout: %s", r.out);
    result_free(&r);
    r = RUN("help", commands[i]);
    ASSERT_EXIT(r, 0);
    ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "help %s: %s", commands[i], r.out);
    result_free(&r);
  }
}
END_TEST

START_TEST(unknown_command_exits_2_with_a_hint) {
  run_result r = RUN("frobnicate");
  ASSERT_EXIT(r, 2);
  assert_one_line_error(&r);
  ck_assert_ptr_nonnull(strstr(r.err, "'frobnicate'"));
  ck_assert_ptr_nonnull(strstr(r.err, "genmoji --help"));
  result_free(&r);
  r = RUN("help", "frobnicate");
  ASSERT_EXIT(r, 2);
  assert_one_line_error(&r);
  result_free(&r);
}
END_TEST

START_TEST(bad_usage_exits_2_with_one_line_and_a_hint) {
  const char *const cases[][3] = {
      {"devices", "--frobnicate", NULL}, {"devices", "-x", NULL},
      {"devices", "--json=yes", NULL},   {"devices", "--device", NULL},
      {"devices", "extra", NULL},        {"plugins", "--frobnicate", NULL},
      {"version", "extra", NULL},        {"--plugin-path", NULL, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    run_result r = run(cases[i]);
    ASSERT_EXIT(r, 2);
    assert_one_line_error(&r);
    ck_assert_msg(strstr(r.err, "--help") != NULL, "no hint: %s", r.err);
    result_free(&r);
  }
}
END_TEST

/* Parses `devices --json` output; returns the devices array's owner. */
static cJSON *devices_json(const char *const *args, int *n_devices, int *n_selected,
                           int *selected) {
  run_result r = run(args);
  ASSERT_EXIT(r, 0);
  cJSON *root = cJSON_Parse(r.out);
  ck_assert_msg(root != NULL, "not JSON: %s", r.out);
  result_free(&r);
  cJSON *devices = cJSON_GetObjectItemCaseSensitive(root, "devices");
  ck_assert(cJSON_IsArray(devices));
  *n_devices = cJSON_GetArraySize(devices);
  *n_selected = 0;
  for (int i = 0; i < *n_devices; i++) {
    cJSON *d = cJSON_GetArrayItem(devices, i);
    ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "name")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "platform")));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "compute_units")));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "global_mem_bytes")));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "max_work_group_size")));
    cJSON *sel = cJSON_GetObjectItemCaseSensitive(d, "selected");
    ck_assert(cJSON_IsBool(sel));
    if (cJSON_IsTrue(sel)) {
      (*n_selected)++;
      *selected = i;
    }
  }
  return root;
}

START_TEST(devices_json_lists_devices_with_exactly_one_selected) {
  int n = 0, n_sel = 0, sel = -1;
  cJSON *root = devices_json((const char *const[]){"devices", "--json", NULL}, &n, &n_sel,
                             &sel);
  ck_assert_int_ge(n, 1);
  ck_assert_int_eq(n_sel, 1);
  cJSON_Delete(root);

  /* --device by index moves the mark to that device. */
  char last[16];
  snprintf(last, sizeof last, "%d", n - 1);
  root = devices_json((const char *const[]){"devices", "--json", "--device", last, NULL}, &n,
                      &n_sel, &sel);
  ck_assert_int_eq(n_sel, 1);
  ck_assert_int_eq(sel, n - 1);
  cJSON_Delete(root);
}
END_TEST

START_TEST(devices_text_marks_the_selected_device) {
  run_result r = RUN("devices");
  ASSERT_EXIT(r, 0);
  ck_assert_ptr_nonnull(strstr(r.out, "platform 0: "));
  ck_assert_ptr_nonnull(strstr(r.out, "\n* ["));
  ck_assert_ptr_nonnull(strstr(r.out, "compute units"));
  result_free(&r);
}
END_TEST

START_TEST(devices_bad_index_exits_1_naming_what_was_found) {
  gm_error err = {0};
  gm_device_info *list = NULL;
  int n = 0;
  gmt_ok(gm_device_list(&list, &n, &err), &err);
  run_result r = RUN("devices", "--device", "99");
  ASSERT_EXIT(r, 1);
  assert_one_line_error(&r);
  ck_assert_msg(strstr(r.err, list[0].name) != NULL, "does not name %s: %s", list[0].name,
                r.err);
  result_free(&r);
  r = RUN("devices", "--device", "nosuchthing");
  ASSERT_EXIT(r, 1);
  assert_one_line_error(&r);
  ck_assert_ptr_nonnull(strstr(r.err, "nosuchthing"));
  ck_assert_ptr_nonnull(strstr(r.err, list[0].name));
  result_free(&r);
  free(list);
}
END_TEST

START_TEST(devices_without_any_platform_exits_1_with_the_engines_message) {
  char empty[1100], env[1200];
  snprintf(empty, sizeof empty, "%s/no-icds", gmt_tmpdir());
  mkdir(empty, 0700);
  snprintf(env, sizeof env, "OCL_ICD_VENDORS=%s", empty);
  run_result r = run_env((const char *const[]){"devices", NULL},
                         (const char *const[]){env, NULL});
  ASSERT_EXIT(r, 1);
  ck_assert_msg(strncmp(r.err, "genmoji: ", 9) == 0, "stderr: %s", r.err);
  ck_assert_msg(strstr(r.err, "pocl") != NULL, "no install hint: %s", r.err);
  ck_assert_str_eq(r.out, "");
  result_free(&r);
}
END_TEST

START_TEST(plugins_json_lists_the_cli_frontend) {
  run_result r = RUN("plugins", "--json");
  ASSERT_EXIT(r, 0);
  cJSON *root = cJSON_Parse(r.out);
  ck_assert_msg(root != NULL, "not JSON: %s", r.out);
  cJSON *plugins = cJSON_GetObjectItemCaseSensitive(root, "plugins");
  ck_assert(cJSON_IsArray(plugins));
  ck_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "refused")));
  ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "search_path")));
  int found = 0;
  cJSON *p;
  cJSON_ArrayForEach(p, plugins) {
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "kind"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name"));
    const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "path"));
    if (kind && name && strcmp(kind, "frontend") == 0 && strcmp(name, "cli") == 0) {
      found++;
      ck_assert_ptr_nonnull(path);
      ck_assert_ptr_nonnull(strstr(path, "gm_cli.so"));
    }
  }
  ck_assert_int_eq(found, 1);
  cJSON_Delete(root);
  result_free(&r);
}
END_TEST

START_TEST(plugins_shows_refused_modules_with_the_reason) {
  run_result r = RUN("--plugin-path", GM_TEST_MODULE_DIR, "plugins");
  ASSERT_EXIT(r, 0);
  ck_assert_ptr_nonnull(strstr(r.out, "refused:"));
  ck_assert_ptr_nonnull(strstr(r.out, GM_TEST_MODULE_DIR "/other_abi.so"));
  ck_assert_ptr_nonnull(strstr(r.out, "built for plugin ABI 99"));
  result_free(&r);
}
END_TEST

START_TEST(plugin_path_adds_frontends_and_their_commands) {
  run_result r = RUN("--plugin-path", GM_TEST_MODULE_DIR, "gmt-hello");
  ASSERT_EXIT(r, 7);
  result_free(&r);
  r = RUN("--plugin-path=" GM_TEST_MODULE_DIR, "--help");
  ASSERT_EXIT(r, 0);
  ck_assert_ptr_nonnull(strstr(r.out, "  gmt-hello "));
  ck_assert_ptr_nonnull(strstr(r.out, "  devices "));
  result_free(&r);
}
END_TEST

/* ---- outputs that are inputs ---- */

/* A tiny PixelCNN checkpoint, trained once per process for one step on the fruit. */
static const char *tiny_checkpoint(void) {
  static char path[1200];
  if (path[0]) return path;
  const char *out = gmt_path_in("tiny-run");
  gmt_run_result r = gmt_genmoji(NULL, "train --model pixelcnn --set width=6 --set layers=1 "
                                 "--set kernel=3 --data '%s' --out '%s' --steps 1 --batch 2 "
                                 "--quiet", gmt_fruit_pictures(), out);
  ck_assert_msg(r.code == 0, "train exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  snprintf(path, sizeof path, "%s/last.safetensors", out);
  return path;
}

/* x (1, 3, 8, 8) of classes for the PixelCNN's forward. */
static void write_forward_input(const char *path) {
  float x[3 * 8 * 8];
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)(i % 16);
  gm_tensor *t = gmt_tensor_from(4, GM_SHAPE(1, 3, 8, 8), x);
  gm_named_tensor in[1] = {{"x", t}};
  gm_error err = {0};
  gmt_ok(gm_checkpoint_write(path, in, 1, NULL, 0, &err), &err);
  gm_tensor_destroy(t);
}

static void sh(const char *fmt, const char *a, const char *b) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, fmt, a, b);
  ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

typedef struct kept_file {
  const char *path;
  char *bytes;
  size_t len;
} kept_file;

static kept_file keep(const char *path) {
  kept_file k = {path, NULL, 0};
  k.bytes = gmt_slurp(path, &k.len);
  ck_assert_msg(k.bytes != NULL, "cannot read %s", path);
  return k;
}

static void assert_unchanged(kept_file *k, const char *what) {
  size_t len = 0;
  char *now = gmt_slurp(k->path, &len);
  ck_assert_msg(now && len == k->len && memcmp(now, k->bytes, len) == 0, "%s: %s was changed",
                what, k->path);
  free(now);
}

/* Exit 2, one line naming both paths, and no file written. */
static void assert_refused(gmt_run_result *r, const char *what, const char *a, const char *b) {
  ck_assert_msg(r->code == 2, "%s: exit %d, want 2 (stderr: %s)", what, r->code, r->err);
  ck_assert_msg(strstr(r->err, a) && strstr(r->err, b) && strstr(r->err, "same file"),
                "%s: the message does not name %s and %s: %s", what, a, b, r->err);
  gmt_run_free(r);
}

START_TEST(an_output_that_is_an_input_exits_2_and_writes_nothing) {
  char k[1200], x[1200], dir[1200], data[1200];
  snprintf(k, sizeof k, "%s", gmt_path_in("k.safetensors"));
  snprintf(x, sizeof x, "%s", gmt_path_in("x.safetensors"));
  snprintf(dir, sizeof dir, "%s", gmt_path_in("same-file"));
  snprintf(data, sizeof data, "%s/data", dir);
  sh("rm -rf '%s' && mkdir -p '%s'", dir, dir);
  sh("cp '%s' '%s'", tiny_checkpoint(), k);
  write_forward_input(x);
  kept_file kk = keep(k), kx = keep(x);

  /* the control: a new output is fine */
  gmt_run_result r = gmt_genmoji(NULL, "forward --checkpoint '%s' --in '%s' --out '%s/y.st'",
                                 k, x, dir);
  ck_assert_msg(r.code == 0, "forward exit %d: %s", r.code, r.err);
  gmt_run_free(&r);

  r = gmt_genmoji(NULL, "forward --checkpoint '%s' --in '%s' --out '%s'", k, x, k);
  assert_refused(&r, "forward --out = --checkpoint", "--out", "--checkpoint");
  r = gmt_genmoji(NULL, "forward --weights '%s' --model pixelcnn --set width=6 --set layers=1 "
                  "--set kernel=3 --in '%s' --out '%s'", k, x, x);
  assert_refused(&r, "forward --out = --in", "--out", "--in");
  /* the same file under another name: a hard link, a symbolic link, another spelling */
  sh("ln '%s' '%s/hard.st'", k, dir);
  r = gmt_genmoji(NULL, "forward --checkpoint '%s' --in '%s' --out '%s/hard.st'", k, x, dir);
  assert_refused(&r, "forward --out = a hard link", "hard.st", k);
  sh("ln -s '%s' '%s/soft.st'", k, dir);
  r = gmt_genmoji(NULL, "forward --checkpoint '%s/soft.st' --in '%s' --out '%s'", dir, x, k);
  assert_refused(&r, "forward --checkpoint through a symlink", "soft.st", k);
  r = gmt_genmoji(NULL, "forward --checkpoint '%s' --in '%s' --out '%s/../same-file/hard.st'", k,
                  x, dir);
  assert_refused(&r, "forward --out spelt with ..", "--out", "--checkpoint");

  r = gmt_genmoji(NULL, "sample --checkpoint '%s' --n 1 --out '%s/g.png' --save-noise '%s' "
                  "--quiet", k, dir, k);
  assert_refused(&r, "sample --save-noise = --checkpoint", "--save-noise", "--checkpoint");
  r = gmt_genmoji(NULL, "sample --checkpoint '%s' --n 1 --out '%s/g.png' --save-noise "
                  "'%s/g.png' --quiet", k, dir, dir);
  assert_refused(&r, "sample --save-noise = --out", "--save-noise", "--out");
  ck_assert_msg(access(gmt_path_in("same-file/g.png"), F_OK) != 0, "g.png was written");
  r = gmt_genmoji(NULL, "sample --checkpoint '%s' --n 1 --out '%s/g.png' --noise '%s' "
                  "--save-noise '%s' --quiet", k, dir, x, x);
  assert_refused(&r, "sample --save-noise = --noise", "--save-noise", "--noise");
  /* a folder --out whose NNNN.png would replace the checkpoint */
  sh("mkdir -p '%s/grid'%s", dir, "");
  sh("ln '%s' '%s/grid/0001.png'", k, dir);
  r = gmt_genmoji(NULL, "sample --checkpoint '%s' --n 2 --out '%s/grid' --quiet", k, dir);
  assert_refused(&r, "sample --out DIR with DIR/0001.png = --checkpoint", "0001.png", k);
  ck_assert_msg(access(gmt_path_in("same-file/grid/0000.png"), F_OK) != 0, "0000.png was written");

  /* dataset: the export folder or the grid is where the pictures come from */
  sh("cp -r '%s' '%s'", gmt_fruit_pictures(), data);
  char apple[1300];
  snprintf(apple, sizeof apple, "%s/apple.png", data);
  kept_file ka = keep(apple);
  r = gmt_genmoji(NULL, "dataset --data '%s' --export '%s'", data, data);
  assert_refused(&r, "dataset --export = --data", "--export", "--data");
  r = gmt_genmoji(NULL, "dataset --data '%s' --grid '%s'", data, apple);
  assert_refused(&r, "dataset --grid = a picture of --data", "--grid", "apple");
  sh("mkdir -p '%s/export'%s", dir, "");
  sh("ln '%s' '%s/export/apple.png'", apple, dir);
  r = gmt_genmoji(NULL, "dataset --data '%s' --export '%s/export'", data, dir);
  assert_refused(&r, "dataset --export DIR with DIR/apple.png = a picture", "export/apple.png",
                 "apple.png");
  assert_unchanged(&ka, "dataset");
  ck_assert_msg(access(gmt_path_in("same-file/export/banana.png"), F_OK) != 0,
                "banana.png was exported");

  /* train: --data is a file it would write into --out */
  sh("mkdir -p '%s/run' && echo keep > '%s/run/metrics.jsonl'", dir, dir);
  char metrics[1300], run_dir[1300];
  snprintf(run_dir, sizeof run_dir, "%s/run", dir);
  snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", run_dir);
  kept_file km = keep(metrics);
  r = gmt_genmoji(NULL, "train --model pixelcnn --data '%s' --out '%s' --steps 1 --quiet", metrics,
                  run_dir);
  assert_refused(&r, "train --out DIR with DIR/metrics.jsonl = --data", "metrics.jsonl", "--data");
  assert_unchanged(&km, "train");
  ck_assert_msg(access(gmt_path_in("same-file/run/last.safetensors"), F_OK) != 0,
                "train wrote a checkpoint");

  assert_unchanged(&kk, "forward and sample");
  assert_unchanged(&kx, "forward and sample");
  free(kk.bytes);
  free(kx.bytes);
  free(ka.bytes);
  free(km.bytes);
}
END_TEST

/* forward records the weights' path in its output's header, JSON that Python's
 * safetensors parses strictly: a path with bytes that are not UTF-8 must not break it. */
START_TEST(forward_metadata_is_valid_utf8_whatever_the_path) {
  char k[1200], x[1200], y[1200];
  snprintf(k, sizeof k, "%s", gmt_path_in("k\xff\xc3.safetensors"));
  snprintf(x, sizeof x, "%s", gmt_path_in("x-utf8.safetensors"));
  snprintf(y, sizeof y, "%s", gmt_path_in("y-utf8.safetensors"));
  sh("cp '%s' '%s'", tiny_checkpoint(), k);
  write_forward_input(x);
  gmt_run_result r = gmt_genmoji(NULL, "forward --checkpoint '%s' --in '%s' --out '%s' --json", k,
                                 x, y);
  ck_assert_msg(r.code == 0, "forward exit %d: %s", r.code, r.err);
  ck_assert_msg(gmt_valid_utf8(r.out, strlen(r.out)), "--json: %s", r.out);
  gmt_run_free(&r);
  size_t len = 0;
  char *file = gmt_slurp(y, &len);
  ck_assert(file && len > 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | (unsigned char)file[i];
  ck_assert(n <= len - 8);
  ck_assert_msg(gmt_valid_utf8(file + 8, (size_t)n), "header: %.*s", (int)n, file + 8);
  ck_assert_msg(strstr(file + 8, "\xef\xbf\xbd"), "no U+FFFD: %.*s", (int)n, file + 8);
  free(file);
}
END_TEST

/* train records --data in the checkpoint's metadata (JSON, checked as UTF-8 when written):
 * a folder whose name is not UTF-8 still trains and saves. */
START_TEST(train_saves_its_checkpoint_whatever_the_data_path) {
  char data[1200], out[1200];
  snprintf(data, sizeof data, "%s", gmt_path_in("fruit-\xff"));
  snprintf(out, sizeof out, "%s", gmt_path_in("run-utf8"));
  sh("rm -rf '%s'%s", data, "");
  sh("cp -r '%s' '%s'", gmt_fruit_pictures(), data);
  gmt_run_result r = gmt_genmoji(NULL, "train --model pixelcnn --set width=6 --set layers=1 "
                                 "--set kernel=3 --data '%s' --out '%s' --steps 1 --batch 2 "
                                 "--quiet --json", data, out);
  ck_assert_msg(r.code == 0, "train exit %d: %s", r.code, r.err);
  ck_assert_msg(gmt_valid_utf8(r.out, strlen(r.out)), "--json: %s", r.out);
  gmt_run_free(&r);
}
END_TEST

/* ---- option values ---- */

/* The range column of `key` in `train --model MODEL --help` ("" when it has none). */
static void help_range(const char *model, const char *key, char *out, size_t n) {
  gmt_run_result r = gmt_genmoji(NULL, "train --model %s --help", model);
  ck_assert_int_eq(r.code, 0);
  char pat[64];
  snprintf(pat, sizeof pat, "\n  %s ", key);
  const char *line = strstr(r.out, pat);
  ck_assert_msg(line != NULL, "no row %s in %s's help", key, model);
  line += 1;
  /* "  name(16) type(7) default(10) range(16) help" */
  const size_t at = 2 + 16 + 1 + 7 + 1 + 10 + 1;
  size_t len = strcspn(line, "\n");
  ck_assert_msg(len > at, "short row: %.*s", (int)len, line);
  snprintf(out, n, "%.16s", line + at);
  for (size_t k = strlen(out); k > 0 && out[k - 1] == ' '; k--) out[k - 1] = '\0';
  gmt_run_free(&r);
}

START_TEST(invalid_option_values_exit_2_with_the_help_range_and_create_nothing) {
  static const struct {
    const char *model, *args, *key, *also;
  } cases[] = {
      {"pixelcnn", "--set ema=2", "ema", NULL},
      {"pixelcnn", "--set ema=1", "ema", NULL},
      {"pixelcnn", "--set batch=0", "batch", NULL},
      {"pixelcnn", "--set batch=2000000", "batch", NULL},
      {"pixelcnn", "--batch 2000000", "batch", NULL},
      {"pixelcnn", "--set lr=0", "lr", NULL},
      {"pixelcnn", "--set width=4", "width", "multiple of 3"},
      {"pixelcnn", "--set kernel=4", "kernel", "odd"},
      {"pixelcnn", "--preset seed --set arch=gated", "width", "width=64"},
      {"pixelcnn", "--set hflip=2", "hflip", NULL},
      {"ddpm", "--set mult=abc", "mult", "1..16"},
      {"ddpm", "--set mult=1,,2", "mult", "1..16"},
      {"ddpm", "--set ch=5", "ch", "even"},
      {"ddpm", "--set dropout=0.95", "dropout", NULL},
      {"ddpm", "--set timesteps=1", "timesteps", NULL},
  };
  const char *out = gmt_path_in("never-made");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char range[64];
    help_range(cases[i].model, cases[i].key, range, sizeof range);
    gmt_run_result r = gmt_genmoji(NULL, "train --model %s %s --data '%s' --out '%s' --steps 1 "
                                   "--quiet", cases[i].model, cases[i].args,
                                   gmt_fruit_pictures(), out);
    ck_assert_msg(r.code == 2, "%s %s: exit %d, want 2: %s", cases[i].model, cases[i].args, r.code,
                  r.err);
    ck_assert_msg(strstr(r.err, range), "%s %s: the message does not state the range '%s' that "
                  "--help shows: %s", cases[i].model, cases[i].args, range, r.err);
    ck_assert_msg(!cases[i].also || strstr(r.err, cases[i].also), "%s %s: %s", cases[i].model,
                  cases[i].args, r.err);
    ck_assert_msg(!strstr(r.err, "e+30"), "%s", r.err);
    ck_assert_msg(access(out, F_OK) != 0, "%s %s: --out %s was created", cases[i].model,
                  cases[i].args, out);
    gmt_run_free(&r);
  }
  /* compare: the same values through --set-MODEL, before its report folder exists */
  gmt_run_result r = gmt_genmoji(NULL, "compare --data '%s' --set-ddpm ch=5 --steps 1 --out '%s' "
                                 "--quiet", gmt_fruit_pictures(), out);
  ck_assert_msg(r.code == 2 && strstr(r.err, "4..512"), "compare: exit %d: %s", r.code, r.err);
  ck_assert_msg(access(out, F_OK) != 0, "compare created %s", out);
  gmt_run_free(&r);
  /* sample: --set on top of a checkpoint's options */
  r = gmt_genmoji(NULL, "sample --checkpoint '%s' --set width=4 --n 1 --out '%s.png' --quiet",
                  tiny_checkpoint(), out);
  ck_assert_msg(r.code == 2 && strstr(r.err, "3..1024"), "sample: exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
}
END_TEST

/* --vendor and --skip-bad reach a loader only where it takes them; elsewhere they are
 * usage errors naming the loaders that do, and --help says which those are. */
START_TEST(loader_options_are_usage_errors_where_the_loader_does_not_take_them) {
  gmt_run_result r = gmt_genmoji(NULL, "dataset --help");
  ck_assert_int_eq(r.code, 0);
  const char *line = strstr(r.out, "--skip-bad");
  ck_assert_ptr_nonnull(line);
  ck_assert_msg(strstr(line, "kaggle") && strstr(line, "pngdir") &&
                strstr(line, "kaggle") < strstr(line, "--subset") &&
                strstr(line, "pngdir") < strstr(line, "--subset"), "%s", r.out);
  gmt_run_free(&r);

  r = gmt_genmoji(NULL, "dataset --data '%s' --skip-bad", gmt_fruit_pictures());
  ck_assert_msg(r.code == 0, "pngdir --skip-bad: exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "dataset --data noto --skip-bad");
  ck_assert_msg(r.code == 2 && strstr(r.err, "notoemoji") && strstr(r.err, "kaggle, pngdir"),
                "noto --skip-bad: exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "dataset --data '%s' --vendor Apple", gmt_fruit_pictures());
  ck_assert_msg(r.code == 2 && strstr(r.err, "pngdir") && strstr(r.err, "kaggle"),
                "pngdir --vendor: exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  const char *out = gmt_path_in("never-made-2");
  r = gmt_genmoji(NULL, "train --model pixelcnn --data noto --skip-bad --out '%s' --steps 1", out);
  ck_assert_msg(r.code == 2, "train noto --skip-bad: exit %d: %s", r.code, r.err);
  ck_assert_msg(access(out, F_OK) != 0, "train created %s", out);
  gmt_run_free(&r);
}
END_TEST

/* A --n whose images cannot be one tensor is refused naming that limit, not a dimension. */
START_TEST(a_too_large_n_names_the_tensor_limit) {
  const char *png = gmt_path_in("too-many.png");
  gmt_run_result r = gmt_genmoji(NULL, "sample --checkpoint '%s' --set image_size=256 --n 20000 "
                                 "--out '%s' --quiet", tiny_checkpoint(), png);
  ck_assert_msg(r.code == 2 && strstr(r.err, "2^31") && strstr(r.err, "10922"),
                "sample: exit %d: %s", r.code, r.err);
  ck_assert_msg(!strstr(r.err, "dimension"), "%s", r.err);
  ck_assert_msg(access(png, F_OK) != 0, "sample wrote %s", png);
  gmt_run_free(&r);
  const char *out = gmt_path_in("never-made-3");
  r = gmt_genmoji(NULL, "compare --data '%s' --size 1024 --n 4096 --steps 1 --out '%s' --quiet",
                  gmt_fruit_pictures(), out);
  ck_assert_msg(r.code == 2 && strstr(r.err, "2^31") && strstr(r.err, "682"), "compare: exit %d: %s",
                r.code, r.err);
  ck_assert_msg(access(out, F_OK) != 0, "compare created %s", out);
  gmt_run_free(&r);
}
END_TEST

/* The commands' own numeric options: a bad value is a usage error whose message states
 * the range that the command's --help shows. */
START_TEST(command_option_errors_state_the_range_help_shows) {
  static const struct {
    const char *cmd, *args, *range;
  } cases[] = {
      {"sample", "--n 0", "1..65536"},           {"sample", "--n 70000", "1..65536"},
      {"sample", "--steps 2000000", "1..1048576"}, {"sample", "--steps 0", "1..1048576"},
      {"sample", "--upscale 65", "1..64"},       {"sample", "--seed -1", "0..2^63-1"},
      {"sample", "--temperature 0", "> 0"},      {"sample", "--eta -1", ">= 0"},
      {"eval", "--batch 0", "1..65536"},         {"eval", "--t-samples -1", "0..1048576"},
      {"eval", "--seed x", "0..2^63-1"},         {"compare", "--n 5000", "1..4096"},
      {"compare", "--timing-n 0", "1..256"},     {"compare", "--t-samples -2", "0..1048576"},
      {"compare", "--steps 0", "1..2^40"},       {"compare", "--seed -3", "0..2^63-1"},
      {"train", "--model pixelcnn --batch 0", "1..1048576"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gmt_run_result r = gmt_genmoji(NULL, "%s %s", cases[i].cmd, cases[i].args);
    ck_assert_msg(r.code == 2 && strstr(r.err, cases[i].range), "%s %s: exit %d, want 2 naming %s: %s",
                  cases[i].cmd, cases[i].args, r.code, cases[i].range, r.err);
    gmt_run_free(&r);
    r = gmt_genmoji(NULL, "%s --help", cases[i].cmd);
    ck_assert_msg(r.code == 0 && strstr(r.out, cases[i].range), "%s --help does not show %s",
                  cases[i].cmd, cases[i].range);
    gmt_run_free(&r);
  }
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("cli");
  TCase *host = tcase_create("host");
  tcase_add_test(host, version_prints_both_versions);
  tcase_add_test(host, help_lists_every_command_with_its_summary);
  tcase_add_test(host, no_command_shows_the_help);
  tcase_add_test(host, every_command_answers_help_with_exit_0);
  tcase_add_test(host, unknown_command_exits_2_with_a_hint);
  tcase_add_test(host, bad_usage_exits_2_with_one_line_and_a_hint);
  tcase_add_test(host, plugin_path_adds_frontends_and_their_commands);
  suite_add_tcase(s, host);
  TCase *devices = tcase_create("devices");
  tcase_add_test(devices, devices_json_lists_devices_with_exactly_one_selected);
  tcase_add_test(devices, devices_text_marks_the_selected_device);
  tcase_add_test(devices, devices_bad_index_exits_1_naming_what_was_found);
  tcase_add_test(devices, devices_without_any_platform_exits_1_with_the_engines_message);
  suite_add_tcase(s, devices);
  TCase *plugins = tcase_create("plugins");
  tcase_add_test(plugins, plugins_json_lists_the_cli_frontend);
  tcase_add_test(plugins, plugins_shows_refused_modules_with_the_reason);
  suite_add_tcase(s, plugins);
  TCase *paths = tcase_create("paths");
  tcase_set_timeout(paths, 600);
  tcase_add_test(paths, an_output_that_is_an_input_exits_2_and_writes_nothing);
  tcase_add_test(paths, forward_metadata_is_valid_utf8_whatever_the_path);
  tcase_add_test(paths, train_saves_its_checkpoint_whatever_the_data_path);
  suite_add_tcase(s, paths);
  TCase *values = tcase_create("option values");
  tcase_set_timeout(values, 600);
  tcase_add_test(values, invalid_option_values_exit_2_with_the_help_range_and_create_nothing);
  tcase_add_test(values, loader_options_are_usage_errors_where_the_loader_does_not_take_them);
  tcase_add_test(values, a_too_large_n_names_the_tensor_limit);
  tcase_add_test(values, command_option_errors_state_the_range_help_shows);
  suite_add_tcase(s, values);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
