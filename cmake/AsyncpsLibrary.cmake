# asyncps_installed_library(<part> <sources...>)
# The static library asyncps_<part> of one installed layer (core, transport,
# client), exported as asyncps::<part>: public headers in <part>/include (the
# installed tree's include/ once installed), private ones in <part>/src, built
# with the project's warnings (not part of its interface).
function(asyncps_installed_library part)
  add_library(asyncps_${part} STATIC ${ARGN})
  add_library(asyncps::${part} ALIAS asyncps_${part})
  set_target_properties(asyncps_${part} PROPERTIES EXPORT_NAME ${part})
  target_include_directories(asyncps_${part}
    PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(asyncps_${part} PRIVATE $<BUILD_INTERFACE:asyncps_warnings>)
endfunction()
