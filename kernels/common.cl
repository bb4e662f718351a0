/* Shared prelude of every genmoji kernel file (it is placed first in the program).
 * Tensors reach kernels as a buffer plus an element offset: GM_T(float, x) declares
 * x_p and x_o, and GM_AT(x) is the tensor's first element. */
#define GM_T(type, name) __global type *name##_p, const uint name##_o
#define GM_AT(name) (name##_p + name##_o)

/* Philox4x32-10 with key = seed and counter = (block, stream), shared by the random draws
 * (rng.cl) and dropout (dropout.cl). */
#define RNG_M0 0xD2511F53u
#define RNG_M1 0xCD9E8D57u
#define RNG_W0 0x9E3779B9u
#define RNG_W1 0xBB67AE85u

static inline uint4 rng_philox_round(uint4 c, uint2 k) {
  uint hi0 = mul_hi(RNG_M0, c.x), lo0 = RNG_M0 * c.x;
  uint hi1 = mul_hi(RNG_M1, c.z), lo1 = RNG_M1 * c.z;
  return (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
}

/* One Philox4x32-10 block of stream (seed, stream) at block index `block`. */
static inline uint4 rng_philox_block(ulong seed, ulong stream, ulong block) {
  uint4 c = (uint4)((uint)block, (uint)(block >> 32), (uint)stream, (uint)(stream >> 32));
  uint2 k = (uint2)((uint)seed, (uint)(seed >> 32));
  for (int r = 0; r < 9; r++) {
    c = rng_philox_round(c, k);
    k.x += RNG_W0;
    k.y += RNG_W1;
  }
  return rng_philox_round(c, k);
}

static inline uint rng_lane(uint4 b, int lane) {
  return lane == 0 ? b.x : lane == 1 ? b.y : lane == 2 ? b.z : b.w;
}

/* The top 24 bits as a float in [0, 1): exact, so host and device agree bit for bit. */
static inline float rng_unit(uint x) { return (float)(x >> 8) * 0x1.0p-24f; }
