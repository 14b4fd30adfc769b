/*
** conv.h — the convolution family: geometry of a call and the CPU kernels
** (conv2d, conv_transpose2d and conv2d's gradients in conv.c, pools and their
** gradients in pool.c, pad and interpolate in resize.c, their gradients in
** resize_backward.c).
**
** Images are NCHW; a 3-D input is one unbatched CHW image and gives a 3-D result.
** The geometry functions live with the shape rules (host/ops/ops_conv.c): infer calls
** them to check the call and size the output, and the kernels call them again, so the
** numbers a kernel loops over are the numbers infer checked. They read the inputs'
** shapes and the attributes at the positions the enums below name; each enum follows
** its op's attribute table in ops_conv.c.
*/
#ifndef EMBER_CPU_CONV_H
#define EMBER_CPU_CONV_H

#include "ops.h"

/* attribute positions, in the order of each op's table entry */
enum { CONV_STRIDE, CONV_PADDING, CONV_DILATION, CONV_GROUPS };
enum { CONVT_STRIDE, CONVT_PADDING, CONVT_OUTPUT_PADDING, CONVT_GROUPS, CONVT_DILATION };
enum { MAXP_KERNEL, MAXP_STRIDE, MAXP_PADDING, MAXP_DILATION, MAXP_CEIL };
enum { AVGP_KERNEL, AVGP_STRIDE, AVGP_PADDING, AVGP_CEIL, AVGP_COUNT_PAD, AVGP_DIVISOR };
enum { ADAPT_OUTPUT_SIZE };
enum { PAD_PAD, PAD_MODE, PAD_VALUE };
enum { INTERP_SIZE, INTERP_SCALE, INTERP_MODE, INTERP_ALIGN };
/* the backward kernels take their op's attributes and then the size they cannot read
** off the gradient: conv2d_backward_input's input_size, conv2d_backward_weight's
** kernel_size, the input_size of the pools and of interpolate */
enum { CONVB_SIZE = CONV_GROUPS + 1 };
enum { AVGPB_INPUT_SIZE = AVGP_DIVISOR + 1 };
enum { ADAPTB_INPUT_SIZE };
enum { INTERPB_INPUT_SIZE = INTERP_ALIGN + 1 };

/* One 2-D sliding window over an image: kernel, stride, padding, dilation per axis
** (index 0 = height, 1 = width). */
typedef struct ember_window {
  int64_t k[2], s[2], p[2], d[2];
} ember_window;

/* conv2d and conv_transpose2d. For conv2d (h, w) is the input image and (oh, ow) the
** output; conv_transpose2d is conv2d's adjoint, so its kernel runs conv2d's column
** geometry with the roles swapped (the output is the "image"). */
typedef struct ember_conv_geom {
  int64_t n, c, h, w;      /* batch (1 for an unbatched image), input channels, size */
  int64_t oc, oh, ow;      /* output channels and size */
  int64_t groups;
  int64_t out_pad[2];      /* conv_transpose2d only */
  int batched;             /* 0: 3-D input and output */
  ember_window win;
} ember_conv_geom;

ember_status ember_conv_geom_of(ember_call *c, int transposed, ember_conv_geom *g);

/* The conv2d whose gradient a backward kernel computes, in conv2d's terms (input
** n x c x h x w, output n x oc x oh x ow): in[0] is the output's gradient, in[1] the
** weight (conv2d_backward_input, which takes h x w from input_size) or the input
** (conv2d_backward_weight, which takes kh x kw from kernel_size). The weight gradient
** also serves conv_transpose2d, whose output_padding can leave fewer window positions
** than the image holds: there oh x ow may be below the full count, and the last
** positions are left out. */
ember_status ember_conv_grad_geom_of(ember_call *c, int weight, ember_conv_geom *g);
/* conv2d_backward_input's geometry as the conv_transpose2d it runs (conv.c): conv2d's
** input gradient is conv_transpose2d of grad_output by the same weight, whose layout
** (O x C/groups x kh x kw) is conv_transpose2d's (in x out/groups x kh x kw), so the
** grad geometry with image and output swapped. */
ember_status ember_conv_input_grad_geom_of(ember_call *c, ember_conv_geom *g);

