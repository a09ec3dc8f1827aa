# SPDX-License-Identifier: Apache-2.0
# The lock-annotation lint (docs/design.md, "Lock annotations"). Clang's
# -Wthread-safety checks every access to a GUARDED_BY member, but says
# nothing about a member that carries no annotation at all. So: in every
# class or struct that owns a shardwal::Mutex (src/foundation/mutex.h), each
# non-static data member must
#   * carry GUARDED_BY(...) or PT_GUARDED_BY(...), or
#   * be a std::atomic (or a reference to one, or a std::array of them), or
#   * be const (a const object, a const pointer, a const reference), or
#   * be a lock or condition variable itself (Mutex, SharedMutex, CondVar), or
#   * say why not, in a comment on its line or the line above:
#     "// unguarded: flush thread only".
# The annotated classes (ANNOTATED below) must not own a std::mutex: the
# analysis cannot see one.
#
# Run as
#   cmake -DROOT=<source dir> -P cmake/check_lock_annotations.cmake
# It reads every .h and .cc under include/, src/, shards/ and recovery/,
# names each class it checked, and fails naming file, line, class and member
# of each one that states no guard. ctest runs it on the tree
# (LockAnnotationCheck) and on a planted violation
# (LockAnnotationCheckCatchesUnguardedMember).
#
# A C++ parser it is not: it follows braces, strings and comments well enough
# for this code base's headers. Not recognised as data members: function
# pointers written without a typedef, and declarations that hide their type
# behind a macro.
cmake_minimum_required(VERSION 3.25)
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P check_lock_annotations.cmake")
endif()

set(folders include src shards recovery)
# Files whose classes were converted to shardwal::Mutex: a std::mutex member
# in them is an error.
set(ANNOTATED shards/shard_log.h shards/compression_worker.h shards/segment_set.h src/commit/durable_watermark.h src/commit/durable_watermark.cc
    src/wal/lifecycle.h src/wal/wal_impl.h src/wal/tailer_registry.h src/wal/watermark_publisher.h)

set(violations "")
set(checked "")

# Appends one violation (file, line, class, member, reason).
macro(violation file line cls what)
  list(APPEND violations "${file}:${line}: ${cls}::${what}")
endmacro()

# Type text of a declaration (CMake strings, templates as <...>, [ ] already
# turned into < >): strips nested template arguments to "<>".
function(strip_templates text out)
  set(t "${text}")
  while(t MATCHES "<[^<>]*>")
    string(REGEX REPLACE "<[^<>]*>" "@T@" t "${t}")
  endwhile()
  string(REPLACE "@T@" "<>" t "${t}")
  set(${out} "${t}" PARENT_SCOPE)
endfunction()

# Checks one statement at class scope. Sets in the caller: member_owns (the
# member is a shardwal Mutex), member_violation (text, empty if fine).
function(check_member stmt excused out_owns out_violation)
  set(${out_owns} FALSE PARENT_SCOPE)
  set(${out_violation} "" PARENT_SCOPE)
  string(REGEX REPLACE "[ \t\r\n]+" " " s "${stmt}")
  string(STRIP "${s}" s)
  # Access specifiers end without a ';' and stick to the next member.
  while(s MATCHES "^(public|private|protected) ?:([^:].*|)$")
    string(REGEX REPLACE "^(public|private|protected) ?:" "" s "${s}")
    string(STRIP "${s}" s)
  endwhile()
  if(s STREQUAL "" OR s MATCHES "^(using|typedef|friend|static|static_assert|template|enum|class|struct|union|namespace|~|#)([^A-Za-z0-9_]|$)"
     OR s MATCHES "^(constexpr|inline|virtual|explicit|operator)([^A-Za-z0-9_]|$)")
    return()
  endif()
  set(guarded FALSE)
  if(s MATCHES "(^|[^A-Za-z0-9_])(PT_)?GUARDED_BY ?\\(")
    set(guarded TRUE)
  endif()
  # Attributes and annotation macros out: GUARDED_BY(mu_), alignas(64), <<nodiscard>>.
  string(REGEX REPLACE "(^|[^A-Za-z0-9_])(alignas|[A-Z][A-Z_]*) ?\\([^()]*\\)" "\\1" s "${s}")
  string(REGEX REPLACE "<<[^<>]*>>" "" s "${s}")
  string(STRIP "${s}" s)
  set(original "${s}")
  strip_templates("${s}" s)
  # The declarator part: up to '=' or a brace initialiser ("{}", left by the caller).
  string(REGEX REPLACE " ?=[^,]*" "" decl "${s}")
  string(REPLACE "{}" "" decl "${decl}")
  if(decl MATCHES "\\(")
    return()  # a function (or constructor, or operator)
  endif()
  string(REGEX REPLACE "^mutable " "" decl "${decl}")
  string(STRIP "${decl}" decl)
  # "type a, b, c": the names, and the type (the first declarator less its name).
  string(REPLACE "," ";" parts "${decl}")
  set(names "")
  set(type "")
  foreach(part IN LISTS parts)
    string(STRIP "${part}" part)
    string(REGEX REPLACE "<>$" "" part "${part}")  # an array bound
    if(NOT part MATCHES "([A-Za-z_][A-Za-z0-9_]*)$")
      return()  # not a declaration this lint understands
    endif()
    list(APPEND names "${CMAKE_MATCH_1}")
    if(type STREQUAL "")
      string(REGEX REPLACE "[A-Za-z_][A-Za-z0-9_]*$" "" type "${part}")
      string(STRIP "${type}" type)
    endif()
  endforeach()
  if(type STREQUAL "" OR type MATCHES "^(return|goto|break|continue|delete|throw)$")
    return()
  endif()
  string(REPLACE ";" ", " names_text "${names}")
  string(REGEX REPLACE "^mutable " "" original_type "${original}")
  if(type MATCHES "^(shardwal::)?(Shared)?Mutex$")
    set(${out_owns} TRUE PARENT_SCOPE)
    return()
  endif()
  if(guarded OR excused)
    return()
  endif()
  if(type MATCHES "^(shardwal::)?CondVar$" OR type MATCHES "^std::condition_variable(_any)?$")
    return()
  endif()
  if(type MATCHES "^std::(mutex|shared_mutex|recursive_mutex|timed_mutex)$")
    return()  # reported for the annotated files by the caller
  endif()
  if(original_type MATCHES "^(const )?std::atomic<.*> ?&?[ ]*[A-Za-z_]" AND NOT type MATCHES "\\*")
    return()  # an atomic, or a reference to one
  endif()
  if(original_type MATCHES "^(const )?std::array<std::atomic<")
    return()
  endif()
  if(type MATCHES "^const " AND NOT type MATCHES "\\*")
    return()  # a const object or reference
  endif()
  if(type MATCHES "\\* ?const$")
    return()  # a const pointer
  endif()
  set(${out_violation} "${names_text} (type ${type}): no GUARDED_BY, and neither atomic, const nor a lock: add GUARDED_BY(<its mutex>) or a \"// unguarded: <why>\" comment" PARENT_SCOPE)
