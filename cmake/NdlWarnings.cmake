# Strict warnings on ndlaunch's own targets only; never exported to users.
function(ndl_target_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wno-sign-conversion)
  if(NDL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
