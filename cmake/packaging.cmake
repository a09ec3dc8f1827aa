# SPDX-License-Identifier: Apache-2.0
# CPack: `cpack -G DEB` in a build directory makes one .deb per install
# component (CMakeLists.txt):
#   shared build (BUILD_SHARED_LIBS=ON), the Debian way:
#     libshardwal0.1  - runtime: libshardwal.so.0.1 (and _http, _testing, _ship), named after the SONAME
#     libshardwal-dev - headers, the .so links, CMake and pkg-config files; depends on libshardwal0.1 (= version)
#   static build (default):
#     libshardwal-dev - headers, the static libraries, CMake and pkg-config files
#   both, with SHARDWAL_BUILD_TOOLS:
#     shardwal-tools  - the `shardwal` CLI. It uses internals, so it links the
#                       library statically in either build: no libshardwal0.1 dependency.
# Dependencies on other packages come from dpkg-shlibdeps (binaries) and the
# lists below (-dev packages: what a consumer's compile and link needs).
set(CPACK_PACKAGE_NAME shardwal)
set(CPACK_PACKAGE_VENDOR "The shardwal authors")
set(CPACK_PACKAGE_CONTACT "shardwal dev <dev@shardwal.invalid>")  # as in the git history
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPackDeb would put it above each
# package's own synopsis (the first line of CPACK_DEBIAN_<COMPONENT>_DESCRIPTION).
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_GENERATOR DEB)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Our own libraries, for dpkg-shlibdeps on libshardwal_http.so (-> libshardwal.so.0.1).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
# No Debian changelog: a locally built package, not one for the archive.

set(SHARDWAL_DEB_VERSION "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")
set(SHARDWAL_RUNTIME_PACKAGE libshardwal${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})

set(CPACK_COMPONENT_DEV_DISPLAY_NAME "shardwal development files")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libshardwal-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${SHARDWAL_RUNTIME_PACKAGE})
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME shardwal-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION
  "Command-line tool for the shardwal write-ahead log\nshardwal verify, dump, stats, replay, checkpoint and recover operate a WAL;\nshardwal bench and demo measure one.")

if(BUILD_SHARED_LIBS)
  set(CPACK_COMPONENTS_ALL runtime dev)
  set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
    "Multi-writer, partitioned write-ahead log for C++20 (shared libraries)\nMany writer threads append records with gap-free global LSNs over N shard logs,\neach with its own group-commit flush thread and segment files.")
  set(CPACK_DEBIAN_DEV_DESCRIPTION
    "Multi-writer, partitioned write-ahead log for C++20 (development files)\nHeaders, the .so links, the CMake package (find_package(shardwal)) and\nthe pkg-config files (shardwal, shardwal-http, shardwal-ship).")
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${SHARDWAL_RUNTIME_PACKAGE} (= ${SHARDWAL_DEB_VERSION})")
else()
  set(CPACK_COMPONENTS_ALL dev)
  set(CPACK_DEBIAN_DEV_DESCRIPTION
    "Multi-writer, partitioned write-ahead log for C++20 (static libraries)\nHeaders, the static libraries, the CMake package (find_package(shardwal))\nand the pkg-config files (shardwal, shardwal-http, shardwal-ship).")
  # A static consumer links what libshardwal.a links (CMake and pkg-config
  # files name them).
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libisal-dev, libxxhash-dev, liblz4-dev, libzstd-dev, pkg-config")
  # shardwal::http (the http component, shardwal-http.pc) also needs
  # cpp-httplib, shardwal::ship (ship, shardwal-ship.pc) libnats.
  set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "libcpp-httplib-dev, libnats-dev")
endif()
if(SHARDWAL_BUILD_TOOLS)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()

# The license (Apache-2.0), where Debian keeps it: /usr/share/doc/<package>/copyright.
foreach(component IN LISTS CPACK_COMPONENTS_ALL)
  string(TOUPPER ${component} upper)
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE RENAME copyright
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_${upper}_PACKAGE_NAME} COMPONENT ${component})
endforeach()

include(CPack)
