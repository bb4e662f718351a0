/* genmoji: a vendor-neutral OpenCL compute engine with a plugin model zoo.
 *
 * This umbrella header includes every public header. A short tour:
 *
 *     #include <genmoji/gm.h>
 *
 *     gm_error err = {0};
 *     gm_device *dev;
 *     if (gm_device_create(&dev, NULL, &err))      // first GPU, else first device
 *       { fprintf(stderr, "%s\n", err.msg); return 1; }
 *
 *     float host[6] = {1, 2, 3, 4, 5, 6};
 *     gm_tensor *x;
 *     gm_tensor_create(&x, dev, GM_F32, 2, GM_SHAPE(2, 3), &err);
 *     gm_tensor_write(x, host, sizeof host, &err); // host -> device
 *     gm_tensor_fill(x, 0.5, &err);                // every element 0.5
 *     gm_tensor_read(x, host, sizeof host, &err);  // device -> host (blocking)
 *
 *     gm_tensor_destroy(x);
 *     gm_device_destroy(dev);
 *
 * Every fallible call returns 0 or a negative GM_E* code and, given a gm_error, a
 * message that names what failed. The library never prints and never exits.
 * Plugins (models, loaders, front-ends) export gm_plugin_entry(); see plugin.h and
 * docs/plugins.md. */
#ifndef GENMOJI_GM_H
#define GENMOJI_GM_H

#include "error.h"
#include "device.h"
#include "tensor.h"
#include "autograd.h"
#include "plugin.h"
#include "loader.h"
#include "ops.h"
#include "image.h"
#include "emoji.h"
#include "host.h"
#include "dataset.h"
#include "rng.h"
#include "params.h"
#include "optim.h"
#include "model.h"
#include "checkpoint.h"
#include "trainer.h"
#include "bench.h"
#include "text.h"

#define GM_VERSION_MAJOR 0
#define GM_VERSION_MINOR 1
#define GM_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif
/* The library's version, "0.1.0". */
GM_API const char *gm_version(void);
#ifdef __cplusplus
}
#endif

#endif
