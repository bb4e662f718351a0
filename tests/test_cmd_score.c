/* `genmoji features train` and `genmoji score` through the executable: a briefly trained
 * feature network on the system's emoji font and the shipped one, real faces scoring
 * close to the data and noise far from it, grids split into cells, and bad input refused
 * naming the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clitest.h"
#include "genmoji/gm.h"

/* A feature network trained for a few steps (once per process). */
static const char *features(void) {
  static char path[1200];
  if (path[0]) return path;
  snprintf(path, sizeof path, "%s", gmt_path_in("featnet.safetensors"));
  gmt_run_result r =
      gmt_genmoji(NULL, "features train --steps 30 --batch 16 --out '%s' --json", path);
  ck_assert_msg(r.code == 0, "features train: exit %d: %s", r.code, r.err);
  cJSON *o = cJSON_Parse(r.out);
  ck_assert_msg(o, "not JSON: %s", r.out);
  ck_assert_msg(gmt_json_num(o, "classes") > 50, "%s", r.out);
  ck_assert_msg(gmt_json_num(o, "images") > 1000, "%s", r.out);
  ck_assert_msg(gmt_json_num(o, "test_images") > 100, "%s", r.out);
  double acc = gmt_json_num(o, "test_accuracy");
  ck_assert_msg(acc >= 0 && acc <= 1, "%s", r.out);
  cJSON_Delete(o);
  gmt_run_free(&r);
  return path;
}

/* count PNGs of uniform noise in a fresh folder. */
static const char *noise_folder(int count) {
  static char dir[1200];
  snprintf(dir, sizeof dir, "%s", gmt_path_in("noise"));
  mkdir(dir, 0755);
  gmt_rng g;
  gmt_rng_seed(&g, 3);
  uint8_t px[32 * 32 * 3];
  for (int i = 0; i < count; i++) {
    for (size_t k = 0; k < sizeof px; k++) px[k] = (uint8_t)gmt_uniform(&g, 0, 256);
    char path[1300];
    snprintf(path, sizeof path, "%s/%03d.png", dir, i);
    gm_error err = {0};
    gmt_ok(gm_png_write(path, px, 32, 32, 3, &err), &err);
  }
  return dir;
}

static cJSON *score_json(const char *images, const char *extra) {
  gmt_run_result r = gmt_genmoji(NULL, "score --images '%s' --features '%s' %s --json", images,
                                 features(), extra);
  ck_assert_msg(r.code == 0, "score: exit %d: %s", r.code, r.err);
  cJSON *o = cJSON_Parse(r.out);
  ck_assert_msg(o, "not JSON: %s", r.out);
  gmt_run_free(&r);
  return o;
}

START_TEST(real_faces_score_near_the_data_and_noise_far) {
  if (!gmt_have_noto(__func__)) return;
  char faces[1200];
  snprintf(faces, sizeof faces, "%s", gmt_path_in("faces"));
  gmt_run_result r = gmt_genmoji(NULL, "dataset --subset faces --yellow --export '%s'", faces);
  ck_assert_msg(r.code == 0, "%s", r.err);
  gmt_run_free(&r);
  cJSON *real = score_json(faces, "--subset faces --yellow");
  cJSON *noise = score_json(noise_folder(40), "--subset faces --yellow");
  ck_assert_int_eq((int)gmt_json_num(real, "images"), 95);
  ck_assert_int_eq((int)gmt_json_num(noise, "images"), 40);
  ck_assert_int_eq((int)gmt_json_num(real, "reference.train_images"), 87);
  ck_assert_int_eq((int)gmt_json_num(real, "reference.heldout_images"), 8);
  ck_assert_msg(gmt_json_num(noise, "kid") > gmt_json_num(real, "kid") + 10 * gmt_json_num(noise, "kid_stderr"),
                "noise KID %g vs real %g", gmt_json_num(noise, "kid"), gmt_json_num(real, "kid"));
  ck_assert_msg(gmt_json_num(noise, "fd") > 2 * gmt_json_num(real, "fd"), "FD");
  /* precision needs a trained network (the shipped one's test): after 30 steps the
   * unit-length features of noise and faces still point nearly the same way */
  ck_assert_msg(gmt_json_num(real, "recall") > 0.5, "recall of the data itself");
  ck_assert_msg(cJSON_IsObject(gmt_json_at(real, "floor")), "no floor");
  gmt_json_num(real, "floor.kid_stderr");
  cJSON_Delete(real);
  cJSON_Delete(noise);
}
END_TEST

