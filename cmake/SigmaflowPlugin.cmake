# sigmaflow_add_plugin(NAME SOURCES src... [LIBRARIES lib...] [OUTPUT_DIR dir])
# Builds a node plugin: a shared library (MODULE) with hidden visibility and no undefined symbols,
# linked against the plugin API (and through it LibTorch). The plugin's single entry symbol and
# its build record (plugin API version, LibTorch version, CPU/CUDA, C++11 ABI, compiler) come from
# SIGMAFLOW_PLUGIN(...) in one of its sources. Used in this tree and by the installed package.
function(sigmaflow_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
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
    sigmaflow_use_pch(${name})
  endif()
endfunction()
