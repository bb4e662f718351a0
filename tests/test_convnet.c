/* The whole training loop on a tiny two-layer conv net: parameters in a gm_params store,
 * conv -> relu -> conv, MSE against a fixed target, backward, Adam. The target is what
 * a second, randomly initialised net of the same shape makes of the same fixed random
 * input, so the student can reach it; 50 steps must at least halve the loss. A test of
 * the loop's pieces working together, not a timing. */
#include <math.h>
#include <stdio.h>

#include "testlib.h"

enum { CIN = 3, STEPS = 50 };
/* A small-shapes run (GM_TEST_SHAPES=small, for Oclgrind) trains 2 images of 4 x 4 through
 * 4 hidden channels: the same kernels, fewer elements. */
static int g_batch = 4, g_hidden = 8, g_side = 8;  /* images, hidden channels, image side */

typedef struct net {
  gm_params *p;
  gm_tensor *w1, *b1, *w2, *b2;
} net;

static void net_create(net *n, gm_device *dev, uint64_t seed) {
  gm_error err = {0};
  gmt_ok(gm_params_create(&n->p, dev, &err), &err);
  gmt_ok(gm_params_declare(n->p, "conv1.weight", GM_F32, 4, GM_SHAPE(g_hidden, CIN, 3, 3),
                           GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(n->p, "conv1.bias", GM_F32, 1, GM_SHAPE(g_hidden), GM_PARAM_TRAINABLE,
                           &err), &err);
  gmt_ok(gm_params_declare(n->p, "conv2.weight", GM_F32, 4, GM_SHAPE(CIN, g_hidden, 3, 3),
                           GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(n->p, "conv2.bias", GM_F32, 1, GM_SHAPE(CIN), GM_PARAM_TRAINABLE,
                           &err), &err);
  gmt_ok(gm_params_finalize(n->p, &err), &err);
  n->w1 = gm_params_find(n->p, "conv1.weight");
  n->b1 = gm_params_find(n->p, "conv1.bias");
  n->w2 = gm_params_find(n->p, "conv2.weight");
  n->b2 = gm_params_find(n->p, "conv2.bias");
  gm_rng r;
  gm_rng_init(&r, seed, 0);
  gmt_ok(gm_init_default(n->w1, n->b1, &r, &err), &err);
  gmt_ok(gm_init_default(n->w2, n->b2, &r, &err), &err);
}

/* y (B, CIN, g_side, g_side) = conv2(relu(conv1(x))), both 3x3 with padding 1. */
static gm_tensor *net_forward(net *n, gm_tensor *x) {
  gm_error err = {0};
  gm_conv2d_opts same = {.stride = 1, .pad_h = 1, .pad_w = 1};
  gm_tensor *h, *a, *y;
  gmt_ok(gm_conv2d(&h, x, n->w1, n->b1, NULL, &same, &err), &err);
  gmt_ok(gm_relu(&a, h, &err), &err);
  gmt_ok(gm_conv2d(&y, a, n->w2, n->b2, NULL, &same, &err), &err);
  return y;
}

START_TEST(convnet_adam_halves_the_loss_in_50_steps) {
  if (gmt_small_shapes()) g_batch = 2, g_hidden = 4, g_side = 4;
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_tensor *x, *target;
  gmt_ok(gm_tensor_create(&x, dev, GM_F32, 4, GM_SHAPE(g_batch, CIN, g_side, g_side), &err), &err);
  gmt_ok(gm_tensor_create(&target, dev, GM_F32, 4, GM_SHAPE(g_batch, CIN, g_side, g_side), &err),
         &err);
  gm_rng r;
  gm_rng_init(&r, 7, 1);
  gmt_ok(gm_rng_uniform(x, &r, -1.0f, 1.0f, &err), &err);

  net teacher, student;
  net_create(&teacher, dev, 11);
  net_create(&student, dev, 12);
  int was = gm_grad_enable(dev, 0);
  gmt_ok(gm_tensor_copy(target, net_forward(&teacher, x), &err), &err);
  gm_tape_reset(dev);
  gm_grad_enable(dev, 1);

  gm_optim_config c;
  gm_optim_config_default(&c, GM_OPTIM_ADAM);
  c.lr = 1e-2f;
  gm_optim *opt;
  gmt_ok(gm_optim_create(&opt, student.p, &c, &err), &err);
  float loss[STEPS];
  for (int step = 0; step < STEPS; step++) {
    gm_tensor *l;
    gmt_ok(gm_params_zero_grad(student.p, &err), &err);
    gmt_ok(gm_mse(&l, net_forward(&student, x), target, &err), &err);
    gmt_ok(gm_backward(l, &err), &err);
    gmt_ok(gm_optim_step(opt, &err), &err);
    gmt_ok(gm_tensor_read(l, &loss[step], sizeof loss[step], &err), &err);
    gm_tape_reset(dev);
    ck_assert_msg(isfinite(loss[step]), "loss at step %d is %g", step, loss[step]);
  }
  ck_assert_msg(loss[0] > 1e-3f, "the student starts too close to the teacher (loss %g)",
                loss[0]);
  ck_assert_msg(loss[STEPS - 1] <= 0.5f * loss[0],
                "loss went from %g (step 1) to %g (step %d): less than halved", loss[0],
                loss[STEPS - 1], STEPS);

  gm_grad_enable(dev, was);
  gm_optim_destroy(opt);
  gm_params_destroy(student.p);
  gm_params_destroy(teacher.p);
  gm_tensor_destroy(target);
  gm_tensor_destroy(x);
}
END_TEST

int main(void) {
  Suite *s = suite_create("convnet");
  TCase *tc = tcase_create("convnet");
  tcase_add_test(tc, convnet_adam_halves_the_loss_in_50_steps);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
