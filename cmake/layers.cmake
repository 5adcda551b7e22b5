# Layering: a library target sees only its own folder's headers and those of the targets it links.
# Each target publishes an include tree of its own under the build directory (symbolic links to
# its source folder), instead of the project root, so `#include "pooler/x/y.h"` from a folder
# that does not link x's target fails to build.
#
#   shardpool_library(<target> <folder> [HEADERS_ONLY])
# builds <folder>/*.cpp into a static library <target> and publishes <folder>. With HEADERS_ONLY
# the folder's own headers are linked one by one (not its subfolders, which are targets of
# their own).
function(shardpool_library target folder)
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.cpp)
  add_library(${target} STATIC ${sources})
  set(root ${CMAKE_BINARY_DIR}/layers/${target})
  if("HEADERS_ONLY" IN_LIST ARGN)
    file(GLOB headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.h)
    file(REMOVE_RECURSE ${root}/${folder})
    file(MAKE_DIRECTORY ${root}/${folder})
    foreach(h IN LISTS headers)
      get_filename_component(name ${h} NAME)
      file(CREATE_LINK ${h} ${root}/${folder}/${name} SYMBOLIC)
    endforeach()
  else()
    get_filename_component(parent ${root}/${folder} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
  endif()
  target_include_directories(${target} PUBLIC ${root})
endfunction()