/* Without --features, the network shipped in data/ (when no cache file and no
 * GM_FEATURES): the held-out faces score near the training faces, noise far, on every
 * metric. */
START_TEST(the_shipped_network_tells_faces_from_noise) {
  if (!gmt_have_noto(__func__)) return;
  char faces[1200], env[1400];
  snprintf(faces, sizeof faces, "%s", gmt_path_in("faces2"));
  gmt_run_result r = gmt_genmoji(NULL, "dataset --subset faces --yellow --export '%s'", faces);
  ck_assert_msg(r.code == 0, "%s", r.err);
  gmt_run_free(&r);
  snprintf(env, sizeof env, "env -u XDG_CACHE_HOME -u GM_FEATURES HOME='%s'", gmt_path_in("home"));
  r = gmt_genmoji(env, "score --images '%s' --subset faces --yellow --json", noise_folder(40));
  ck_assert_msg(r.code == 0, "score: exit %d: %s", r.code, r.err);
  cJSON *noise = cJSON_Parse(r.out);
  ck_assert_ptr_nonnull(noise);
  gmt_run_free(&r);
  const char *file = gmt_json_str(noise, "features");
  ck_assert_msg(strstr(file, "data/featnet-v1.safetensors"), "features from %s", file);
  double floor_kid = gmt_json_num(noise, "floor.kid"), floor_se = gmt_json_num(noise, "floor.kid_stderr");
  ck_assert_msg(gmt_json_num(noise, "kid") > floor_kid + 10 * (floor_se + gmt_json_num(noise, "kid_stderr")),
                "noise KID %g vs held-out %g", gmt_json_num(noise, "kid"), floor_kid);
  ck_assert_msg(gmt_json_num(noise, "fd") > 2 * gmt_json_num(noise, "floor.fd"), "FD");
  ck_assert_msg(gmt_json_num(noise, "precision") < 0.5 &&
                gmt_json_num(noise, "floor.precision") > 0.5, "precision");
  ck_assert_msg(gmt_json_num(noise, "recall") < gmt_json_num(noise, "floor.recall"), "recall");
  cJSON_Delete(noise);
}
END_TEST

START_TEST(a_grid_is_split_into_its_cells) {
  if (!gmt_have_noto(__func__)) return;
  /* 10 noise images in a 4-column grid upscaled 2x: 4 + 4 + 2 cells, 2 empty */
  char grid[1200];
  snprintf(grid, sizeof grid, "%s", gmt_path_in("grid.png"));
  uint8_t px[10][32 * 32 * 3];
  const uint8_t *cells[10];
  gmt_rng g;
  gmt_rng_seed(&g, 4);
  for (int i = 0; i < 10; i++) {
    for (size_t k = 0; k < sizeof px[i]; k++) px[i][k] = (uint8_t)gmt_uniform(&g, 0, 256);
    cells[i] = px[i];
  }
  gm_error err = {0};
  gmt_ok(gm_png_write_grid(grid, cells, 10, 32, 32, 3, 4, 2, &err), &err);
  cJSON *o = score_json(grid, "--subset faces --yellow");
  ck_assert_int_eq((int)gmt_json_num(o, "images"), 10);
  cJSON_Delete(o);
  o = score_json(grid, "--subset faces --yellow --cell 64");
  ck_assert_int_eq((int)gmt_json_num(o, "images"), 10);
  cJSON_Delete(o);
}
END_TEST

