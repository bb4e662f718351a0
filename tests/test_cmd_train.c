/* `genmoji train`, `sample`, `eval` and `forward` end to end through the built
 * executable, on both real model plugins at tiny sizes and a small PNG folder the test
 * writes: files written, --json fields, exit codes and messages, saved noise replayed,
 * weights-only files with the study's key names loaded for the seed presets, and a
 * text-conditioned model trained on the pictures' names, then sampled from prompts and
 * evaluated with and without its texts. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clitest.h"
#include "genmoji/checkpoint.h"
#include "genmoji/text.h"


/* A model at test size, what its forward takes and gives, and keys of the study. */
typedef struct model_case {
  const char *name;
  const char *small;          /* --preset/--set arguments for a tiny network */
  const char *sample_args;    /* a quick sampler that is deterministic given its noise */
  const char *forward_out;    /* forward's output name */
  int diffusion;              /* forward takes x in [-1, 1] and t / T; else x as 0..15 */
  const char *study_keys[7];  /* state_dict keys of the study's model (seed preset) */
} model_case;

static const model_case PIXELCNN = {
    "pixelcnn", "--set width=6 --set layers=2 --set kernel=3", "--sampler cached", "logits", 0,
    {"conv1.weight", "conv1.mask", "conv2.weight", "conv4.bias", "conv_out.weight", NULL}};
static const model_case DDPM = {
    "ddpm", "--set ch=8 --set mult=1,2 --set blocks=1 --set attn=none --set timesteps=20",
    "--sampler ddim --steps 3 --eta 0", "eps", 1,
    {"time_mlp.0.weight", "encoderConv1.0.weight", "encoderConv1.1.running_mean",
     "encoderConv1.1.num_batches_tracked", "upConv2.weight", "output.weight", NULL}};


/* Runs "genmoji <args>" with stdout and stderr captured. */
#define run(...) gmt_genmoji(NULL, __VA_ARGS__)

static cJSON *json_of(const gmt_run_result *r) {
  cJSON *o = cJSON_Parse(r->out);
  ck_assert_msg(cJSON_IsObject(o), "not a JSON object: %s (stderr: %s)", r->out, r->err);
  return o;
}

/* Trains m for `steps` into out (a fresh folder) and returns the checkpoint path. */
static const char *train_small(const model_case *m, const char *out, int steps) {
  gmt_run_result r = run("train --model %s %s --data '%s' --heldout 0.25 --out '%s' --steps %d "
                     "--batch 3 --json", m->name, m->small, gmt_fruit_pictures(), out, steps);
  ck_assert_msg(r.code == 0, "train exit %d: %s", r.code, r.err);
  cJSON *o = json_of(&r);
  ck_assert_str_eq(gmt_json_str(o, "model"), m->name);
  ck_assert_int_eq((int)gmt_json_num(o, "step"), steps);
  ck_assert_int_eq((int)gmt_json_num(o, "start_step"), 0);
  ck_assert_int_eq((int)gmt_json_num(o, "images_seen"), 3 * steps);
  ck_assert(isfinite(gmt_json_num(o, "loss")));
  ck_assert(gmt_json_num(o, "images_per_s") > 0);
  ck_assert(gmt_json_num(o, "wall_s") > 0);
  ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "stopped")));
  static char ckpt[1300];
  snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out);
  ck_assert_str_eq(gmt_json_str(o, "checkpoint"), ckpt);
  cJSON_Delete(o);
  gmt_run_free(&r);
  char metrics[1300];
  snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out);
  ck_assert_msg(access(ckpt, R_OK) == 0 && access(metrics, R_OK) == 0, "%s", out);
  return ckpt;
}

static void png_size(const char *path, int *w, int *h) {
  gm_image img;
  gm_error err = {0};
  memset(&img, 0, sizeof img);
  gmt_ok(gm_png_read(path, &img, &err), &err);
  *w = img.width;
  *h = img.height;
  gm_image_free(&img);
}

/* ---- train + sample ---- */

static void train_and_sample(const model_case *m, const char *tag) {
  char out[1200], ckpt[1300];
  snprintf(out, sizeof out, "%s", gmt_path_in(tag));
  snprintf(ckpt, sizeof ckpt, "%s", train_small(m, out, 3));

  const char *grid = gmt_path_in("grid.png");
  gmt_run_result r = run("sample --checkpoint '%s' --n 5 --out '%s' %s --json", ckpt, grid,
                     m->sample_args);
  ck_assert_msg(r.code == 0, "sample exit %d: %s", r.code, r.err);
  cJSON *o = json_of(&r);
  ck_assert_int_eq((int)gmt_json_num(o, "n"), 5);
  ck_assert(gmt_json_num(o, "seconds_per_image") > 0);
  ck_assert(gmt_json_num(o, "evaluations_per_image") > 0);
  ck_assert_str_eq(gmt_json_str(o, "model"), m->name);
  /* the DDPM's default preset keeps an EMA, which sampling then uses by default */
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "use_ema")) == m->diffusion);
  cJSON_Delete(o);
  gmt_run_free(&r);
  int w, h;
  png_size(grid, &w, &h); /* 3 columns and 2 rows of 128-pixel cells, 1-pixel gaps */
  ck_assert_int_eq(w, 3 * 128 + 2);
  ck_assert_int_eq(h, 2 * 128 + 1);

  const char *folder = gmt_path_in("samples");
  r = run("sample --checkpoint '%s' --n 2 --out '%s' %s", ckpt, folder, m->sample_args);
  ck_assert_msg(r.code == 0, "sample exit %d: %s", r.code, r.err);
  ck_assert_msg(strstr(r.out, "seconds per image") && strstr(r.out, "evaluations per image"),
                "%s", r.out);
  gmt_run_free(&r);
  for (int i = 0; i < 2; i++) {
    char p[1300];
    snprintf(p, sizeof p, "%s/%04d.png", folder, i);
    png_size(p, &w, &h);
    ck_assert(w == 32 && h == 32);
  }
}

