# sigmaflow_add_plugin(NAME SOURCES src... [LIBRARIES lib...] [OUTPUT_DIR dir] [PCH])
# Builds a node plugin: a shared library (MODULE) with hidden visibility and no undefined symbols,
# linked against the plugin API (and through it LibTorch). The plugin's single entry symbol and
# its build record (plugin API version, LibTorch version, CPU/CUDA, C++11 ABI, compiler) come from
# SIGMAFLOW_PLUGIN(...) in one of its sources. Used in this tree and by the installed package.
#
# PCH: precompile <sigmaflow/pch.h> (ATen and the plugin API) once for the target, so each source
#      file skips parsing LibTorch's headers.
#
# At the end of the directory's configure step the target's compile flags are checked: a
# _GLIBCXX_USE_CXX11_ABI value other than the host's is a configure error (LibTorch would
# otherwise silently append its own flag, and the plugin could not be loaded anyway).
function(_sigmaflow_check_abi target)
  get_target_property(defs ${target} COMPILE_DEFINITIONS)
  get_target_property(opts ${target} COMPILE_OPTIONS)
  get_directory_property(dir_defs COMPILE_DEFINITIONS)
  get_directory_property(dir_opts COMPILE_OPTIONS)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" _type)
  set(all "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_type}} ${defs} ${opts} ${dir_defs} ${dir_opts}")
  string(REGEX MATCHALL "_GLIBCXX_USE_CXX11_ABI=[0-9]" found "${all}")
  foreach(f IN LISTS found)
    string(REGEX REPLACE ".*=" "" value "${f}")
    if(NOT value STREQUAL "${SIGMAFLOW_CXX11_ABI}")
      message(FATAL_ERROR "sigmaflow plugin '${target}' sets _GLIBCXX_USE_CXX11_ABI=${value}, but the sigmaflow "
                          "host and LibTorch were built with _GLIBCXX_USE_CXX11_ABI=${SIGMAFLOW_CXX11_ABI}: the "
                          "plugin's C++ symbols could not match. Remove the flag.")
    endif()
  endforeach()
endfunction()

function(sigmaflow_add_plugin name)
  cmake_parse_arguments(ARG "PCH" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE sigmaflow::plugin_api ${ARG_LIBRARIES})
  if(TARGET sigmaflow_warnings)
    target_link_libraries(${name} PRIVATE sigmaflow_warnings)
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    POSITION_INDEPENDENT_CODE ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}")
  elseif(SIGMAFLOW_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${SIGMAFLOW_PLUGIN_OUTPUT_DIR}")
  endif()
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(COMMAND sigmaflow_use_pch)
    sigmaflow_use_pch(${name})  # in the sigmaflow tree: the shared precompiled ATen header
  elseif(ARG_PCH)
    target_precompile_headers(${name} PRIVATE <sigmaflow/pch.h>)
  endif()
  # Arguments of a deferred call are evaluated when it runs: bake the name in now.
  cmake_language(EVAL CODE "cmake_language(DEFER CALL _sigmaflow_check_abi [[${name}]])")
endfunction()
