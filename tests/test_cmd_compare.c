/* `genmoji compare` end to end through the built executable, with both real model plugins
 * at tiny sizes on a small PNG folder the test writes: every report file exists,
 * metrics.json has every metric for both models, index.html and report.md reference only
 * files that exist (and nothing outside the folder), the grids come back from the
 * checkpoints with `genmoji sample`, the reference samplers are measured or extrapolated
 * as the limit says (with the pass counts the plugins document), and SIGINT leaves a
 * partial report. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"


extern char **environ;

/* Both models at test size, on 16x16 images (so that the naive PixelCNN runs in seconds). */
static const char *const TINY[] = {"--size",
                                   "16",
                                   "--heldout",
                                   "0.25",
                                   "--t-samples",
                                   "2",
                                   "--timing-n",
                                   "1",
                                   "--set-pixelcnn",
                                   "width=6",
                                   "--set-pixelcnn",
                                   "layers=2",
                                   "--set-pixelcnn",
                                   "kernel=3",
                                   "--set-ddpm",
                                   "ch=8",
                                   "--set-ddpm",
                                   "mult=1,2",
                                   "--set-ddpm",
                                   "blocks=1",
                                   "--set-ddpm",
                                   "attn=none",
                                   "--set-ddpm",
                                   "timesteps=20",
                                   NULL};


typedef struct child {
  pid_t pid;
  char out[1200], err[1200];
} child;

/* Starts genmoji with the arguments of up to three NULL-terminated lists (each may be
 * NULL), stdout and stderr into files named after tag. */