START_TEST(pixelcnn_trains_then_samples_a_grid_and_a_folder) {
  train_and_sample(&PIXELCNN, "pixelcnn-run");
}
END_TEST

START_TEST(ddpm_trains_then_samples_a_grid_and_a_folder) {
  train_and_sample(&DDPM, "ddpm-run");
}
END_TEST

START_TEST(ddpm_saved_noise_replays_the_same_png) {
  const char *ckpt = train_small(&DDPM, gmt_path_in("noise-run"), 1);
  char c[1300];
  snprintf(c, sizeof c, "%s", ckpt);
  const char *noise = gmt_path_in("noise.safetensors");
  char a[1200], b[1200], d[1200];
  snprintf(a, sizeof a, "%s", gmt_path_in("noise-a.png"));
  snprintf(b, sizeof b, "%s", gmt_path_in("noise-b.png"));
  snprintf(d, sizeof d, "%s", gmt_path_in("noise-d.png"));
  gmt_run_result r = run("sample --checkpoint '%s' --n 2 --out '%s' --seed 1 --save-noise '%s' %s", c,
                     a, noise, DDPM.sample_args);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  r = run("sample --checkpoint '%s' --n 2 --out '%s' --seed 2 --noise '%s' %s", c, b, noise,
          DDPM.sample_args);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  r = run("sample --checkpoint '%s' --n 2 --out '%s' --seed 2 %s", c, d, DDPM.sample_args);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  size_t la, lb, ld;
  char *pa = gmt_slurp(a, &la), *pb = gmt_slurp(b, &lb), *pd = gmt_slurp(d, &ld);
  ck_assert(pa && pb && pd);
  ck_assert_msg(la == lb && memcmp(pa, pb, la) == 0, "the replayed noise gave another image");
  ck_assert_msg(la != ld || memcmp(pa, pd, la) != 0, "seed 2 without --noise gave seed 1's image");
  free(pa);
  free(pb);
  free(pd);
  /* the noise file holds (2, 3, 32, 32) under 'noise' */
  gm_checkpoint *ck = NULL;
  gm_error err = {0};
  gmt_ok(gm_checkpoint_open(&ck, noise, &err), &err);
  const gm_checkpoint_entry *e = gm_checkpoint_find(ck, "noise");
  ck_assert(e && e->ndim == 4 && e->shape[0] == 2 && e->shape[1] == 3 && e->shape[3] == 32);
  gm_checkpoint_close(ck);
  /* noise for another --n is refused */
  r = run("sample --checkpoint '%s' --n 3 --out '%s' --noise '%s'", c, b, noise);
  ck_assert_int_eq(r.code, 1);
  ck_assert_msg(strstr(r.err, "noise has shape (2, 3, 32, 32)"), "%s", r.err);
  gmt_run_free(&r);
}
END_TEST

/* ---- eval ---- */

START_TEST(eval_json_reports_bits_per_dim_over_the_split) {
  const model_case *cases[] = {&PIXELCNN, &DDPM};
  for (int k = 0; k < 2; k++) {
    char out[1200], ckpt[1300];
    snprintf(out, sizeof out, "%s", gmt_path_in(k ? "eval-ddpm" : "eval-pixelcnn"));
    snprintf(ckpt, sizeof ckpt, "%s", train_small(cases[k], out, 2));
    gmt_run_result r = run("eval --checkpoint '%s' --data '%s' --heldout 0.25 --t-samples 2 --json",
                       ckpt, gmt_fruit_pictures());
    ck_assert_msg(r.code == 0, "eval exit %d: %s", r.code, r.err);
    cJSON *o = json_of(&r);
    double bpd = gmt_json_num(o, "bits_per_dim");
    ck_assert_msg(isfinite(bpd) && bpd > 0, "%g bits/dim", bpd);
    ck_assert_int_eq((int)gmt_json_num(o, "images"), 2);
    ck_assert_str_eq(gmt_json_str(o, "split"), "heldout");
    ck_assert_str_eq(gmt_json_str(o, "model"), cases[k]->name);
    ck_assert(strlen(gmt_json_str(o, "preset")) > 0);
    cJSON_Delete(o);
    gmt_run_free(&r);
    r = run("eval --checkpoint '%s' --data '%s' --heldout 0.25 --split train --t-samples 1 "
            "--batch 4 --json", ckpt, gmt_fruit_pictures());
    ck_assert_msg(r.code == 0, "eval exit %d: %s", r.code, r.err);
    o = json_of(&r);
    ck_assert_int_eq((int)gmt_json_num(o, "images"), 10);
    cJSON_Delete(o);
    gmt_run_free(&r);
  }
}
END_TEST

/* ---- forward ---- */

