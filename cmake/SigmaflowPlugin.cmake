# sigmaflow_add_plugin(NAME SOURCES src...)
# Builds a node plugin: a shared library with hidden visibility, no undefined symbols, linked
# against the plugin API and LibTorch, placed where the host finds it. The plugin's single entry
# symbol and build record come from SIGMAFLOW_PLUGIN(...) in one of its sources.
function(sigmaflow_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE sigmaflow::plugin_api ${ARG_LIBRARIES})
  if(TARGET sigmaflow_warnings)
    target_link_libraries(${name} PRIVATE sigmaflow_warnings)
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${SIGMAFLOW_PLUGIN_OUTPUT_DIR}")
  if(ARG_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}")
  endif()
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(COMMAND sigmaflow_use_pch)
    sigmaflow_use_pch(${name})
  endif()
endfunction()