static child start(const char *tag, const char *const *a, const char *const *b,
                   const char *const *c) {
  child ch;
  snprintf(ch.out, sizeof ch.out, "%s/%s.out", gmt_tmpdir(), tag);
  snprintf(ch.err, sizeof ch.err, "%s/%s.err", gmt_tmpdir(), tag);
  const char *const *lists[] = {a, b, c};
  char *argv[96];
  int n = 0;
  argv[n++] = GMT_GENMOJI;
  for (int l = 0; l < 3; l++)
    for (int i = 0; lists[l] && lists[l][i]; i++) argv[n++] = (char *)lists[l][i];
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, ch.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, ch.err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ck_assert_int_eq(posix_spawn(&ch.pid, GMT_GENMOJI, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  return ch;
}

/* Waits for the child; returns its exit code (fails the test if a signal killed it). */
static int finish(const child *c, char **out, char **err) {
  int status = 0;
  ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
  *out = gmt_slurp(c->out, NULL);
  *err = gmt_slurp(c->err, NULL);
  ck_assert_msg(WIFEXITED(status), "genmoji died of signal %d: %s",
                WIFSIGNALED(status) ? WTERMSIG(status) : 0, *err);
  return WEXITSTATUS(status);
}

/* `genmoji compare` with args, the tiny models, then more; returns the exit code. */
static int run(const char *tag, const char *const *args, const char *const *more, char **out,
               char **err) {
  child c = start(tag, args, TINY, more);
  return finish(&c, out, err);
}

static cJSON *read_metrics(const char *dir) {
  char path[1300];
  snprintf(path, sizeof path, "%s/metrics.json", dir);
  char *text = gmt_slurp(path, NULL);
  ck_assert_msg(text != NULL, "no %s", path);
  cJSON *o = cJSON_Parse(text);
  free(text);
  ck_assert_msg(cJSON_IsObject(o), "%s is not a JSON object", path);
  return o;
}

static void assert_file(const char *dir, const char *name) {
  char path[1400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat st;
  ck_assert_msg(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0,
                "missing or empty: %s", path);
}

/* Every attribute value `attr`="..." (HTML) or ](...) link (Markdown) in text names a
 * file that exists in dir; none points outside it. Returns how many it checked. */
static int check_refs(const char *dir, const char *text, const char *open, char close) {
  int n = 0;
  for (const char *p = strstr(text, open); p; p = strstr(p, open)) {
    p += strlen(open);
    const char *end = strchr(p, close);
    ck_assert_msg(end != NULL, "unterminated reference after '%s'", open);
    char ref[1024];
    snprintf(ref, sizeof ref, "%.*s", (int)(end - p), p);
    ck_assert_msg(!strstr(ref, "://") && ref[0] != '/' && strncmp(ref, "..", 2) != 0,
                  "reference outside the report: %s", ref);
    assert_file(dir, ref);
    n++;
  }
  return n;
}

static void check_html_and_md(const char *dir) {
  char path[1300];
  snprintf(path, sizeof path, "%s/index.html", dir);
  char *html = gmt_slurp(path, NULL);
  ck_assert(html != NULL);
  ck_assert_msg(!strstr(html, "http://") && !strstr(html, "https://"), "an external URL");
  int refs = check_refs(dir, html, "src=\"", '"') + check_refs(dir, html, "href=\"", '"');
  ck_assert_int_ge(refs, 3);
  free(html);
  snprintf(path, sizeof path, "%s/report.md", dir);
  char *md = gmt_slurp(path, NULL);
  ck_assert(md != NULL);
  ck_assert_int_ge(check_refs(dir, md, "](", ')'), 2);
  free(md);
}

static void assert_same_pixels(const char *a, const char *b) {
  gm_image x, y;
  gm_error err = {0};
  memset(&x, 0, sizeof x);
  memset(&y, 0, sizeof y);
  gmt_ok(gm_png_read(a, &x, &err), &err);
  gmt_ok(gm_png_read(b, &y, &err), &err);
  ck_assert_int_eq(x.width, y.width);
  ck_assert_int_eq(x.height, y.height);
  ck_assert_msg(memcmp(x.rgba, y.rgba, (size_t)x.width * (size_t)x.height * 4) == 0,
                "%s and %s differ", a, b);
  gm_image_free(&x);
  gm_image_free(&y);
}

/* The fields of one model that every complete run has. */
static void check_model(const cJSON *root, const char *name, int steps, int n) {
  char key[256];
  const cJSON *m = gmt_json_at(gmt_json_at(root, "models"), name);
#define K(path) (snprintf(key, sizeof key, "%s", path), key)
  ck_assert_str_eq(gmt_json_str(m, K("training.status")), "done");
  ck_assert_int_eq((int)gmt_json_num(m, K("training.steps")), steps);
  ck_assert(gmt_json_num(m, K("training.images_seen")) >= steps);
  ck_assert(gmt_json_num(m, K("training.images_per_s")) > 0);
  ck_assert(isfinite(gmt_json_num(m, K("training.loss"))));
  ck_assert(isfinite(gmt_json_num(m, K("training.loss_smoothed"))));
  ck_assert(gmt_json_num(m, K("training.wall_s")) > 0);
  ck_assert(gmt_json_num(m, K("parameters")) > 0);
  ck_assert_str_eq(gmt_json_str(m, K("sampling.status")), "done");
  ck_assert_int_eq((int)gmt_json_num(m, K("sampling.n")), n);
  ck_assert(strlen(gmt_json_str(m, K("sampling.sampler"))) > 0);
  ck_assert(gmt_json_num(m, K("sampling.seconds_per_image")) > 0);
  ck_assert(gmt_json_num(m, K("sampling.evaluations_per_image")) > 0);
  ck_assert_str_eq(gmt_json_str(m, K("likelihood.status")), "done");
  double bpd = gmt_json_num(m, K("likelihood.bits_per_dim"));
  ck_assert_msg(bpd > 0 && bpd < 100, "%s: %g bits/dim", name, bpd);
  ck_assert_int_eq((int)gmt_json_num(m, K("likelihood.images")), 2);
  ck_assert_str_eq(gmt_json_str(m, K("sampler_costs.status")), "done");
  ck_assert_int_eq(cJSON_GetArraySize(gmt_json_at(m, K("sampler_costs.samplers"))), 2);
  double js = gmt_json_num(m, K("colour.js_bits")), tv = gmt_json_num(m, K("colour.tv"));
  ck_assert(js >= 0 && js <= 1 && tv >= 0 && tv <= 1);
  ck_assert_int_eq(cJSON_GetArraySize(gmt_json_at(m, K("colour.mean"))), 3);
  ck_assert_int_eq(cJSON_GetArraySize(gmt_json_at(m, K("colour.std"))), 3);
  ck_assert(gmt_json_num(m, K("novelty.nearest_min")) >= 0);
  ck_assert(gmt_json_num(m, K("novelty.nearest_median")) >= gmt_json_num(m, K("novelty.nearest_min")));
  double share = gmt_json_num(m, K("novelty.near_copy_share"));
  ck_assert(share >= 0 && share <= 1);
  ck_assert_int_eq(cJSON_GetArraySize(gmt_json_at(m, K("novelty.nearest"))), n);
  ck_assert_int_eq(cJSON_GetArraySize(gmt_json_at(m, K("novelty.pairs"))), n < 8 ? n : 8);
  ck_assert(gmt_json_num(m, K("diversity.mean_pairwise")) >= 0);
  ck_assert(gmt_json_num(m, K("diversity.training_set")) > 0);
  if (n >= 4) { /* precision and recall need more than k = 3 images */
    ck_assert_int_eq((int)gmt_json_num(m, K("quality.images")), n);
    ck_assert(isfinite(gmt_json_num(m, K("quality.kid"))));
    ck_assert(gmt_json_num(m, K("quality.kid_stderr")) >= 0);
    ck_assert(gmt_json_num(m, K("quality.fd")) >= 0);
    double p = gmt_json_num(m, K("quality.precision")), r = gmt_json_num(m, K("quality.recall"));
    ck_assert_msg(p >= 0 && p <= 1 && r >= 0 && r <= 1, "%s: precision %g, recall %g", name, p, r);
  } else {
    ck_assert(cJSON_IsNull(gmt_json_at(m, K("quality"))));
    ck_assert_msg(strstr(gmt_json_str(m, K("quality_note")), "samples; the sample-quality"),
                  "%s", gmt_json_str(m, K("quality_note")));
  }
#undef K
}

/* The reference sampler's cost: measured or not, and the documented pass count. */
static const cJSON *reference_cost(const cJSON *root, const char *name) {
  const cJSON *list = gmt_json_at(gmt_json_at(gmt_json_at(root, "models"), name), "sampler_costs.samplers");
  const cJSON *slow = cJSON_GetArrayItem(list, 1);
  ck_assert(slow != NULL);
  ck_assert_msg(gmt_json_num(slow, "evaluations_per_image") == gmt_json_num(slow, "estimate_evaluations_per_image"),
                "%s %s: %g evaluations per image, the estimate said %g", name, gmt_json_str(slow, "sampler"),
                gmt_json_num(slow, "evaluations_per_image"), gmt_json_num(slow, "estimate_evaluations_per_image"));
  return slow;
}

START_TEST(compare_writes_every_file_and_every_metric_for_both_models) {
  char out[1200];
  snprintf(out, sizeof out, "%s", gmt_path_in("full"));
  const char *args[] = {"compare", "--data", gmt_fruit_pictures(), "--out",          out,   "--steps",
                        "3",       "--n",    "4",        "--timing-limit", "10m", NULL};
  char *so, *se;
  int code = run("full", args, NULL, &so, &se);
  ck_assert_msg(code == 0, "exit %d: %s", code, se);
  ck_assert_msg(strstr(so, "report: ") && strstr(so, "index.html"), "%s", so);
  ck_assert_msg(strstr(se, "[8/8 timing samplers of ddpm"), "no progress for every phase: %s", se);
  free(so);
  free(se);
  const char *files[] = {"index.html",
                         "report.md",
                         "metrics.json",
                         "loss.svg",
                         "train.png",
                         "pixelcnn/samples.png",
                         "pixelcnn/nearest.png",
                         "pixelcnn/last.safetensors",
                         "pixelcnn/metrics.jsonl",
                         "ddpm/samples.png",
                         "ddpm/nearest.png",
                         "ddpm/last.safetensors",
                         "ddpm/metrics.jsonl",
                         NULL};
  for (int i = 0; files[i]; i++) assert_file(out, files[i]);
  cJSON *root = read_metrics(out);
  ck_assert_str_eq(gmt_json_str(root, "status"), "complete");
  ck_assert_str_eq(gmt_json_str(root, "format"), "genmoji-compare-1");
  ck_assert(strstr(gmt_json_str(root, "command"), "genmoji compare --data"));
  ck_assert(strstr(gmt_json_str(root, "full_command"), "--models pixelcnn,ddpm"));
  ck_assert(strstr(gmt_json_str(root, "full_command"), "--preset pixelcnn=gated"));
  ck_assert(strstr(gmt_json_str(root, "full_command"), "--set ddpm.ch=8"));
  ck_assert(strlen(gmt_json_str(root, "device.name")) > 0);
  ck_assert_int_eq((int)gmt_json_num(root, "data.train_images"), 10);
  ck_assert_int_eq((int)gmt_json_num(root, "data.heldout_images"), 2);
  ck_assert(gmt_json_num(root, "data.heldout") == 0.25);
  ck_assert(gmt_json_num(root, "baselines.uniform_bits_per_dim") == 4.0);
  double hist = gmt_json_num(root, "baselines.histogram_bits_per_dim");
  ck_assert_msg(hist > 0 && hist < 8, "histogram baseline %g", hist);
  ck_assert(gmt_json_num(root, "training_set.diversity") > 0);
  ck_assert_int_eq(cJSON_GetArraySize(gmt_json_at(root, "training_set.colour.mean")), 3);
  check_model(root, "pixelcnn", 3, 4);
  check_model(root, "ddpm", 3, 4);
  /* the shipped feature network, found from the source tree; 2 held-out images are too
   * few for a floor */
  ck_assert(strstr(gmt_json_str(root, "quality.features"), "featnet-v1.safetensors"));
  ck_assert_int_eq((int)gmt_json_num(root, "quality.train_images"), 10);
  ck_assert(cJSON_IsNull(gmt_json_at(root, "quality.floor")));
  ck_assert(strstr(gmt_json_str(root, "full_command"), "--features "));
  ck_assert_str_eq(gmt_json_str(root, "models.pixelcnn.likelihood.kind"), "exact");
  ck_assert_str_eq(gmt_json_str(root, "models.ddpm.likelihood.kind"), "bound");
  ck_assert_int_eq((int)gmt_json_num(root, "models.ddpm.likelihood.t_samples"), 2);
  /* within the limit, both reference samplers ran; the naive PixelCNN draws what the
   * cached one draws */
  const cJSON *naive = reference_cost(root, "pixelcnn");
  ck_assert_str_eq(gmt_json_str(naive, "sampler"), "naive");
  ck_assert(cJSON_IsTrue(gmt_json_at(naive, "measured")));
  ck_assert(cJSON_IsTrue(gmt_json_at(naive, "identical_to_first")));
  ck_assert_int_eq((int)gmt_json_num(naive, "evaluations_per_image"), 16 * 16 * 3);
  const cJSON *ancestral = reference_cost(root, "ddpm");
  ck_assert(cJSON_IsTrue(gmt_json_at(ancestral, "measured")));
  ck_assert_int_eq((int)gmt_json_num(ancestral, "evaluations_per_image"), 20);
  cJSON_Delete(root);
  check_html_and_md(out);
  char *md = gmt_slurp(gmt_path_in("full/report.md"), NULL);
  const char *summary = md ? strstr(md, "## Summary") : NULL;
  ck_assert_msg(summary && strstr(summary, "KID x1000") &&
                    strstr(summary, "KID x1000") < strstr(summary, "bits/dim") &&
                    summary < strstr(md, "## The question"),
                "the report does not lead with the sample quality: %s", md);
  free(md);
  char *svg = gmt_slurp(gmt_path_in("full/loss.svg"), NULL);
  ck_assert(svg && strstr(svg, "<polyline") && strstr(svg, "training time") &&
            strstr(svg, "cross-entropy") && strstr(svg, "mean squared error"));
  free(svg);
  /* the grids come back from the checkpoints alone, as the report says */
  const char *names[] = {"pixelcnn", "ddpm"};
  for (int i = 0; i < 2; i++) {
    char ckpt[1300], grid[1300], again[1300];
    snprintf(ckpt, sizeof ckpt, "%s/%s/last.safetensors", out, names[i]);
    snprintf(grid, sizeof grid, "%s/%s/samples.png", out, names[i]);
    snprintf(again, sizeof again, "%s/again-%s.png", gmt_tmpdir(), names[i]);
    const char *sargs[] = {"sample", "--checkpoint", ckpt,  "--n",     "4", "--seed",
                           "0",      "--out",        again, "--quiet", NULL};
    child c = start("sample", sargs, NULL, NULL);
    char *o, *e;
    code = finish(&c, &o, &e);
    ck_assert_msg(code == 0, "sample exit %d: %s", code, e);
    free(o);
    free(e);
    assert_same_pixels(grid, again);
  }
  /* and the held-out figures with `genmoji eval` */
  cJSON *again = read_metrics(out);
  for (int i = 0; i < 2; i++) {
    char ckpt[1300], key[128];
    snprintf(ckpt, sizeof ckpt, "%s/%s/last.safetensors", out, names[i]);
    const char *eargs[] = {"eval", "--checkpoint", ckpt, "--data", gmt_fruit_pictures(), "--heldout", "0.25",
                           "--size", "16", "--t-samples", "2", "--seed", "0", "--json", NULL};
    child c = start("eval", eargs, NULL, NULL);
    char *o, *e;
    code = finish(&c, &o, &e);
    ck_assert_msg(code == 0, "eval exit %d: %s", code, e);
    cJSON *ev = cJSON_Parse(o);
    snprintf(key, sizeof key, "models.%s.likelihood.bits_per_dim", names[i]);
    ck_assert_msg(fabs(gmt_json_num(ev, "bits_per_dim") - gmt_json_num(again, key)) < 1e-9,
                  "%s: eval says %.9g, compare said %.9g", names[i], gmt_json_num(ev, "bits_per_dim"),
                  gmt_json_num(again, key));
    cJSON_Delete(ev);
    free(o);
    free(e);
  }
  cJSON_Delete(again);
}
END_TEST

START_TEST(compare_extrapolates_reference_samplers_over_the_limit_and_prints_json) {
  char out[1200];
  snprintf(out, sizeof out, "%s", gmt_path_in("extrapolated"));
  const char *args[] = {"compare", "--data", gmt_fruit_pictures(),       "--out", out,      "--steps", "2",
                        "--n",     "2",      "--timing-limit", "0",     "--json", "--quiet", NULL};
  const char *more[] = {"--heldout", "0.5", NULL}; /* after TINY's: enough for a floor */
  char *so, *se;
  int code = run("extrapolated", args, more, &so, &se);
  ck_assert_msg(code == 0, "exit %d: %s", code, se);
  ck_assert_msg(se[0] == '\0', "--quiet printed: %s", se);
  cJSON *printed = cJSON_Parse(so);
  ck_assert_msg(cJSON_IsObject(printed), "--json did not print an object: %s", so);
  ck_assert_str_eq(gmt_json_str(printed, "status"), "complete");
  cJSON_Delete(printed);
  free(so);
  free(se);
  cJSON *root = read_metrics(out);
  const char *names[] = {"pixelcnn", "ddpm"};
  for (int i = 0; i < 2; i++) {
    const cJSON *slow = reference_cost(root, names[i]);
    ck_assert(cJSON_IsFalse(gmt_json_at(slow, "measured")));
    ck_assert_msg(strncmp(gmt_json_str(slow, "method"), "extrapolated", 12) == 0, "%s", gmt_json_str(slow, "method"));
    ck_assert(gmt_json_num(slow, "seconds_per_image") > 0);
    ck_assert(!cJSON_GetObjectItemCaseSensitive(slow, "identical_to_first"));
  }
  int held = (int)gmt_json_num(root, "data.heldout_images");
  ck_assert_msg(held >= 4, "%d held-out images", held);
  ck_assert_int_eq((int)gmt_json_num(root, "quality.floor.images"), held);
  ck_assert(isfinite(gmt_json_num(root, "quality.floor.kid")));
  ck_assert(gmt_json_num(root, "quality.floor.precision") >= 0);
  /* 2 samples are too few for quality rows, and the models say so */
  ck_assert(cJSON_IsNull(gmt_json_at(root, "models.pixelcnn.quality")));
  ck_assert_msg(strstr(gmt_json_str(root, "models.ddpm.quality_note"), "2 samples"), "%s",
                gmt_json_str(root, "models.ddpm.quality_note"));
  cJSON_Delete(root);
  check_html_and_md(out);
  char path[1300];
  snprintf(path, sizeof path, "%s/index.html", out);
  char *html = gmt_slurp(path, NULL);
  ck_assert_msg(strstr(html, "(extrapolated)"), "the table does not mark extrapolated costs");
  free(html);
}
END_TEST

START_TEST(sigint_during_training_leaves_a_partial_report_and_exits_0) {
  char out[1200], jsonl[1300];
  snprintf(out, sizeof out, "%s", gmt_path_in("stopped"));
  snprintf(jsonl, sizeof jsonl, "%s/pixelcnn/metrics.jsonl", out);
  const char *args[] = {"compare", "--data", gmt_fruit_pictures(), "--out", out,
                        "--time",  "10m",    "--n",      "2",     NULL};
  /* a default feature network that is not there: a note in the report, no failure */
  setenv("GM_FEATURES", "/nonexistent/featnet.safetensors", 1);
  child c = start("stopped", args, TINY, NULL);
  unsetenv("GM_FEATURES");
  /* wait for a logged step (the kernels may need compiling first) */
  double t0 = gmt_now_s();
  struct stat st;
  while ((stat(jsonl, &st) != 0 || st.st_size == 0) && gmt_now_s() - t0 < 240) {
    int status;
    ck_assert_msg(waitpid(c.pid, &status, WNOHANG) == 0, "genmoji compare ended early");
    nanosleep(&(struct timespec){0, 50000000}, NULL);
  }
  ck_assert_msg(stat(jsonl, &st) == 0 && st.st_size > 0, "no training step after 240 s");
  ck_assert_int_eq(kill(c.pid, SIGINT), 0);
  char *so, *se;
  int code = finish(&c, &so, &se);
  ck_assert_msg(code == 0, "exit %d: %s", code, se);
  ck_assert_msg(strstr(se, "stopped by SIGINT during training PixelCNN"), "%s", se);
  free(so);
  free(se);
  assert_file(out, "pixelcnn/last.safetensors");
  cJSON *root = read_metrics(out);
  ck_assert_str_eq(gmt_json_str(root, "status"), "stopped");
  ck_assert_str_eq(gmt_json_str(root, "stopped_in"), "training PixelCNN");
  ck_assert_str_eq(gmt_json_str(root, "models.pixelcnn.training.status"), "stopped");
  ck_assert(gmt_json_num(root, "models.pixelcnn.training.steps") >= 1);
  ck_assert_str_eq(gmt_json_str(root, "models.ddpm.training.status"), "not run");
  ck_assert_str_eq(gmt_json_str(root, "models.pixelcnn.sampling.status"), "not run");
  ck_assert_str_eq(gmt_json_str(root, "models.ddpm.likelihood.status"), "not run");
  ck_assert(!cJSON_GetObjectItemCaseSensitive(gmt_json_at(root, "models.pixelcnn"), "colour"));
  ck_assert_msg(strstr(gmt_json_str(root, "quality.note"),
                       "no feature network at /nonexistent/featnet.safetensors"),
                "%s", gmt_json_str(root, "quality.note"));
  cJSON_Delete(root);
  check_html_and_md(out);
  char path[1300];
  snprintf(path, sizeof path, "%s/report.md", out);
  char *md = gmt_slurp(path, NULL);
  ck_assert_msg(strstr(md, "Stopped by Ctrl-C during training PixelCNN") &&
                    strstr(md, "Not sampled (not run)"),
                "%s", md);
  free(md);
}
END_TEST

START_TEST(compare_refuses_bad_options_and_a_used_folder) {
  char out[1200];
  snprintf(out, sizeof out, "%s", gmt_path_in("used"));
  ck_assert_int_eq(mkdir(out, 0777), 0);
  char keep[1300];
  snprintf(keep, sizeof keep, "%s/keep.txt", out);
  FILE *f = fopen(keep, "w");
  fputs("mine\n", f);
  fclose(f);
  static const struct {
    const char *args[10];
    int code;
    const char *msg;
  } cases[] = {
      {{"compare", "--time", "soon", NULL}, 2, "--time: \"soon\" is not a duration"},
      {{"compare", "--time", "1m", "--steps", "3", NULL}, 2, "give one budget"},
      {{"compare", "--n", "0", NULL}, 2, "--n: \"0\" is not an integer"},
      {{"compare", "--preset-ddpm", "nope", NULL}, 2, "ddpm: "},
      {{"compare", "--set-pixelcnn", "width", NULL}, 2, "is not NAME.KEY=VALUE"},
      {{"compare", "--set", "pixelcnn.=3", NULL}, 2, "is not NAME.KEY=VALUE"},
      {{"compare", "--preset", "seed", NULL}, 2, "is not NAME=PRESET"},
      {{"compare", "extra", NULL}, 2, "unexpected argument 'extra'"},
      {{"compare", "--models", "pixelcnn,nosuchmodel", NULL}, 2, "nosuchmodel"},
      {{"compare", "--models", "ddpm,ddpm", NULL}, 2, "ddpm is listed twice"},
      {{"compare", "--models", "pixelcnn,,ddpm", NULL}, 2, "not a comma-separated list"},
      {{"compare", "--models", "ddpm", "--preset", "pixelcnn=seed", NULL}, 2,
       "model 'pixelcnn' is not compared (--models ddpm)"},
      {{"compare", "--set-ddpm", "ch=8", "--models", "pixelcnn", NULL}, 2,
       "model 'ddpm' is not compared"},
      {{"compare", "--features", "/nonexistent/f.safetensors", NULL}, 1,
       "--features /nonexistent/f.safetensors: No such file"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *so, *se;
    child c = start("bad", cases[i].args, NULL, NULL);
    int code = finish(&c, &so, &se);
    ck_assert_msg(code == cases[i].code && strstr(se, cases[i].msg), "case %zu: exit %d: %s", i,
                  code, se);
    free(so);
    free(se);
  }
  const char *args[] = {"compare", "--data", gmt_fruit_pictures(), "--out", out, "--steps", "1", NULL};
  char *so, *se;
  int code = run("used", args, NULL, &so, &se);
  ck_assert_msg(code == 1 && strstr(se, "not empty"), "exit %d: %s", code, se);
  free(so);
  free(se);
  char *kept = gmt_slurp(keep, NULL);
  ck_assert_str_eq(kept, "mine\n");
  free(kept);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("cmd_compare");
  TCase *tc = tcase_create("cmd_compare");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, compare_refuses_bad_options_and_a_used_folder);
  tcase_add_test(tc, compare_writes_every_file_and_every_metric_for_both_models);
  tcase_add_test(tc, compare_extrapolates_reference_samplers_over_the_limit_and_prints_json);
  tcase_add_test(tc, sigint_during_training_leaves_a_partial_report_and_exits_0);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