/* IN with x (2, 3, 32, 32) (classes 0..15 for the PixelCNN, [-1, 1] for the DDPM) and,
 * for the DDPM, t (2) as t / T; written by the test. */
static const char *write_forward_input(const model_case *m) {
  gm_error err = {0};
  float x[2 * 3 * 32 * 32];
  gmt_rng rng;
  gmt_rng_seed(&rng, 5);
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
    x[i] = m->diffusion ? gmt_uniform(&rng, -1, 1) : floorf(gmt_uniform(&rng, 0, 16));
  const float t[2] = {0.05f, 0.5f};
  gm_tensor *tx = gmt_tensor_from(4, GM_SHAPE(2, 3, 32, 32), x);
  gm_tensor *tt = gmt_tensor_from(1, GM_SHAPE(2), t);
  gm_named_tensor in[2] = {{"x", tx}, {"t", tt}};
  const char *path = gmt_path_in(m->diffusion ? "in-xt.safetensors" : "in-x.safetensors");
  gmt_ok(gm_checkpoint_write(path, in, m->diffusion ? 2 : 1, NULL, 0, &err), &err);
  gm_tensor_destroy(tx);
  gm_tensor_destroy(tt);
  return path;
}

static void check_forward(const model_case *m, const char *how) {
  char in[1200];
  snprintf(in, sizeof in, "%s", write_forward_input(m));
  const char *out = gmt_path_in("out.safetensors");
  gmt_run_result r = run("forward %s --in '%s' --out '%s' --json", how, in, out);
  ck_assert_msg(r.code == 0, "forward exit %d: %s", r.code, r.err);
  cJSON *o = json_of(&r);
  const cJSON *outs = cJSON_GetObjectItemCaseSensitive(o, "outputs");
  ck_assert(cJSON_GetArraySize(outs) >= 1);
  cJSON_Delete(o);
  gmt_run_free(&r);
  gm_checkpoint *c = NULL;
  gm_error err = {0};
  gmt_ok(gm_checkpoint_open(&c, out, &err), &err);
  const gm_checkpoint_entry *e = gm_checkpoint_find(c, m->forward_out);
  ck_assert_msg(e != NULL, "no '%s' in the output", m->forward_out);
  ck_assert_int_eq(e->shape[0], 2);
  gm_tensor *t = NULL;
  gmt_ok(gm_checkpoint_read_new(c, m->forward_out, gmt_device(), &t, &err), &err);
  float *v = gmt_read(t);
  for (int64_t i = 0; i < t->numel; i++) ck_assert(isfinite(v[i]));
  free(v);
  gm_tensor_destroy(t);
  gm_checkpoint_close(c);
}

START_TEST(forward_runs_named_inputs_to_named_outputs_for_both_models) {
  const model_case *cases[] = {&PIXELCNN, &DDPM};
  for (int k = 0; k < 2; k++) {
    char out[1200], how[1400];
    snprintf(out, sizeof out, "%s", gmt_path_in(k ? "fwd-ddpm" : "fwd-pixelcnn"));
    snprintf(how, sizeof how, "--checkpoint '%s'", train_small(cases[k], out, 1));
    check_forward(cases[k], how);
  }
}
END_TEST

/* ---- weights-only files ---- */

/* The parameters of a training checkpoint alone, with no metadata: what PyTorch's
 * safetensors.torch.save_file(model.state_dict()) writes. */
static void strip_to_weights(const char *ckpt, const char *weights, const model_case *m) {
  gm_error err = {0};
  gm_checkpoint *c = NULL;
  gmt_ok(gm_checkpoint_open(&c, ckpt, &err), &err);
  int n = gm_checkpoint_count(c), k = 0;
  gm_named_tensor *t = calloc((size_t)n, sizeof *t);
  for (int i = 0; i < n; i++) {
    const char *name = gm_checkpoint_entry_at(c, i)->name;
    if (strncmp(name, "optim.", 6) == 0 || strncmp(name, "ema.", 4) == 0) continue;
    t[k].name = name;
    gmt_ok(gm_checkpoint_read_new(c, name, gmt_device(), &t[k].tensor, &err), &err);
    k++;
  }
  for (int j = 0; m->study_keys[j]; j++) {
    int found = 0;
    for (int i = 0; i < k; i++) found |= strcmp(t[i].name, m->study_keys[j]) == 0;
    ck_assert_msg(found, "%s seed preset: no study key '%s'", m->name, m->study_keys[j]);
  }
  gmt_ok(gm_checkpoint_write(weights, t, k, NULL, 0, &err), &err);
  for (int i = 0; i < k; i++) gm_tensor_destroy(t[i].tensor);
  free(t);
  gm_checkpoint_close(c);
}

