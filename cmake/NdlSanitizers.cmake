# NDL_SANITIZE=address builds everything with ASan+UBSan, NDL_SANITIZE=thread with TSan.
if(NDL_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(NDL_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT NDL_SANITIZE STREQUAL "")
  message(FATAL_ERROR "NDL_SANITIZE must be empty, 'address' or 'thread', not '${NDL_SANITIZE}'")
endif()
