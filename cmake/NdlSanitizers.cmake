# NDL_BUILD_FUZZERS builds everything with ASan+UBSan and libFuzzer's coverage
# instrumentation (-fsanitize=fuzzer-no-link); the targets in fuzz/ link libFuzzer's main.
if(NDL_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "NDL_BUILD_FUZZERS=ON needs Clang (libFuzzer), but the C++ compiler is "
                        "${CMAKE_CXX_COMPILER_ID}: use the fuzz preset (cmake --preset fuzz) or "
                        "-DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(NOT NDL_SANITIZE STREQUAL "" AND NOT NDL_SANITIZE STREQUAL "address")
    message(FATAL_ERROR "NDL_BUILD_FUZZERS=ON builds with ASan+UBSan; it cannot be combined "
                        "with NDL_SANITIZE=${NDL_SANITIZE}")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
# NDL_SANITIZE=address builds everything with ASan+UBSan, NDL_SANITIZE=thread with TSan.
if(NDL_SANITIZE STREQUAL "address" OR NDL_BUILD_FUZZERS)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(NDL_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT NDL_SANITIZE STREQUAL "")
  message(FATAL_ERROR "NDL_SANITIZE must be empty, 'address' or 'thread', not '${NDL_SANITIZE}'")
endif()