START_TEST(weights_only_files_with_the_study_keys_load_for_both_seed_presets) {
  const model_case *cases[] = {&PIXELCNN, &DDPM};
  for (int k = 0; k < 2; k++) {
    const model_case *m = cases[k];
    char out[1200], weights[1200];
    snprintf(out, sizeof out, "%s", gmt_path_in(k ? "seed-ddpm" : "seed-pixelcnn"));
    snprintf(weights, sizeof weights, "%s", gmt_path_in(k ? "w-ddpm.safetensors" : "w-pixelcnn.safetensors"));
    gmt_run_result r = run("train --model %s --preset seed --data '%s' --out '%s' --steps 1 "
                       "--batch 2 --quiet", m->name, gmt_fruit_pictures(), out);
    ck_assert_msg(r.code == 0, "train exit %d: %s", r.code, r.err);
    gmt_run_free(&r);
    char ckpt[1300];
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out);
    strip_to_weights(ckpt, weights, m);
    char how[1400];
    snprintf(how, sizeof how, "--weights '%s' --model %s --preset seed", weights, m->name);
    check_forward(m, how);
    /* without metadata it is not a --checkpoint; EMA cannot be asked of it */
    r = run("sample --checkpoint '%s' --n 1 --out '%s'", weights, gmt_path_in("x.png"));
    ck_assert_int_eq(r.code, 1);
    ck_assert_msg(strstr(r.err, "--weights FILE --model NAME"), "%s", r.err);
    gmt_run_free(&r);
    r = run("forward %s --use-ema 1 --in '%s' --out '%s'", how, write_forward_input(m),
            gmt_path_in("o.safetensors"));
    ck_assert_int_eq(r.code, 1);
    ck_assert_msg(strstr(r.err, "no EMA weights"), "%s", r.err);
    gmt_run_free(&r);
    /* the wrong preset's shapes are refused naming a tensor */
    r = run("forward --weights '%s' --model %s --in '%s' --out '%s'", weights, m->name,
            write_forward_input(m), gmt_path_in("o.safetensors"));
    if (r.code != 0) ck_assert_msg(r.code == 1 && strstr(r.err, weights), "%s", r.err);
    gmt_run_free(&r);
  }
}
END_TEST

/* ---- usage and failures ---- */

START_TEST(bad_usage_exits_2_and_failures_exit_1_with_messages) {
  const char *d = gmt_fruit_pictures();
  char ok[1400];
  snprintf(ok, sizeof ok, "--data '%s' --steps 1", d);
  struct {
    const char *args, *want;
  } usage[] = {
      {"--model nosuchmodel --out /tmp/x", "no model plugin 'nosuchmodel'"},
      {"--model %s --preset nosuchpreset --out /tmp/x", "no preset 'nosuchpreset'"},
      {"--model %s --set nosuchkey=1 --out /tmp/x", "unknown option 'nosuchkey'"},
      {"--model %s --set lr=abc --out /tmp/x", "lr=abc"},
      {"--model %s --set nokeyvalue --out /tmp/x", "is not KEY=VALUE"},
      {"--model %s", "--out DIR is required"},
      {"--out /tmp/x", "--model NAME is required"},
      {"--model %s --out /tmp/x --time 5m --steps 3", "one budget"},
      {"--model %s --out /tmp/x --time soon", "--time"},
      {"--model %s --out /tmp/x --batch 0", "--batch"},
      {"--model %s --out /tmp/x --frobnicate", "unknown option '--frobnicate'"},
  };
  for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
    char args[1600];
    snprintf(args, sizeof args, usage[i].args, PIXELCNN.name);
    gmt_run_result r = run("train %s %s", args, ok);
    ck_assert_msg(r.code == 2, "train %s: exit %d (%s)", args, r.code, r.err);
    ck_assert_msg(strstr(r.err, "genmoji: train: ") && strstr(r.err, usage[i].want),
                  "train %s: %s", args, r.err);
    gmt_run_free(&r);
  }
  const char *cmds[] = {"sample --n 1 --out /tmp/x.png", "eval", "forward --in a --out b",
                        "sample --checkpoint a --weights b --out /tmp/x.png",
                        "sample --weights b --out /tmp/x.png", "sample --checkpoint a",
                        "sample --checkpoint a --model m --out /tmp/x.png",
                        "sample --checkpoint a --out x.png --n 0", "eval --checkpoint a --split x",
                        "forward --checkpoint a --in b"};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    gmt_run_result r = run("%s", cmds[i]);
    ck_assert_msg(r.code == 2, "%s: exit %d (%s)", cmds[i], r.code, r.err);
    ck_assert_msg(strstr(r.err, "genmoji: ") && strstr(r.err, "--help"), "%s: %s", cmds[i], r.err);
    gmt_run_free(&r);
  }

  /* A corrupt checkpoint is a failure naming the file. */
  const char *bad = gmt_path_in("corrupt.safetensors");
  static const char header[] = "\x40\0\0\0\0\0\0\0{\"a\": {\"dtype\": \"F32\"";
  FILE *f = fopen(bad, "wb");
  fwrite(header, 1, sizeof header - 1, f); /* claims 64 header bytes, holds fewer */
  fclose(f);
  gmt_run_result r = run("sample --checkpoint '%s' --n 1 --out '%s'", bad, gmt_path_in("c.png"));
  ck_assert_int_eq(r.code, 1);
  ck_assert_msg(strstr(r.err, "genmoji: ") && strstr(r.err, bad), "%s", r.err);
  gmt_run_free(&r);
  r = run("eval --checkpoint /no/such/file.safetensors --data '%s'", d);
  ck_assert_int_eq(r.code, 1);
  ck_assert_msg(strstr(r.err, "/no/such/file.safetensors"), "%s", r.err);
  gmt_run_free(&r);

  /* Resume: continues the count; another preset is refused; a fresh run keeps old runs. */
  char out[1200];
  snprintf(out, sizeof out, "%s", gmt_path_in("cli-resume"));
  train_small(&PIXELCNN, out, 2);
  r = run("train --model %s %s --data '%s' --heldout 0.25 --out '%s' --steps 4 --batch 3 "
          "--resume --json", PIXELCNN.name, PIXELCNN.small, d, out);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  cJSON *o = json_of(&r);
  ck_assert_int_eq((int)gmt_json_num(o, "start_step"), 2);
  ck_assert_int_eq((int)gmt_json_num(o, "step"), 4);
  cJSON_Delete(o);
  gmt_run_free(&r);
  r = run("train --model %s --preset seed --data '%s' --heldout 0.25 --out '%s' --steps 6 "
          "--batch 3 --resume", PIXELCNN.name, d, out);
  ck_assert_int_eq(r.code, 2);
  ck_assert_msg(strstr(r.err, "--preset: checkpoint gated, this run seed"), "%s", r.err);
  gmt_run_free(&r);
  r = run("train --model %s %s --data '%s' --heldout 0.25 --out '%s' --steps 6", PIXELCNN.name,
          PIXELCNN.small, d, out);
  ck_assert_int_eq(r.code, 1);
  ck_assert_msg(strstr(r.err, "already holds a run"), "%s", r.err);
  gmt_run_free(&r);
}
END_TEST