/* max_pool2d, avg_pool2d, adaptive_avg_pool2d: the work is planes independent
** (batch x channels) images. */
typedef enum ember_pool_kind { EMBER_POOL_MAX, EMBER_POOL_AVG, EMBER_POOL_ADAPTIVE } ember_pool_kind;

typedef struct ember_pool_geom {
  int64_t n, c, h, w, oh, ow;
  int batched;
  int count_include_pad;
  int64_t divisor;         /* avg_pool2d's divisor_override; 0 when absent */
  ember_window win;        /* unused by adaptive pooling */
} ember_pool_geom;

ember_status ember_pool_geom_of(ember_call *c, ember_pool_kind kind, ember_pool_geom *g);
/* The same for a pool's backward kernel: in[0] is the output's gradient, the image size
** comes from in[1] (max_pool2d_backward: the input) or from input_size. */
ember_status ember_pool_grad_geom_of(ember_call *c, ember_pool_kind kind, ember_pool_geom *g);

/* pad: the last npad dims get before[i] / after[i] elements (i counts from the first
** padded dim); a negative amount crops (constant mode only, as PyTorch). */
typedef enum ember_pad_mode { EMBER_PAD_CONSTANT, EMBER_PAD_REFLECT, EMBER_PAD_REPLICATE } ember_pad_mode;

typedef struct ember_pad_geom {
  int npad;
  int64_t before[EMBER_MAX_DIMS], after[EMBER_MAX_DIMS];
  ember_pad_mode mode;
  double value;
} ember_pad_geom;

ember_status ember_pad_geom_of(ember_call *c, ember_pad_geom *g);
/* pad_backward: in[0] is the output's gradient; the input's shape is its shape less
** the padding, written to shape. */
ember_status ember_pad_grad_geom_of(ember_call *c, ember_pad_geom *g, int64_t *shape);

/* interpolate (4-D input). scale[i] is the user's scale_factor (0 when the size was
** given): PyTorch maps output to source coordinates with 1/scale_factor when it was
** given, not with in/out, and so does the kernel. */
typedef enum ember_interp_mode {
  EMBER_INTERP_NEAREST, EMBER_INTERP_NEAREST_EXACT, EMBER_INTERP_BILINEAR
} ember_interp_mode;

typedef struct ember_interp_geom {
  int64_t n, c, h, w, oh, ow;
  double scale[2];
  ember_interp_mode mode;
  int align_corners;
} ember_interp_geom;

ember_status ember_interp_geom_of(ember_call *c, ember_interp_geom *g);
/* interpolate_backward: in[0] is the output's gradient, the input size input_size. */
ember_status ember_interp_grad_geom_of(ember_call *c, ember_interp_geom *g);

/* kernels */
ember_status ember_cpu_conv2d(ember_call *c);
ember_status ember_cpu_conv_transpose2d(ember_call *c);
ember_status ember_cpu_max_pool2d(ember_call *c);
ember_status ember_cpu_avg_pool2d(ember_call *c);
ember_status ember_cpu_adaptive_avg_pool2d(ember_call *c);
ember_status ember_cpu_pad(ember_call *c);
ember_status ember_cpu_interpolate(ember_call *c);

/* backward kernels: each writes the gradient of one input of its op from the gradient
** of the op's output (in[0]) */
ember_status ember_cpu_conv2d_backward_input(ember_call *c);
ember_status ember_cpu_conv2d_backward_weight(ember_call *c);
ember_status ember_cpu_max_pool2d_backward(ember_call *c);
ember_status ember_cpu_avg_pool2d_backward(ember_call *c);
ember_status ember_cpu_adaptive_avg_pool2d_backward(ember_call *c);
ember_status ember_cpu_pad_backward(ember_call *c);
ember_status ember_cpu_interpolate_backward(ember_call *c);

#endif
