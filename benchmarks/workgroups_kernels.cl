// The OpenCL C kernels of ndl_bench_workgroups: the same algorithms as the ndlaunch kernels in
// workgroups.cpp, run by PoCL on the same CPU. The file is embedded into the benchmark at
// build time (workgroups.cmake) and built with clBuildProgram at start-up.
//
// Dimension 0 is OpenCL's fastest-moving one (x); ndlaunch's fastest is its last dimension.
// So the matmul's column index is get_global_id(0) here and it.get_global_id(1) in ndlaunch:
// in both, consecutive work-items of a group touch consecutive columns.

#define TILE 16

// C = A * B for n x n row-major matrices, n a multiple of TILE; work-groups of TILE x TILE.
// For each tile along the inner dimension every work-item loads one element of an A tile and
// one of a B tile into local memory, the group waits, each work-item accumulates TILE
// products, and the group waits again before the next tiles overwrite these.
__kernel void matmul_tiled(__global const float* a, __global const float* b, __global float* c,
                           uint n) {
  __local float a_tile[TILE][TILE];
  __local float b_tile[TILE][TILE];
  const size_t col = get_global_id(0), row = get_global_id(1);
  const size_t lc = get_local_id(0), lr = get_local_id(1);
  float acc = 0.0f;
  for (size_t k0 = 0; k0 < n; k0 += TILE) {
    a_tile[lr][lc] = a[row * n + k0 + lc];
    b_tile[lr][lc] = b[(k0 + lr) * n + col];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t k = 0; k < TILE; ++k)
      acc += a_tile[lr][k] * b_tile[k][lc];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  c[row * n + col] = acc;
}

// One partial sum per work-group: each work-item copies its element into local memory, then
// the group halves the number of active work-items per step, with a barrier before each step,
// until work-item 0 holds the group's sum (numba-dpex's sum_reduction_tree).
__kernel void reduce_tree(__global const float* x, __global float* partial, __local float* loc) {
  const size_t lid = get_local_id(0);
  loc[lid] = x[get_global_id(0)];
  for (size_t stride = get_local_size(0) / 2; stride > 0; stride >>= 1) {
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < stride) loc[lid] += loc[lid + stride];
  }
  if (lid == 0) partial[get_group_id(0)] = loc[0];
}

// k barriers and almost no work: out[i] = local id + k.
__kernel void barriers(__global float* out, int k) {
  float v = (float)get_local_id(0);
  for (int r = 0; r < k; ++r) {
    barrier(CLK_LOCAL_MEM_FENCE);
    v += 1.0f;
  }
  out[get_global_id(0)] = v;
}
