# Chooses safe architecture flags. -march=native is kept only if a known GCC 12.2 AVX-512 wrong-code
# pattern (cmake/native_codegen_check.cpp) compiles correctly with it; otherwise the SLP vectoriser
# is turned off (which avoids it), and if that is not enough we fall back to x86-64-v3 (AVX2).
function(moelab_safe_arch_flags out_var)
  # one string per candidate (a CMake list of lists would flatten)
  foreach(flag_str "-march=native" "-march=native -fno-tree-slp-vectorize" "-march=x86-64-v3")
    separate_arguments(flags UNIX_COMMAND "${flag_str}")
    string(MAKE_C_IDENTIFIER "${flag_str}" id)
    try_run(run_${id} compile_${id} ${CMAKE_BINARY_DIR}/codegen_check_${id}
            ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/native_codegen_check.cpp
            COMPILE_DEFINITIONS -O2 ${flags}
            CXX_STANDARD 20)
    if(compile_${id} AND run_${id} EQUAL 0)
      if(NOT flag_str STREQUAL "-march=native")
        message(WARNING "moelab: ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} miscompiles a constant "
                        "vector with -march=native (see cmake/native_codegen_check.cpp); using: ${flag_str}")
      endif()
      set(${out_var} ${flags} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "moelab: no architecture flags compile cmake/native_codegen_check.cpp correctly")
endfunction()
