/* The tape: ops append nodes while recording, gm_backward replays them in reverse,
 * and gm_tape_reset frees the step's arena tensors and nodes. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void gm__tensor_free(gm_tensor *t);

int gm_grad_enable(gm_device *dev, int on) {
  int prev = dev->tape.recording;
  dev->tape.recording = on != 0;
  return prev;
}

size_t gm_tape_node_count(const gm_device *dev) { return dev->tape.n_nodes; }
size_t gm_tape_arena_count(const gm_device *dev) { return dev->tape.n_arena; }

int gm__tape_wants(gm_device *dev, gm_tensor *const *in, int n_in) {
  if (!dev->tape.recording) return 0;
  for (int i = 0; i < n_in; i++)
    if (in[i] && in[i]->requires_grad) return 1;
  return 0;
}

gm__node *gm__tape_record(gm_device *dev, const char *op, gm__backward_fn backward,
                          gm_tensor *out, gm_tensor *const *in, int n_in, int *rc,
                          gm_error *err) {
  *rc = 0;
  GM_ASSERT(n_in <= GM__NODE_MAX_IN);
  if (!gm__tape_wants(dev, in, n_in)) return NULL;
  gm__tape *tp = &dev->tape;
  if (tp->n_nodes == tp->cap_nodes) {
    size_t cap = tp->cap_nodes ? tp->cap_nodes * 2 : 64;
    gm__node *nodes = realloc(tp->nodes, cap * sizeof *nodes);
    if (!nodes) {
      *rc = gm_error_set(err, GM_ENOMEM, "%s: tape: out of host memory", op);
      return NULL;
    }
    tp->nodes = nodes;
    tp->cap_nodes = cap;
  }
  gm__node *n = &tp->nodes[tp->n_nodes++];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->backward = backward;
  n->out = out;
  n->n_in = n_in;
  for (int i = 0; i < n_in; i++) n->in[i] = in[i];
  out->requires_grad = 1;
  return n;
}

int gm__grad(gm_tensor *t, gm_tensor **grad, gm_error *err) {
  if (!t->grad) {
    gm_tensor *g = NULL;
    int rc = (t->flags & GM__T_ARENA)
                 ? gm__tensor_temp(&g, t->dev, GM_F32, t->ndim, t->shape, err)
                 : gm_tensor_create(&g, t->dev, GM_F32, t->ndim, t->shape, err);
    if (rc) return rc;
    rc = gm_tensor_fill(g, 0.0, err);
    if (rc) {
      if (!(g->flags & GM__T_ARENA)) gm_tensor_destroy(g);
      return rc;
    }
    t->grad = g;
  }
  *grad = t->grad;
  return 0;
}

int gm__backward_seeded(gm_tensor *out, gm_error *err) {
  gm__tape *tp = &out->dev->tape;
  int prev = gm_grad_enable(out->dev, 0);  /* backward ops are not recorded */
  int rc = 0;
  for (size_t i = tp->n_nodes; i-- > 0;) {
    gm__node *n = &tp->nodes[i];
    if (!n->out->grad) continue;  /* nothing flowed into this node */
    rc = n->backward(n, err);
    if (rc) {
      gm_error_prefix(err, "backward of %s", n->op);
      break;
    }
  }
  gm_grad_enable(out->dev, prev);
  return rc;
}

int gm_backward(gm_tensor *loss, gm_error *err) {
  if (loss->numel != 1)
    return gm_error_set(err, GM_ESHAPE, "gm_backward: the loss must have one element, has %lld",
                        (long long)loss->numel);
  if (!loss->requires_grad)
    return gm_error_set(err, GM_EINVAL,
                        "gm_backward: the loss does not depend on anything that requires grad");
  gm_tensor *g;
  int rc = gm__grad(loss, &g, err);
  if (rc) return rc;
  rc = gm_tensor_fill(g, 1.0, err);
  if (rc) return rc;
  return gm__backward_seeded(loss, err);
}

void gm_tape_reset(gm_device *dev) {
  gm__tape *tp = &dev->tape;
  tp->n_nodes = 0;
  gm_tensor *t = tp->arena;
  /* Views are pushed after their base, so freeing in list order frees views first;
   * buffers return to the pool only with the tensor that owns them either way. */
  while (t) {
    gm_tensor *next = t->arena_next;
    gm__tensor_free(t);
    t = next;
  }
  tp->arena = NULL;
  tp->n_arena = 0;
}