START_TEST(train_help_with_a_model_lists_its_options_presets_and_training_keys) {
  const model_case *cases[] = {&PIXELCNN, &DDPM};
  for (int k = 0; k < 2; k++) {
    gmt_run_result r = run("train --model %s --help", cases[k]->name);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    const char *want[] = {"Usage: genmoji train", "Model options", "Presets", "seed",
                          "Training keys", "hflip", "Samplers"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
      ck_assert_msg(strstr(r.out, want[i]), "no '%s' in %s", want[i], r.out);
    gmt_run_free(&r);
  }
  const char *cmds[] = {"train", "sample", "eval", "forward"};
  for (int i = 0; i < 4; i++) {
    gmt_run_result r = run("%s --help", cmds[i]);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "Usage: genmoji ") && strstr(r.out, cmds[i]), "%s", r.out);
    gmt_run_free(&r);
  }
  gmt_run_result r = run("--help");
  ck_assert_msg(strstr(r.out, "train") && strstr(r.out, "sample") && strstr(r.out, "forward"),
                "%s", r.out);
  gmt_run_free(&r);
}
END_TEST

/* ---- resume: the same data and settings, or a refusal listing what differs ---- */

START_TEST(resume_refuses_other_data_and_options_the_checkpoint_decides) {
  char out[1200], ckpt[1300];
  snprintf(out, sizeof out, "%s", gmt_path_in("resume-same"));
  snprintf(ckpt, sizeof ckpt, "%s", train_small(&PIXELCNN, out, 2));
  size_t n0, n1;
  char *before = gmt_slurp(ckpt, &n0);
  const char *d = gmt_fruit_pictures();
  char base[2000];
  snprintf(base, sizeof base, "train --model %s --data '%s' --out '%s' --steps 4 --resume",
           PIXELCNN.name, d, out);
  struct {
    const char *args, *want[3];
  } differ[] = {
      {"%s --heldout 0.25 --batch 3 --size 16 --background ffffff",
       {"--size: checkpoint 32, this run 16", "--background: checkpoint 000000, this run ffffff"}},
      {"%s --heldout 0.5 --batch 3", {"--heldout: checkpoint 0.25, this run 0.5"}},
      {"%s --heldout 0.25 --batch 3 --match 'a'", {"--match: checkpoint (none), this run a"}},
      {"%s --heldout 0.25 --batch 2 --set width=9 --set layers=2 --set kernel=3",
       {"--set width: checkpoint 6, this run 9", "--batch: checkpoint 3, this run 2"}},
  };
  for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
    char args[3000];
    snprintf(args, sizeof args, differ[i].args, base);
    gmt_run_result r = run("%s %s", args, i < 3 ? PIXELCNN.small : "");
    ck_assert_msg(r.code == 2, "%s: exit %d: %s", args, r.code, r.err);
    ck_assert_msg(strstr(r.err, "differs from the checkpoint"), "%s: %s", args, r.err);
    for (int k = 0; k < 3 && differ[i].want[k]; k++)
      ck_assert_msg(strstr(r.err, differ[i].want[k]), "%s: no '%s' in %s", args,
                    differ[i].want[k], r.err);
    gmt_run_free(&r);
  }
  /* what the checkpoint decides may not be given again */
  struct {
    const char *opt, *want;
  } decided[] = {
      {"--seed 5", "the checkpoint decides --seed (it was 0); drop it or start a new run"},
      {"--lr 0.01", "the checkpoint decides --lr (it was 0.003); drop it or start a new run"},
      {"--set lr=0.01", "the checkpoint decides --set lr (it was 0.003)"},
  };
  for (size_t i = 0; i < sizeof decided / sizeof decided[0]; i++) {
    gmt_run_result r = run("%s %s --heldout 0.25 --batch 3 %s", base, PIXELCNN.small,
                           decided[i].opt);
    ck_assert_msg(r.code == 2, "%s: exit %d: %s", decided[i].opt, r.code, r.err);
    ck_assert_msg(strstr(r.err, decided[i].want), "%s: %s", decided[i].opt, r.err);
    gmt_run_free(&r);
  }
  /* none of those touched the checkpoint */
  char *after = gmt_slurp(ckpt, &n1);
  ck_assert_msg(n0 == n1 && memcmp(before, after, n0) == 0, "the refused resumes rewrote %s",
                ckpt);
  free(before);
  free(after);
  /* the same data and settings resume */
  gmt_run_result r = run("%s %s --heldout 0.25 --batch 3 --json", base, PIXELCNN.small);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  cJSON *o = json_of(&r);
  ck_assert_int_eq((int)gmt_json_num(o, "start_step"), 2);
  ck_assert_int_eq((int)gmt_json_num(o, "step"), 4);
  cJSON_Delete(o);
  gmt_run_free(&r);
}
END_TEST