/* The same seed gives the same file, byte for byte (fixed-order sums on the device, the
 * augmentation from the seed); another seed another one. */
START_TEST(training_is_reproducible_from_its_seed) {
  if (!gmt_have_noto(__func__)) return;
  char *files[3];
  size_t len[3];
  const int seeds[3] = {5, 5, 6};
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "det%d.safetensors", i);
    char path[1200];
    snprintf(path, sizeof path, "%s", gmt_path_in(name));
    gmt_run_result r = gmt_genmoji(NULL, "features train --steps 3 --batch 8 --seed %d --out '%s'",
                                   seeds[i], path);
    ck_assert_msg(r.code == 0, "%s", r.err);
    gmt_run_free(&r);
    files[i] = gmt_slurp(path, &len[i]);
    ck_assert_ptr_nonnull(files[i]);
  }
  ck_assert_msg(len[0] == len[1] && memcmp(files[0], files[1], len[0]) == 0,
                "seed 5 twice gave different files");
  ck_assert_msg(len[0] != len[2] || memcmp(files[0], files[2], len[0]) != 0,
                "seeds 5 and 6 gave the same file");
  for (int i = 0; i < 3; i++) free(files[i]);
}
END_TEST

START_TEST(bad_input_is_refused_naming_the_problem) {
  if (!gmt_have_noto(__func__)) return;
  gmt_run_result r = gmt_genmoji(NULL, "score --subset faces");
  ck_assert_msg(r.code == 2 && strstr(r.err, "--images"), "%d %s", r.code, r.err);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "score --images x --cell 33");
  ck_assert_msg(r.code == 2 && strstr(r.err, "multiple of 32"), "%d %s", r.code, r.err);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "score --images '%s' --features '%s'", gmt_path_in("none.png"), features());
  ck_assert_msg(r.code == 1 && strstr(r.err, "none.png"), "%d %s", r.code, r.err);
  gmt_run_free(&r);
  /* a 50 x 40 PNG is no grid of 32-pixel cells */
  uint8_t px[50 * 40 * 3] = {0};
  gm_error err = {0};
  gmt_ok(gm_png_write(gmt_path_in("odd.png"), px, 50, 40, 3, &err), &err);
  r = gmt_genmoji(NULL, "score --images '%s' --features '%s'", gmt_path_in("odd.png"), features());
  ck_assert_msg(r.code == 1 && strstr(r.err, "odd.png: 50 x 40 is neither"), "%d %s", r.code, r.err);
  gmt_run_free(&r);
  /* a file that is not a feature network */
  gmt_ok(gm_checkpoint_write(gmt_path_in("empty.safetensors"), NULL, 0, NULL, 0, &err), &err);
  r = gmt_genmoji(NULL, "score --images '%s' --features '%s'", noise_folder(5),
                  gmt_path_in("empty.safetensors"));
  ck_assert_msg(r.code == 1 && strstr(r.err, "not a feature network file"), "%d %s", r.code, r.err);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "score --images '%s' --features '%s'", noise_folder(5),
                  gmt_path_in("missing.safetensors"));
  ck_assert_msg(r.code == 1 && strstr(r.err, "features train"), "%d %s", r.code, r.err);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "features train");
  ck_assert_msg(r.code == 2 && strstr(r.err, "--out"), "%d %s", r.code, r.err);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "features fly");
  ck_assert_msg(r.code == 2 && strstr(r.err, "unknown subcommand 'fly'"), "%d %s", r.code, r.err);
  gmt_run_free(&r);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("cmd_score");
  TCase *tc = tcase_create("score");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, real_faces_score_near_the_data_and_noise_far);
  tcase_add_test(tc, the_shipped_network_tells_faces_from_noise);
  tcase_add_test(tc, a_grid_is_split_into_its_cells);
  tcase_add_test(tc, training_is_reproducible_from_its_seed);
  tcase_add_test(tc, bad_input_is_refused_naming_the_problem);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
