// index_raw.glsl — what the index, shape and sort shaders share (after common.glsl).
//
// Those ops move elements, never compute with them: an element is moved as raw bits of
// its size ES (a specialization constant: 1, 2, 4 or 8 bytes), so one shader serves
// every dtype, f64 included, without the f64 variant. Only 2-byte elements need the
// x16 variant (16-bit storage).
#ifdef HAS_16
#define RAW16_MOVE(D, S) case 2: D##_u16[di] = S##_u16[si]; return;
#define RAW16_SET(D) case 2: D##_u16[di] = uint16_t(bits & 0xffffu); return;
#else
#define RAW16_MOVE(D, S)
#define RAW16_SET(D)
#endif

// void NAME(di, si): D[di] = S[si], one element of ES bytes
#define RAW_MOVER(NAME, D, S) \
  void NAME(uint di, uint si) { \
    switch (ES) { \
    case 1: D##_u8[di] = S##_u8[si]; return; \
    RAW16_MOVE(D, S) \
    case 4: D##_i32[di] = S##_i32[si]; return; \
    default: D##_i64[di] = S##_i64[si]; return; \
    } \
  }

// void NAME(di, bits): D[di] = the low ES bytes of bits (a value already in D's dtype)
#define RAW_SETTER(NAME, D) \
  void NAME(uint di, uint64_t bits) { \
    switch (ES) { \
    case 1: D##_u8[di] = uint8_t(bits & 0xfful); return; \
    RAW16_SET(D) \
    case 4: D##_i32[di] = int(uint(bits & 0xfffffffful)); return; \
    default: D##_i64[di] = int64_t(bits); return; \
    } \
  }

// the invocation's workgroup in a 1-D grid that vk_groups_1d folded into y
uint flat_group() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }
