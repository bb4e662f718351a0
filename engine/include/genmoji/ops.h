/* Ops: each records its forward on the tape (when an input requires grad) and returns
 * its output as an arena tensor of the same device (freed by gm_tape_reset). Output
 * first, then inputs, then sizes. Shapes are checked; a mismatch is GM_ESHAPE with both
 * shapes in the message. Backward functions sit right above their forward in engine/src/ops_*.c.
 *
 * Families: elementwise (ops_elementwise.c), conv (ops_conv.c), norm (ops_norm.c),
 * pool/resize/concat (ops_shape.c), loss and reductions (ops_loss.c), linear/attention
 * (ops_linear.c, ops_attention.c), embedding (ops_embed.c), windows, gating and
 * quantisation for autoregressive pixel models (ops_pixel.c), diffusion helpers
 * (ops_diffusion.c), dropout (ops_dropout.c), text encoders: embedding lookup and
 * poolings over tokens (ops_text.c). */
#ifndef GENMOJI_OPS_H
#define GENMOJI_OPS_H

/* One header per op family; add a family's header here. */
#include "ops_elementwise.h"
#include "ops_loss.h"
#include "ops_attention.h"
#include "ops_shape.h"
#include "ops_norm.h"
#include "ops_embed.h"
#include "ops_conv.h"
#include "ops_linear.h"
#include "ops_pixel.h"
#include "ops_diffusion.h"
#include "ops_dropout.h"
#include "ops_text.h"

#endif
