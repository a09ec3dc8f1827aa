# SPDX-License-Identifier: Apache-2.0
# The layering check (docs/architecture.md): every #include "..." in a layer's
# folder may name only that folder or a layer below it. Run as
#   cmake -DROOT=<source dir> -P cmake/check_layering.cmake
# It prints the include graph by folder (how many includes go from each
# folder to each other one) and fails, naming the file, the line and the
# include, on the first upward or sideways include. ctest runs it on the tree
# (LayeringCheck) and on a planted violation (LayeringCheckCatchesUpwardInclude).
cmake_minimum_required(VERSION 3.25)
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P check_layering.cmake")
endif()

# Layer folders, bottom up, and the folders each may include besides itself.
# "shardwal" is include/shardwal (the public headers), "shardwal/testing" its
# testing/ subfolder. tests/ may include anything and is not checked.
set(library shardwal src/foundation src/commit src/observability shards recovery src/wal)
set(allowed_include/shardwal          shardwal)
set(allowed_include/shardwal/testing  shardwal shardwal/testing)
set(allowed_src/foundation            shardwal src/foundation)
set(allowed_src/commit                shardwal src/foundation src/commit)
set(allowed_src/observability         shardwal src/foundation src/observability)
set(allowed_shards                    shardwal src/foundation src/commit src/observability shards)
set(allowed_recovery                  shardwal src/foundation src/commit src/observability recovery)
set(allowed_src/wal                   ${library})
set(allowed_src/http                  ${library} src/http)
set(allowed_src/ship                  ${library} src/ship)
set(allowed_src/testing               shardwal shardwal/testing src/foundation src/testing)
set(allowed_bench                     ${library} shardwal/testing src/http src/ship bench)
set(allowed_tools                     ${library} src/http src/ship bench tools)
set(allowed_examples                  shardwal shardwal/testing)
set(folders include/shardwal include/shardwal/testing src/foundation src/commit src/observability
    shards recovery src/wal src/http src/ship src/testing bench tools examples)

# The folder an include names: "src/wal/wal_impl.h" -> src/wal,
# "shardwal/testing/x.h" -> shardwal/testing, "shards/x.h" -> shards.
function(include_folder path out)
  if(path MATCHES "^shardwal/testing/")
    set(${out} shardwal/testing PARENT_SCOPE)
  elseif(path MATCHES "^(src/[a-z_]+)/")
    set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
  elseif(path MATCHES "^([a-z_]+)/")
    set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)  # same-folder include without a path
  endif()
endfunction()

set(violations "")
set(graph "")
foreach(folder IN LISTS folders)
  if(NOT IS_DIRECTORY "${ROOT}/${folder}")
    continue()
  endif()
  file(GLOB sources RELATIVE "${ROOT}" "${ROOT}/${folder}/*.h" "${ROOT}/${folder}/*.cc")
  set(allowed ${allowed_${folder}})
  string(REPLACE ";" ", " allowed_text "${allowed}")
  set(self ${folder})
  if(folder MATCHES "^include/(.*)")
    set(self ${CMAKE_MATCH_1})
  endif()
  foreach(source IN LISTS sources)
    file(STRINGS "${ROOT}/${source}" lines REGEX "^[ \t]*#[ \t]*include[ \t]+\"")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([^\"]+)\".*" "\\1" path "${line}")
      include_folder("${path}" target)
      if(target STREQUAL "" OR target STREQUAL self)
        continue()
      endif()
      list(APPEND graph "${self} -> ${target}")
      if(NOT target IN_LIST allowed)
        list(APPEND violations "${source}: #include \"${path}\": ${self} may include only ${allowed_text}")
      endif()
    endforeach()
  endforeach()
endforeach()

# The graph: "count  from -> to", one line per pair of folders.
list(SORT graph)
set(previous "")
set(count 0)
foreach(edge IN LISTS graph ITEMS "")
  if(edge STREQUAL previous)
    math(EXPR count "${count} + 1")
    continue()
  endif()
  if(NOT previous STREQUAL "")
    message("  ${count}\t${previous}")
  endif()
  set(previous "${edge}")
  set(count 1)
endforeach()

if(violations)
  list(LENGTH violations n)
  string(REPLACE ";" "\n  " text "${violations}")
  message(FATAL_ERROR "layering check: ${n} include(s) point up or sideways:\n  ${text}")
endif()
message("layering check: every include points down (docs/architecture.md)")