endfunction()

set(files "")
foreach(folder IN LISTS folders)
  if(IS_DIRECTORY "${ROOT}/${folder}")
    file(GLOB_RECURSE found RELATIVE "${ROOT}" "${ROOT}/${folder}/*.h" "${ROOT}/${folder}/*.cc")
    list(APPEND files ${found})
  endif()
endforeach()
list(SORT files)

set(class_counter 0)
foreach(source IN LISTS files)
  file(READ "${ROOT}/${source}" content)
  if(NOT content MATCHES "Mutex|std::mutex")
    continue()  # nothing to check: quick
  endif()
  list(FIND ANNOTATED "${source}" annotated_index)
  # One CMake list element per line: ';' and '[' ']' would confuse lists.
  string(REPLACE ";" "@S@" content "${content}")
  string(REPLACE "[" "<" content "${content}")
  string(REPLACE "]" ">" content "${content}")
  string(REPLACE "\\\\" "" content "${content}")  # escaped backslashes (strings below)
  string(REPLACE "\n" ";" lines "${content}")

  set(stack "")          # scopes, innermost last: "C<id>" (class) or "O" (other)
  set(stmt "")           # the statement being read at the current scope
  set(stmt_line 0)
  set(stmt_excused FALSE)
  set(prev_comment_excuse FALSE)  # the line above was a comment saying "unguarded:"
  set(in_block FALSE)
  set(line_no 0)
  foreach(line IN LISTS lines)
    math(EXPR line_no "${line_no} + 1")
    set(code "${line}")
    # Block comments (possibly spanning lines).
    if(in_block)
      if(code MATCHES "\\*/(.*)$")
        set(code "${CMAKE_MATCH_1}")
        set(in_block FALSE)
      else()
        continue()
      endif()
    endif()
    string(REGEX REPLACE "/\\*([^*]|\\*[^/])*\\*/" " " code "${code}")
    # Strings and character literals out (they may hold braces or "//").
    string(REGEX REPLACE "\\\\\"" "" code "${code}")
    string(REGEX REPLACE "\"[^\"]*\"" "\"\"" code "${code}")
    string(REGEX REPLACE "'[^']'" "''" code "${code}")
    string(REGEX REPLACE "'\\\\.'" "''" code "${code}")
    set(comment "")
    if(code MATCHES "//(.*)$")
      set(comment "${CMAKE_MATCH_1}")
      string(REGEX REPLACE "//.*$" "" code "${code}")
    endif()
    if(code MATCHES "/\\*")
      string(REGEX REPLACE "/\\*.*$" "" code "${code}")
      set(in_block TRUE)
    endif()
    if(code MATCHES "^[ \t]*#")
      set(code "")  # preprocessor
    endif()
    set(line_excuse FALSE)
    if(comment MATCHES "unguarded:")
      set(line_excuse TRUE)
    endif()
    string(STRIP "${code}" code_stripped)
    if(code_stripped STREQUAL "")
      set(prev_comment_excuse ${line_excuse})
      continue()
    endif()

    if(line_excuse AND NOT stmt MATCHES "^[ ]*$")
      set(stmt_excused TRUE)  # the comment is on a line of the statement read so far
    endif()
    string(REPLACE "{" "@O@" code "${code}")
    string(REPLACE "}" "@C@" code "${code}")
    string(REGEX MATCHALL "@[OCS]@|[^@]+" tokens "${code}")
    foreach(tok IN LISTS tokens)
      list(LENGTH stack depth)
      set(top "")
      if(depth GREATER 0)
        list(GET stack -1 top)
      endif()
      if(tok STREQUAL "@O@")
        string(STRIP "${stmt}" st)
        string(REGEX REPLACE "(alignas|CAPABILITY) ?\\([^()]*\\)|SCOPED_CAPABILITY|<<[^<>]*>>" "" st_clean "${st}")
        string(REGEX REPLACE "^.*(public|private|protected) ?:([^:])" "\\2" st_clean "${st_clean}")
        string(STRIP "${st_clean}" st_clean)
        if(NOT st_clean MATCHES "(^|[^A-Za-z0-9_])enum([^A-Za-z0-9_]|$)"
           AND st_clean MATCHES "^(template ?<.*> ?)?(class|struct|union) +([A-Za-z_][A-Za-z0-9_:]*)[^()]*$")
          math(EXPR class_counter "${class_counter} + 1")
          set(id ${class_counter})
          set(cls_${id}_name "${CMAKE_MATCH_3}")
          set(cls_${id}_owns FALSE)
          set(cls_${id}_bad "")
          list(APPEND stack "C${id}")
          set(stmt "")
        else()
          # A function body, namespace, enum, or a brace initialiser. At class
          # scope, keep the statement: "x_{0};" is still a member.
          if(top MATCHES "^C")
            list(APPEND stack "O:${stmt}{}")
          else()
            list(APPEND stack "O")
          endif()
          set(stmt "")
        endif()
        continue()
      endif()
      if(tok STREQUAL "@C@")
        if(depth EQUAL 0)
          continue()  # unbalanced: ignore
        endif()
        list(POP_BACK stack popped)
        if(popped MATCHES "^C([0-9]+)$")
          set(id ${CMAKE_MATCH_1})
          if(cls_${id}_owns)
            list(APPEND checked "${cls_${id}_name} (${source})")
            foreach(bad IN LISTS cls_${id}_bad)
              list(APPEND violations "${bad}")
            endforeach()
          endif()
          set(stmt "")
        elseif(popped MATCHES "^O:(.*)$")
          # Back at class scope: a member function's body ended (the
          # statement had a parameter list), or a brace initialiser did.
          set(saved "${CMAKE_MATCH_1}")
          strip_templates("${saved}" saved_plain)
          string(REGEX REPLACE "(^|[^A-Za-z0-9_])(alignas|[A-Z][A-Z_]*) ?\\([^()]*\\)" "\\1" saved_plain "${saved_plain}")
          string(REGEX REPLACE "=.*$" "" saved_plain "${saved_plain}")
          if(saved_plain MATCHES "\\(")
            set(stmt "")
          else()
            set(stmt "${saved}")
          endif()
        else()
          set(stmt "")
        endif()
        continue()
      endif()
      if(tok STREQUAL "@S@")
        if(top MATCHES "^C([0-9]+)$")
          set(id ${CMAKE_MATCH_1})
          check_member("${stmt}" ${stmt_excused} owns bad)
          if(owns)
            set(cls_${id}_owns TRUE)
          endif()
          if(NOT bad STREQUAL "")
            list(APPEND cls_${id}_bad "${source}:${stmt_line}: ${cls_${id}_name}::${bad}")
          endif()
          string(REGEX REPLACE "[ \t]+" " " flat "${stmt}")
          if(annotated_index GREATER -1 AND flat MATCHES "std::(mutex|shared_mutex|recursive_mutex)[ >]")
            if(NOT flat MATCHES "\\(")
              list(APPEND violations "${source}:${stmt_line}: ${cls_${id}_name}: a std::mutex member: annotated classes use shardwal::Mutex (src/foundation/mutex.h)")
            endif()
          endif()
        endif()
        set(stmt "")
        continue()
      endif()
      # Text: part of the current statement.
      string(STRIP "${stmt}" before)
      if(before STREQUAL "")
        set(stmt_line ${line_no})
        set(stmt_excused FALSE)
        if(prev_comment_excuse OR line_excuse)
          set(stmt_excused TRUE)
        endif()
      endif()
      set(stmt "${stmt} ${tok}")
    endforeach()
    if(line_excuse)
      set(stmt_excused TRUE)
    endif()
    set(prev_comment_excuse FALSE)
  endforeach()
endforeach()

list(LENGTH checked n_checked)
string(REPLACE ";" "\n  " checked_text "${checked}")
message("lock annotations: ${n_checked} classes own a shardwal::Mutex:\n  ${checked_text}")
if(violations)
  list(LENGTH violations n)
  string(REPLACE ";" "\n  " text "${violations}")
  message(FATAL_ERROR "lock annotations: ${n} problem(s) (docs/design.md, \"Lock annotations\"):\n  ${text}")
endif()
message("lock annotations: every member of those classes states its guard")
