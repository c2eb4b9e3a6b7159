# Strict warnings on ndlaunch's own targets only; never exported to users.
function(ndl_target_warnings target)
  set(flags -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
            -Wno-sign-conversion)
  # GCC 12's -Wrestrict misfires inside std::string at -O3 (GCC bug 105329).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    list(APPEND flags -Wno-restrict)
  endif()
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${flags}>)
  if(NDL_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
  # nvcc: the host compiler's main warnings, and nvcc's own; -Wpedantic and -Wshadow are
  # left out (the CUDA front end's generated code trips them), and so is GCC 12's -Wrestrict,
  # which misfires on std::string at -O3 in the code nvcc hands it.
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-restrict>)
  if(NDL_WERROR)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Werror>)
  endif()
endfunction()