/* ---- temporary files ---- */

static void touch(const char *dir, const char *name, size_t bytes) {
  char p[1400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  ck_assert_msg(f != NULL, "%s", p);
  for (size_t i = 0; i < bytes; i++) fputc('x', f);
  ck_assert_int_eq(fclose(f), 0);
}

static int exists_in(const char *dir, const char *name) {
  char p[1400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

/* What a kill -9 leaves (the checkpoint writer's and the metrics rewrite's temporary
 * files) is removed when a train starts in the folder, and it says so; files of other
 * names, and temporary files of a process that is still running, stay. */
START_TEST(train_removes_stale_temp_files_of_its_own_naming_and_says_so) {
  char out[1200];
  snprintf(out, sizeof out, "%s", gmt_path_in("stale-temps"));
  ck_assert_int_eq(mkdir(out, 0777), 0);
  char live[128];
  snprintf(live, sizeof live, "last.safetensors.tmp.%ld.0", (long)getpid());
  const char *stale[] = {"last.safetensors.tmp.2147483646.0", "step-4.safetensors.tmp.2147483645.17",
                         "metrics.jsonl.tmp"};
  const char *kept[] = {"notes.txt", "last.safetensors.tmp", "last.safetensors.tmp.x.1",
                        "picture.png.tmp.2147483646.0", "metrics.jsonl.tmp.old", live};
  for (int i = 0; i < 3; i++) touch(out, stale[i], 1000);
  for (int i = 0; i < 6; i++) touch(out, kept[i], 10);
  gmt_run_result r = run("train --model %s %s --data '%s' --heldout 0.25 --out '%s' --steps 1 "
                         "--batch 3 --quiet", PIXELCNN.name, PIXELCNN.small, gmt_fruit_pictures(),
                         out);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  for (int i = 0; i < 3; i++) {
    ck_assert_msg(!exists_in(out, stale[i]), "%s was left", stale[i]);
    ck_assert_msg(strstr(r.err, "removed the stale temporary file") && strstr(r.err, stale[i]),
                  "no word of %s in: %s", stale[i], r.err);
  }
  for (int i = 0; i < 6; i++) ck_assert_msg(exists_in(out, kept[i]), "%s was removed", kept[i]);
  gmt_run_free(&r);
  /* a resume cleans up too */
  touch(out, stale[0], 1000);
  r = run("train --model %s %s --data '%s' --heldout 0.25 --out '%s' --steps 2 --batch 3 "
          "--resume --quiet", PIXELCNN.name, PIXELCNN.small, gmt_fruit_pictures(), out);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  ck_assert_msg(!exists_in(out, stale[0]) && strstr(r.err, stale[0]), "%s", r.err);
  gmt_run_free(&r);
}
END_TEST

/* A metrics.jsonl rewrite (on resume) that fails leaves no metrics.jsonl.tmp behind. */
START_TEST(failed_metrics_rewrite_removes_its_temp_file) {
  char out[1200], metrics[1300];
  snprintf(out, sizeof out, "%s", gmt_path_in("metrics-rewrite"));
  train_small(&PIXELCNN, out, 2);
  snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out);
  ck_assert_int_eq(unlink(metrics), 0);
  ck_assert_int_eq(mkdir(metrics, 0777), 0); /* cannot be read, nor renamed over */
  gmt_run_result r = run("train --model %s %s --data '%s' --heldout 0.25 --out '%s' --steps 4 "
                         "--batch 3 --resume", PIXELCNN.name, PIXELCNN.small,
                         gmt_fruit_pictures(), out);
  ck_assert_msg(r.code == 1, "exit %d: %s", r.code, r.err);
  ck_assert_msg(strstr(r.err, "metrics.jsonl"), "%s", r.err);
  ck_assert_msg(!exists_in(out, "metrics.jsonl.tmp"), "metrics.jsonl.tmp was left: %s", r.err);
  gmt_run_free(&r);
}
END_TEST

/* ---- non-finite weights ---- */

/* Rewrites the checkpoint at path (metadata kept) with every value of its first float
 * parameter NaN; returns that parameter's name. */
static const char *poison_checkpoint(const char *path) {
  gm_error err = {0};
  gm_checkpoint *c = NULL;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  int n = gm_checkpoint_count(c), nm = gm_checkpoint_meta_count(c);
  gm_named_tensor *t = calloc((size_t)n, sizeof *t);
  gm_kv *meta = calloc((size_t)nm + 1, sizeof *meta);
  static char poisoned[256];
  poisoned[0] = '\0';
  for (int i = 0; i < n; i++) {
    const gm_checkpoint_entry *e = gm_checkpoint_entry_at(c, i);
    t[i].name = e->name;
    gmt_ok(gm_checkpoint_read_new(c, e->name, gmt_device(), &t[i].tensor, &err), &err);
    if (poisoned[0] || strcmp(e->dtype, "F32") != 0 || strncmp(e->name, "optim.", 6) == 0 ||
        strncmp(e->name, "ema.", 4) == 0)
      continue;
    snprintf(poisoned, sizeof poisoned, "%s", e->name);
    size_t k = (size_t)t[i].tensor->numel;
    float *v = malloc(k * sizeof *v);
    for (size_t j = 0; j < k; j++) v[j] = NAN;
    gmt_ok(gm_tensor_write(t[i].tensor, v, k * sizeof *v, &err), &err);
    free(v);
  }
  ck_assert_msg(poisoned[0], "%s: no float parameter", path);
  for (int i = 0; i < nm; i++) meta[i] = *gm_checkpoint_meta_at(c, i);
  const char *tmp = gmt_path_in("poisoned.safetensors");
  gmt_ok(gm_checkpoint_write(tmp, t, n, meta, nm, &err), &err);
  for (int i = 0; i < n; i++) gm_tensor_destroy(t[i].tensor);
  free(t);
  free(meta);
  gm_checkpoint_close(c);
  ck_assert_int_eq(rename(tmp, path), 0);
  return poisoned;
}

/* sample, forward, eval and train --resume refuse a checkpoint whose weights are NaN,
 * naming the file and the tensor; the resume does not call it "the last good one". */
START_TEST(nan_weights_are_refused_by_sample_forward_eval_and_resume_naming_file_and_tensor) {
  char out[1200], ckpt[1300], tensor[256];
  snprintf(out, sizeof out, "%s", gmt_path_in("nan-weights"));
  snprintf(ckpt, sizeof ckpt, "%s", train_small(&PIXELCNN, out, 2));
  snprintf(tensor, sizeof tensor, "'%s'", poison_checkpoint(ckpt));
  char in[1200];
  snprintf(in, sizeof in, "%s", write_forward_input(&PIXELCNN));
  const char *d = gmt_fruit_pictures();
  gmt_run_result r = run("sample --checkpoint '%s' --n 1 --out '%s' %s", ckpt,
                         gmt_path_in("nan.png"), PIXELCNN.sample_args);
  ck_assert_msg(r.code == 1, "sample exit %d: %s", r.code, r.err);
  ck_assert_msg(strstr(r.err, ckpt) && strstr(r.err, tensor) && strstr(r.err, "non-finite"),
                "sample: %s", r.err);
  gmt_run_free(&r);
  r = run("forward --checkpoint '%s' --in '%s' --out '%s'", ckpt, in,
          gmt_path_in("nan-out.safetensors"));
  ck_assert_msg(r.code == 1, "forward exit %d: %s", r.code, r.err);
  ck_assert_msg(strstr(r.err, ckpt) && strstr(r.err, tensor), "forward: %s", r.err);
  gmt_run_free(&r);
  r = run("eval --checkpoint '%s' --data '%s' --heldout 0.25", ckpt, d);
  ck_assert_msg(r.code == 1, "eval exit %d: %s", r.code, r.err);
  ck_assert_msg(strstr(r.err, ckpt) && strstr(r.err, tensor), "eval: %s", r.err);
  gmt_run_free(&r);
  r = run("train --model %s %s --data '%s' --heldout 0.25 --out '%s' --steps 4 --batch 3 "
          "--resume", PIXELCNN.name, PIXELCNN.small, d, out);
  ck_assert_msg(r.code == 1, "resume exit %d: %s", r.code, r.err);
  ck_assert_msg(strstr(r.err, ckpt) && strstr(r.err, tensor), "resume: %s", r.err);
  ck_assert_msg(!strstr(r.err, "last good checkpoint is"), "resume: %s", r.err);
  gmt_run_free(&r);
}
END_TEST

START_TEST(a_text_model_trains_on_the_names_and_samples_from_prompts) {
  const char *tiny = "--model ddpm --preset unet-text --set ch=8 --set mult=1,2 --set blocks=1 "
                     "--set timesteps=20 --set text_dim=8";
  char out[1200], ckpt[1300], grid[1300];
  snprintf(out, sizeof out, "%s", gmt_path_in("text-ddpm"));
  snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out);
  snprintf(grid, sizeof grid, "%s", gmt_path_in("prompts.png"));
  /* a vocabulary option too small for the names is refused, naming both counts */
  gmt_run_result r = run("train %s --set vocab=4 --data '%s' --heldout 0.25 --out '%s' --steps 1 "
                         "--batch 3", tiny, gmt_fruit_pictures(), gmt_path_in("text-small"));
  ck_assert_msg(r.code == 1 && strstr(r.err, "the training texts have 10 words") &&
                    strstr(r.err, "holds 4 token ids"), "exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  r = run("train %s --set vocab=64 --data '%s' --heldout 0.25 --out '%s' --steps 2 --batch 3 --json",
          tiny, gmt_fruit_pictures(), out);
  ck_assert_msg(r.code == 0, "train exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  /* the vocabulary of the training split's texts is in the checkpoint */
  gm_checkpoint *ck = NULL;
  gm_error err = {0};
  gmt_ok(gm_checkpoint_open(&ck, ckpt, &err), &err);
  const char *vocab = gm_checkpoint_meta(ck, GM_TEXT_VOCAB_KEY);
  ck_assert_msg(vocab && strstr(vocab, "apple") && strstr(vocab, "cherry") && !strstr(vocab, "banana"),
                "vocabulary: %s", vocab ? vocab : "(none)");
  gm_checkpoint_close(ck);
  /* a row per prompt; an unknown word named and dropped */
  r = run("sample --checkpoint '%s' --prompt apple --prompt 'cherry zzz' --n-per-prompt 2 "
          "--sampler ddim --steps 3 --out '%s' --json --quiet", ckpt, grid);
  ck_assert_msg(r.code == 0, "sample exit %d: %s", r.code, r.err);
  ck_assert_msg(strstr(r.err, "'cherry zzz': not in the model's vocabulary, dropped: zzz"), "%s", r.err);
  cJSON *o = json_of(&r);
  ck_assert_int_eq((int)gmt_json_num(o, "n"), 4);
  ck_assert(gmt_json_num(o, "guidance") == 1);
  const cJSON *p1 = cJSON_GetArrayItem(gmt_json_at(o, "prompts"), 1);
  ck_assert_str_eq(gmt_json_str(p1, "prompt"), "cherry zzz");
  ck_assert_str_eq(cJSON_GetArrayItem(gmt_json_at(p1, "known"), 0)->valuestring, "cherry");
  ck_assert_str_eq(cJSON_GetArrayItem(gmt_json_at(p1, "unknown"), 0)->valuestring, "zzz");
  ck_assert_int_eq((int)gmt_json_num(p1, "first"), 2);
  cJSON_Delete(o);
  gmt_run_free(&r);
  gm_image g;
  memset(&g, 0, sizeof g);
  gmt_ok(gm_png_read(grid, &g, &err), &err);
  ck_assert_int_eq(g.width, 2 * 32 * 4 + 1); /* two per row */
  ck_assert_int_eq(g.height, 2 * 32 * 4 + 1); /* two prompts */
  gm_image_free(&g);
  /* usage: --strict-prompt refuses the unknown word; guidance without a prompt; --n */
  const char *bad[] = {"--prompt 'cherry zzz' --strict-prompt", "--guidance 2", "--n 4 --prompt apple",
                       "--prompt apple --guidance 21"};
  const char *msg[] = {"not in the model's vocabulary: zzz", "go with --prompt", "--n does not apply",
                       "not a number in 0..20"};
  for (int i = 0; i < 4; i++) {
    r = run("sample --checkpoint '%s' %s --out '%s' --quiet", ckpt, bad[i], grid);
    ck_assert_msg(r.code == 2 && strstr(r.err, msg[i]), "%s: exit %d: %s", bad[i], r.code, r.err);
    gmt_run_free(&r);
  }
  /* a prompt to a model without text */
  char pout[1200], pck[1300];
  snprintf(pout, sizeof pout, "%s", gmt_path_in("text-pixelcnn"));
  snprintf(pck, sizeof pck, "%s", train_small(&PIXELCNN, pout, 1));
  r = run("sample --checkpoint '%s' --prompt apple --out '%s' --quiet", pck, grid);
  ck_assert_msg(r.code == 1 && strstr(r.err, "takes no text"), "exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  /* eval: with and without the texts */
  r = run("eval --checkpoint '%s' --data '%s' --heldout 0.25 --t-samples 2 --json", ckpt,
          gmt_fruit_pictures());
  ck_assert_msg(r.code == 0, "eval exit %d: %s", r.code, r.err);
  o = json_of(&r);
  double u = gmt_json_num(o, "bits_per_dim"), c = gmt_json_num(o, "conditional_bits_per_dim");
  ck_assert_msg(isfinite(u) && isfinite(c) && u > 0 && c > 0, "bits/dim %g, with texts %g", u, c);
  ck_assert(fabs(gmt_json_num(o, "text_bits_per_dim") - (u - c)) < 1e-9);
  cJSON_Delete(o);
  gmt_run_free(&r);
  /* the run resumes with the same vocabulary */
  r = run("train %s --set vocab=64 --data '%s' --heldout 0.25 --out '%s' --steps 3 --batch 3 --resume",
          tiny, gmt_fruit_pictures(), out);
  ck_assert_msg(r.code == 0, "resume exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("cmd_train");
  TCase *tc = tcase_create("cli");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, pixelcnn_trains_then_samples_a_grid_and_a_folder);
  tcase_add_test(tc, ddpm_trains_then_samples_a_grid_and_a_folder);
  tcase_add_test(tc, ddpm_saved_noise_replays_the_same_png);
  tcase_add_test(tc, eval_json_reports_bits_per_dim_over_the_split);
  tcase_add_test(tc, forward_runs_named_inputs_to_named_outputs_for_both_models);
  tcase_add_test(tc, weights_only_files_with_the_study_keys_load_for_both_seed_presets);
  tcase_add_test(tc, bad_usage_exits_2_and_failures_exit_1_with_messages);
  tcase_add_test(tc, train_help_with_a_model_lists_its_options_presets_and_training_keys);
  tcase_add_test(tc, resume_refuses_other_data_and_options_the_checkpoint_decides);
  tcase_add_test(tc, train_removes_stale_temp_files_of_its_own_naming_and_says_so);
  tcase_add_test(tc, failed_metrics_rewrite_removes_its_temp_file);
  tcase_add_test(tc, nan_weights_are_refused_by_sample_forward_eval_and_resume_naming_file_and_tensor);
  tcase_add_test(tc, a_text_model_trains_on_the_names_and_samples_from_prompts);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
