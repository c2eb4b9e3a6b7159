# ndl_bench_workgroups: nd-range kernels with barriers (tiled matmul, tree reduction) against
# the same algorithms as plain OpenMP loops and as OpenCL C run by PoCL; barrier-free nd-range
# against range launches; the cost of one barrier (DESIGN.md section 3).
# Included from benchmarks/CMakeLists.txt, which provides benchmark::benchmark, OpenMP and
# ndl_bench_commit.
# Run: ./build/<preset>/benchmarks/ndl_bench_workgroups [--json=FILE] [--rounds=N]
#      or: cmake --build build/<preset> --target bench_workgroups_run
#      or: scripts/bench-workgroups.sh (installs the packages, builds the release preset, runs)

# PoCL is optional: without the OpenCL headers and ICD loader (Debian: ocl-icd-opencl-dev,
# opencl-headers; the PoCL driver itself is pocl-opencl-icd, needed only at run time) the
# benchmark still builds and reports PoCL as not available.
option(NDL_BENCH_OPENCL "Compare ndl_bench_workgroups against OpenCL (PoCL) when found" ON)
# Off by default: the benchmark is built with the project's flags, as users build kernels.
# PoCL compiles its kernels for the host CPU (for example AVX2 + FMA); turn this on to give
# the C++ contenders the same instruction set.
option(NDL_BENCH_NATIVE "Build ndl_bench_workgroups with -march=native" OFF)

# The OpenCL C kernels are embedded as a string, so the executable runs from any directory.
set(ndl_wg_cl_file ${CMAKE_CURRENT_SOURCE_DIR}/workgroups_kernels.cl)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ndl_wg_cl_file})
file(READ ${ndl_wg_cl_file} ndl_wg_cl_source)
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/generated/workgroups_kernels_cl.hpp
     CONTENT "// Generated from benchmarks/workgroups_kernels.cl by workgroups.cmake; do not edit.
#pragma once
inline constexpr const char workgroups_kernels_cl[] = R\"ndlcl(@ndl_wg_cl_source@)ndlcl\";
"
     @ONLY)

add_executable(ndl_bench_workgroups workgroups.cpp)
target_include_directories(ndl_bench_workgroups PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
target_link_libraries(ndl_bench_workgroups
  PRIVATE ndl::ndl benchmark::benchmark OpenMP::OpenMP_CXX)
string(TOUPPER "${CMAKE_BUILD_TYPE}" ndl_wg_build_type)
set(ndl_wg_flags "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${ndl_wg_build_type}}")
if(NDL_BENCH_NATIVE)
  target_compile_options(ndl_bench_workgroups PRIVATE -march=native)
  string(APPEND ndl_wg_flags " -march=native")
endif()
string(STRIP "${ndl_wg_flags}" ndl_wg_flags)
target_compile_definitions(ndl_bench_workgroups PRIVATE
  NDL_BENCH_COMMIT="${ndl_bench_commit}"
  NDL_BENCH_BUILD="${CMAKE_BUILD_TYPE}"
  NDL_BENCH_FLAGS="${ndl_wg_flags}")
ndl_target_warnings(ndl_bench_workgroups)

if(NDL_BENCH_OPENCL)
  find_package(OpenCL QUIET)
endif()
if(NDL_BENCH_OPENCL AND OpenCL_FOUND)
  target_link_libraries(ndl_bench_workgroups PRIVATE OpenCL::OpenCL)
  target_compile_definitions(ndl_bench_workgroups PRIVATE
    NDL_BENCH_HAVE_OPENCL=1 CL_TARGET_OPENCL_VERSION=120)
  message(STATUS "ndl_bench_workgroups: comparing against OpenCL ${OpenCL_VERSION_STRING} (PoCL at run time)")
else()
  message(STATUS "ndl_bench_workgroups: OpenCL not found (Debian: ocl-icd-opencl-dev "
                 "opencl-headers); PoCL will be reported as not available")
endif()

# Runs the benchmark and writes workgroups.json into the build's benchmarks/ folder.
add_custom_target(bench_workgroups_run
  COMMAND ndl_bench_workgroups --json=${CMAKE_CURRENT_BINARY_DIR}/workgroups.json
  DEPENDS ndl_bench_workgroups
  WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
  USES_TERMINAL
  COMMENT "ndl_bench_workgroups: nd-range kernels vs loops vs PoCL (JSON: ${CMAKE_CURRENT_BINARY_DIR}/workgroups.json)")
