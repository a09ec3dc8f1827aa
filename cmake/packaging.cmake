# SPDX-License-Identifier: Apache-2.0
# CPack: `cpack -G DEB` in a build directory makes one .deb per install
# component (CMakeLists.txt):
#   shared build (BUILD_SHARED_LIBS=ON), the Debian way:
#     libshardwal0.1  - runtime: libshardwal.so.0.1 (and _http, _testing), named after the SONAME
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
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Multi-writer, partitioned write-ahead log for C++20")
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
# No Debian changelog or copyright file: a locally built package, not one for the archive.

set(SHARDWAL_DEB_VERSION "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")
set(SHARDWAL_RUNTIME_PACKAGE libshardwal${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})

set(CPACK_COMPONENT_DEV_DISPLAY_NAME "shardwal development files")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libshardwal-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${SHARDWAL_RUNTIME_PACKAGE})
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME shardwal-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
  "Command-line tool for the shardwal write-ahead log\n shardwal verify, dump, stats, replay, checkpoint, recover, bench and demo.")

if(BUILD_SHARED_LIBS)
  set(CPACK_COMPONENTS_ALL runtime dev)
  set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "Multi-writer, partitioned write-ahead log for C++20 (shared libraries)\n Many writer threads append records with gap-free global LSNs over N shard logs,\n each with its own group-commit flush thread and segment files.")
  set(CPACK_COMPONENT_DEV_DESCRIPTION
    "Multi-writer, partitioned write-ahead log for C++20 (development files)\n Headers, the .so links, CMake package (find_package(shardwal)) and pkg-config files.")
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${SHARDWAL_RUNTIME_PACKAGE} (= ${SHARDWAL_DEB_VERSION})")
else()
  set(CPACK_COMPONENTS_ALL dev)
  set(CPACK_COMPONENT_DEV_DESCRIPTION
    "Multi-writer, partitioned write-ahead log for C++20 (static libraries)\n Headers, static libraries, CMake package (find_package(shardwal)) and pkg-config files.")
  # A static consumer links what libshardwal.a links (CMake and pkg-config
  # files name them).
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libisal-dev, libxxhash-dev, libspdlog-dev, libtbb-dev, libcpp-httplib-dev, pkg-config")
endif()
if(SHARDWAL_BUILD_TOOLS)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()

include(CPack)
