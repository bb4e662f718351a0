/* Engine-private declarations shared by the engine's source files and its tests:
 * the device struct, the buffer pool, the kernel launcher, the GEMM entry point and the
 * tape's node records. Plugins never include this file. */
#ifndef GM_INTERNAL_H
#define GM_INTERNAL_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdint.h>

#include "genmoji/gm.h"

#define GM__COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Aborts on a broken internal invariant (never on user input). */
#define GM_ASSERT(c)                                                                  \
  do {                                                                                \
    if (!(c)) gm__assert_fail(#c, __FILE__, __LINE__);                                \
  } while (0)
_Noreturn void gm__assert_fail(const char *what, const char *file, int line);

/* ---- OpenCL errors ---- */
const char *gm__cl_err_name(cl_int code);
/* "clCreateBuffer (what): CL_MEM_OBJECT_ALLOCATION_FAILURE (-4)" into err; returns code. */
int gm__cl_fail(gm_error *err, int code, cl_int cl, const char *call, const char *what);

/* ---- buffer pool ---- */
struct gm__buffer {
  cl_mem mem;
  size_t bytes;        /* the size class, >= what was asked */
  int cls;             /* size-class index */
  struct gm__buffer *next;
};

#define GM__POOL_CLASSES 256

typedef struct gm__pool {
  struct gm__buffer *free_list[GM__POOL_CLASSES];
  gm_mem_stats stats;
} gm__pool;

int gm__pool_alloc(gm_device *dev, size_t bytes, struct gm__buffer **out, gm_error *err);
void gm__pool_release(gm_device *dev, struct gm__buffer *b);
void gm__pool_close(gm_device *dev);
/* The size a request of `bytes` is rounded up to, and its class index. */
size_t gm__pool_class_size(size_t bytes, int *cls);

/* ---- tape ---- */
#define GM__NODE_MAX_IN 6
struct gm__node;
typedef int (*gm__backward_fn)(struct gm__node *node, gm_error *err);

typedef struct gm__node {
  const char *op;                    /* "conv2d", for messages */
  gm__backward_fn backward;
  gm_tensor *out;
  gm_tensor *in[GM__NODE_MAX_IN];
  int n_in;
  gm_tensor *saved[4];               /* arena or caller tensors the backward reads */
  int64_t iarg[16];                  /* sizes and flags the backward needs */
  double farg[8];
} gm__node;

typedef struct gm__tape {
  gm__node *nodes;
  size_t n_nodes, cap_nodes;
  gm_tensor *arena;                  /* singly linked through arena_next */
  size_t n_arena;
  int recording;                     /* 1 unless gm_grad_enable(dev, 0) */
} gm__tape;

/* tensor flags */
enum {
  GM__T_OWNS_BUF = 1u << 0,  /* buf returns to the pool with the tensor */
  GM__T_ARENA = 1u << 1,     /* freed by gm_tape_reset */
};

/* An arena tensor (freed by gm_tape_reset); contents undefined. */
int gm__tensor_temp(gm_tensor **out, gm_device *dev, gm_dtype dtype, int ndim,
                    const int64_t *shape, gm_error *err);
/* An arena view of base's buffer (same element count or a slice). */
int gm__tensor_temp_view(gm_tensor **out, gm_tensor *base, size_t offset, int ndim,
                         const int64_t *shape, gm_error *err);

/* 1 when recording is on and any of in[] requires grad. */
int gm__tape_wants(gm_device *dev, gm_tensor *const *in, int n_in);
/* Appends a node for out = op(in...) when gm__tape_wants; returns the node (to fill
 * saved/iarg/farg) or NULL when nothing is recorded. *rc gets an error code on failure. */
gm__node *gm__tape_record(gm_device *dev, const char *op, gm__backward_fn backward,
                          gm_tensor *out, gm_tensor *const *in, int n_in, int *rc,
                          gm_error *err);
/* Runs the tape in reverse from an output whose grad the caller has already set (tests
 * seed a random upstream gradient this way; gm_backward seeds 1 for a scalar loss). */
int gm__backward_seeded(gm_tensor *out, gm_error *err);
/* t->grad, created zero-filled (in the arena when t is an arena tensor) if missing. */
int gm__grad(gm_tensor *t, gm_tensor **grad, gm_error *err);

/* ---- device ---- */
typedef struct gm__kernel_entry {
  char name[64];
  cl_kernel kernel;
} gm__kernel_entry;

struct gm_device {
  gm_device_info info;
  cl_platform_id platform;
  cl_device_id id;
  cl_context ctx;
  cl_command_queue queue;
  cl_program program;            /* built from the embedded kernels on first use */
  gm__kernel_entry *kernels;     /* sorted by name */
  int n_kernels;
  size_t wg1d;                   /* work-group size for 1-D launches, from device info */
  size_t wg2d[2];                /* and for 2-D launches */
  gm__pool pool;
  gm__tape tape;
  void *gemm_state;              /* owned by gemm.c */
  void (*gemm_free)(void *);
  int clblast_used;              /* CLBlast has cached programs for this context */
};

/* The kernel named `name`, building the program on first use. */
int gm__kernel(gm_device *dev, const char *name, cl_kernel *out, gm_error *err);
/* Builds a program from n sources with `options`; a failure carries the compiler's build
 * log in err. `what` names the program in messages. */
int gm__program_build(gm_device *dev, int n, const char **texts, const size_t *lens,
                      const char *options, const char *what, cl_program *out, gm_error *err);
/* The options every program build uses (one place: no fast-math, CL 1.2). */
const char *gm__build_options(void);

/* ---- launching kernels ---- */
typedef enum { GM__KA_TENSOR, GM__KA_MEM, GM__KA_I32, GM__KA_U32, GM__KA_F32, GM__KA_U64,
               GM__KA_LOCAL } gm__karg_kind;

typedef struct gm__karg {
  gm__karg_kind kind;
  union {
    const gm_tensor *t;   /* passes two kernel arguments: the buffer and the element offset */
    cl_mem m;
    cl_int i;
    cl_uint u;
    cl_float f;
    cl_ulong u64;
    size_t local_bytes;
  } v;
} gm__karg;

#define GMK_T(x) ((gm__karg){.kind = GM__KA_TENSOR, .v.t = (x)})
#define GMK_MEM(x) ((gm__karg){.kind = GM__KA_MEM, .v.m = (x)})
#define GMK_I(x) ((gm__karg){.kind = GM__KA_I32, .v.i = (cl_int)(x)})
#define GMK_U(x) ((gm__karg){.kind = GM__KA_U32, .v.u = (cl_uint)(x)})
#define GMK_F(x) ((gm__karg){.kind = GM__KA_F32, .v.f = (cl_float)(x)})
#define GMK_U64(x) ((gm__karg){.kind = GM__KA_U64, .v.u64 = (cl_ulong)(x)})
#define GMK_LOCAL(bytes) ((gm__karg){.kind = GM__KA_LOCAL, .v.local_bytes = (bytes)})

/* Enqueues kernel `name` over a `dims`-D range. global[] is rounded up to a multiple of
 * local[] (kernels bounds-check); local NULL lets the driver choose. */
int gm__launch(gm_device *dev, const char *name, int dims, const size_t *global,
               const size_t *local, const gm__karg *args, int n_args, gm_error *err);
/* A 1-D launch of n work-items in groups of dev->wg1d. */
int gm__launch1d(gm_device *dev, const char *name, size_t n, const gm__karg *args,
                 int n_args, gm_error *err);
/* A 2-D launch of (n0, n1) work-items in groups of dev->wg2d. */
int gm__launch2d(gm_device *dev, const char *name, size_t n0, size_t n1,
                 const gm__karg *args, int n_args, gm_error *err);
#define GM__LAUNCH1D(dev, name, n, err, ...)                                          \
  gm__launch1d((dev), (name), (n), (const gm__karg[]){__VA_ARGS__},                   \
               (int)(sizeof((const gm__karg[]){__VA_ARGS__}) / sizeof(gm__karg)), (err))
#define GM__LAUNCH2D(dev, name, n0, n1, err, ...)                                     \
  gm__launch2d((dev), (name), (n0), (n1), (const gm__karg[]){__VA_ARGS__},            \
               (int)(sizeof((const gm__karg[]){__VA_ARGS__}) / sizeof(gm__karg)), (err))

/* ---- GEMM: the one entry point ---- */
typedef struct gm__gemm_desc {
  int trans_a, trans_b;            /* op(A) = A or A^T; row-major storage */
  size_t m, n, k;                  /* C (m x n) = alpha op(A) (m x k) op(B) (k x n) + beta C */
  float alpha, beta;
  cl_mem a, b, c;
  size_t a_off, b_off, c_off;      /* in elements */
  size_t lda, ldb, ldc;            /* row strides in elements */
  size_t batch;                    /* 1 for a single GEMM */
  size_t stride_a, stride_b, stride_c;  /* between batch entries, in elements */
} gm__gemm_desc;

int gm__gemm(gm_device *dev, const gm__gemm_desc *d, gm_error *err);

/* The kernels/NAME.cl files as embedded at build time (generated source): NAME, the
 * text and its length. */
struct gm__kernel_source {
  const char *name;
  const char *text;
  size_t len;
};
extern const struct gm__kernel_source gm__kernel_sources[];
extern const int gm__kernel_source_count;
/* The cl_mem behind a tensor. */
static inline cl_mem gm__mem(const gm_tensor *t) { return t->buf->mem; }

#endif
