/* Checks against PyTorch dumps (tests/data/torch/make_fixtures.py): a .safetensors file
 * holding a network's state_dict, its inputs under "io.", and the gradient of a loss with
 * respect to every trainable parameter under "grad.<name>". */
#ifndef GM_TORCHREF_H
#define GM_TORCHREF_H

#include "testlib.h"

/* Opens tests/data/torch/<file> (the test fails if it cannot). */
gm_checkpoint *gmt_torch_open(const char *file);
/* A new device tensor holding entry `name` (F32, or I32 for integer entries). */
gm_tensor *gmt_torch_tensor(const gm_checkpoint *c, const char *name);

/* Compares every trainable parameter's ->grad in p with c's "grad.<name>", by name: each
 * trainable parameter must have one of its shape, and every grad.* entry must name a
 * trainable parameter (either missing fails the test, naming it). Tensor g passes when
 * |got - torch| <= rtol * max(max |torch grad of g|, floor * G) for every element, G the
 * largest |torch grad| over all tensors: relative to the tensor's own largest gradient, as
 * gmt_assert_grad, with a floor for tensors whose exact gradient is zero (a conv bias under
 * batch norm, which removes its mean) and whose dump holds rounding residue only. Returns
 * the worst |got - torch| / scale over every element; *worst_name (optional) is set to
 * the tensor it is in. */
double gmt_assert_grads_match_torch_(const gm_checkpoint *c, gm_params *p, double rtol,
                                     double floor, const char *what, const char **worst_name,
                                     const char *file, int line);
#define gmt_assert_grads_match_torch(c, p, rtol, floor, what, worst_name)                  \
  gmt_assert_grads_match_torch_((c), (p), (rtol), (floor), (what), (worst_name), __FILE__, \
                                __LINE__)

#endif
