/* Every op of the public op API (engine/include/genmoji/ops_*.h), one GMT_OP(name) a
 * function, in the headers' order. test_op_coverage fails when a GM_API function of those
 * headers is missing here or listed here but gone, and when an op listed here has no
 * passing case in any op suite (test_ops_*.c): an op case's .op, or gmt_cover() in a test
 * that checks the op's values without one. As ggml's test-backend-ops, a new op cannot
 * land without its test. */
/* ops_attention.h */
GMT_OP(gm_attention)
GMT_OP(gm_cross_attention)
/* ops_conv.h */
GMT_OP(gm_conv2d)
GMT_OP(gm_conv_mask_fill)
GMT_OP(gm_conv_mask_taps)
GMT_OP(gm_conv_transpose2x2)
/* ops_diffusion.h */
GMT_OP(gm_diffusion_timesteps)
GMT_OP(gm_diffusion_q_sample)
GMT_OP(gm_diffusion_step)
GMT_OP(gm_diffusion_to_pixels)
/* ops_dropout.h */
GMT_OP(gm_dropout)
/* ops_elementwise.h */
GMT_OP(gm_add)
GMT_OP(gm_sub)
GMT_OP(gm_mul)
GMT_OP(gm_scale)
GMT_OP(gm_add_scalar)
GMT_OP(gm_relu)
GMT_OP(gm_silu)
GMT_OP(gm_gelu)
GMT_OP(gm_tanh)
GMT_OP(gm_sigmoid)
GMT_OP(gm_clamp)
GMT_OP(gm_add_channel)
GMT_OP(gm_add_bias)
/* ops_embed.h */
GMT_OP(gm_sinusoidal_embedding)
/* ops_linear.h */
GMT_OP(gm_linear)
/* ops_loss.h */
GMT_OP(gm_cross_entropy)
GMT_OP(gm_cross_entropy_each)
GMT_OP(gm_cross_entropy_check_targets)
GMT_OP(gm_softmax)
GMT_OP(gm_mse)
GMT_OP(gm_sum)
GMT_OP(gm_mean)
/* ops_norm.h */
GMT_OP(gm_batchnorm)
GMT_OP(gm_groupnorm)
GMT_OP(gm_counter_add)
/* ops_pixel.h */
GMT_OP(gm_quantize)
GMT_OP(gm_window)
GMT_OP(gm_window_write)
GMT_OP(gm_gate)
GMT_OP(gm_conv2d_window)
GMT_OP(gm_conv2d_point_weights)
GMT_OP(gm_conv2d_point)
GMT_OP(gm_pixel_put)
/* ops_shape.h */
GMT_OP(gm_maxpool2x2)
GMT_OP(gm_upsample2x)
GMT_OP(gm_concat_channels)
GMT_OP(gm_slice_channels)
GMT_OP(gm_reshape)
GMT_OP(gm_permute)
/* ops_text.h */
GMT_OP(gm_embedding_lookup)
GMT_OP(gm_masked_mean)
GMT_OP(gm_attention_pool)
