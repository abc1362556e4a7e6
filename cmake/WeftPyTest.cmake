# weft_py_test(<name> <script> [ARGS ...] [LABELS ...] [TIMEOUT s]): a Python
# test (Debian's /usr/bin/python3) that finds weft through WEFT_BIN. Exit
# code 77 is a loud skip; under WEFT_REQUIRE_BPF=1 the scripts fail instead.
function(weft_py_test name script)
  cmake_parse_arguments(T "" "TIMEOUT" "ARGS;LABELS" ${ARGN})
  add_test(NAME ${name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/${script} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "WEFT_BIN=$<TARGET_FILE:weft>;WEFT_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
