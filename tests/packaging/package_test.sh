#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# package_test.sh <source dir> <static build dir> <scratch dir>
#
# The .deb packages, end to end, without root:
#   1. builds shardwal shared (BUILD_SHARED_LIBS=ON, no tests/tools) in the
#      scratch dir; checks the SONAME and the exported symbols;
#   2. `cpack -G DEB` of that build (libshardwal0.1, libshardwal-dev) and of
#      <static build dir> (a default, static build with the CLI:
#      libshardwal-dev, shardwal-tools); checks names, versions, Depends;
#   3. unpacks them with `dpkg-deb -x` into one root per build and runs the
#      unpacked `shardwal --version`;
#   4. builds tests/packaging/consumer against each root, through CMake's
#      find_package (components http and ship) and through pkg-config, and
#      runs it (LD_LIBRARY_PATH for the shared one) against a nats-server of
#      its own (loopback, a random port, a scratch store; stopped at exit):
#      it ships its WAL with Shipper::Attach and restores it;
#   5. checks what find_package says when a dependency is missing.
# ctest: package_deb (label package; scripts/test.sh stage "package").
set -euo pipefail
src=$(cd "$1" && pwd)
static_build=$(cd "$2" && pwd)
work=$3
JOBS=${JOBS:-$(nproc)}
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

step() { echo "--- [${SECONDS}s] $*"; }
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
quiet() {  # quiet <command...>: its output only if it fails
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then cat "$log"; rm -f "$log"; fail "$*"; fi
  rm -f "$log"
}

version=$(sed -n 's/^project(shardwal VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
IFS=. read -r major minor _ <<<"$version"
so=$major.$minor                  # SOVERSION: MAJOR.MINOR before 1.0
runtime_pkg=libshardwal$so
deb_version=$version-1
[ -n "$version" ] || fail "no project(VERSION) in $src/CMakeLists.txt"

step "the symbol check catches leaks (a planted internal class, shardwal::internal, spdlog)"
printf '%s\n' 'namespace shardwal { struct ShardLog { void f(); }; void ShardLog::f() {}' \
  'namespace internal { void h() {} } }' 'namespace spdlog { void g() {} }' >"$work/leak.cc"
c++ -shared -fPIC "$work/leak.cc" -o "$work/libleak.so"
if out=$("$src/tests/packaging/exported_symbols.sh" "$work/libleak.so" "$src"); then fail "no leak found in libleak.so"; fi
for want in "internal class: shardwal::ShardLog::f()" "shardwal::internal: shardwal::internal::h()" \
            "not in namespace shardwal: spdlog::g()"; do
  grep -qF "$want" <<<"$out" || fail "exported_symbols.sh did not report '$want':"$'\n'"$out"
done

step "shared build (BUILD_SHARED_LIBS=ON, library only)"
# PACKAGE_TEST_SHARED_BUILD=<dir>: build there instead (kept: a rerun only
# rebuilds what changed).
shared=${PACKAGE_TEST_SHARED_BUILD:-$work/shared}
quiet cmake -S "$src" -B "$shared" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DCMAKE_INSTALL_PREFIX=/usr -DSHARDWAL_BUILD_TESTS=OFF -DSHARDWAL_BUILD_BENCH=OFF \
  -DSHARDWAL_BUILD_EXAMPLES=OFF -DSHARDWAL_BUILD_TOOLS=OFF
quiet cmake --build "$shared" -j "$JOBS"

step "SONAME and exported symbols"
for lib in shardwal shardwal_http shardwal_testing shardwal_ship; do
  f=$shared/lib$lib.so.$version
  [ -f "$f" ] || fail "no $f"
  readelf -d "$f" | grep -qF "Library soname: [lib$lib.so.$so]" ||
    fail "lib$lib: SONAME is not lib$lib.so.$so: $(readelf -d "$f" | grep SONAME)"
  "$src/tests/packaging/exported_symbols.sh" "$f" "$src"
done

step "a lean core: libshardwal needs no HTTP, TLS or compression library (shardwal::http does)"
core_needed=$(readelf -d "$shared/libshardwal.so.$version" | grep NEEDED || true)
if grep -Eq 'httplib|libssl|libcrypto|brotli|libz\.' <<<"$core_needed"; then
  fail "libshardwal.so needs what only shardwal::http should: $core_needed"
fi
echo "    libshardwal.so needs:$(sed -n 's/.*\[\(.*\)\]/ \1/p' <<<"$core_needed" | tr -d '\n')"
grep -q 'libnats' <<<"$core_needed" && fail "libshardwal.so needs libnats (only shardwal::ship should)"
ship_needed=$(readelf -d "$shared/libshardwal_ship.so.$version" | grep NEEDED || true)
grep -q 'libnats' <<<"$ship_needed" || fail "libshardwal_ship.so does not need libnats: $ship_needed"
# Its private copy of the core's internals is hidden: nothing of the core
# (Wal::Open, Status) is exported twice.
if nm -D --defined-only -C "$shared/libshardwal_ship.so.$version" | grep -qE 'shardwal::(Wal::Open|Status::ToString)'; then
  fail "libshardwal_ship.so exports the core's symbols"
fi

step "cpack -G DEB (shared, and the static build $static_build)"
(cd "$shared" && quiet cpack -G DEB -B "$work/debs-shared")
[ -f "$static_build/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $static_build"
grep -q 'BUILD_SHARED_LIBS:BOOL=ON' "$static_build/CMakeCache.txt" && fail "$static_build is a shared build"
(cd "$static_build" && quiet cpack -G DEB -B "$work/debs-static")

deb() { ls "$work/debs-$1/$2_${deb_version}_"*.deb 2>/dev/null || fail "no $2 ${deb_version} package from the $1 build"; }
field() { dpkg-deb -f "$(deb "$1" "$2")" "$3"; }
expect_field() {  # expect_field <build> <package> <field> <extended regex>
  local v
  v=$(field "$1" "$2" "$3")
  grep -qE "$4" <<<"$v" || fail "$1 $2: $3 is '$v', expected /$4/"
  echo "    $1 $2 $3: $v"
}
expect_no_field() {  # expect_no_field <build> <package> <field> <extended regex>
  if field "$1" "$2" "$3" | grep -qE "$4"; then fail "$1 $2: $3 must not match /$4/: $(field "$1" "$2" "$3")"; fi
}

step "package metadata (dpkg-deb -I)"
[ "$(ls "$work/debs-shared"/*.deb | wc -l)" -eq 2 ] || fail "shared build: not 2 packages: $(ls "$work/debs-shared")"
[ "$(ls "$work/debs-static"/*.deb | wc -l)" -eq 2 ] || fail "static build: not 2 packages: $(ls "$work/debs-static")"
for p in "shared $runtime_pkg" "shared libshardwal-dev" "static libshardwal-dev" "static shardwal-tools"; do
  read -r b n <<<"$p"
  expect_field "$b" "$n" Package "^$n\$"
  expect_field "$b" "$n" Version "^$deb_version\$"
  expect_field "$b" "$n" Maintainer "."
  expect_field "$b" "$n" Description "."
  copyright=$(dpkg-deb --fsys-tarfile "$(deb "$b" "$n")" | tar -xO "./usr/share/doc/$n/copyright") || true
  grep -q "Apache License" <<<"$copyright" || fail "$b $n: no Apache-2.0 /usr/share/doc/$n/copyright"
done
expect_field shared "$runtime_pkg" Depends "libisal2.*liblz4-1.*libnats3.*libstdc\+\+6.*libxxhash0.*libzstd1"
expect_field shared libshardwal-dev Depends "^$runtime_pkg \(= $deb_version\)\$"
expect_field static libshardwal-dev Depends "libisal-dev.*libxxhash-dev.*liblz4-dev.*libzstd-dev"
expect_field static shardwal-tools Depends "libisal2.*liblz4-1.*libstdc\+\+6.*libxxhash0.*libzstd1"
expect_no_field static shardwal-tools Depends "libshardwal"  # the CLI links it statically
# (listings in variables: grep -q would close the pipe early, and pipefail fail it)
runtime_files=$(dpkg-deb -c "$(deb shared "$runtime_pkg")")
for lib in shardwal shardwal_http shardwal_testing shardwal_ship; do
  grep -q "lib$lib.so.$so -> lib$lib.so.$version" <<<"$runtime_files" || fail "$runtime_pkg has no lib$lib.so.$so link"
done
grep -qE '\.h$|\.pc$|\.cmake$|libshardwal\.so -> ' <<<"$runtime_files" && fail "$runtime_pkg holds development files"
static_dev_files=$(dpkg-deb -c "$(deb static libshardwal-dev)")
for f in 'libshardwal\.a$' 'libshardwal_ship\.a$' 'include/shardwal/ship\.h$' 'include/shardwal/follower\.h$' \
         'include/shardwal/ship_export\.h$' 'pkgconfig/shardwal-ship\.pc$' 'cmake/shardwal/shardwalShipTargets\.cmake$'; do
  grep -qE "$f" <<<"$static_dev_files" || fail "static libshardwal-dev has no /$f/"
done
expect_field static libshardwal-dev Recommends "libnats-dev"

step "unpack (dpkg-deb -x)"
for b in shared static; do
  for f in "$work/debs-$b"/*.deb; do dpkg-deb -x "$f" "$work/root-$b"; done
done
out=$("$work/root-static/usr/bin/shardwal" --version) || fail "unpacked shardwal --version failed"
[ "$out" = "shardwal $version" ] || fail "unpacked shardwal --version printed '$out'"
echo "    unpacked shardwal --version: $out"

step "a nats-server for the consumers (127.0.0.1, a random port, a scratch store)"
nats_server=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[ -x "$nats_server" ] || fail "no nats-server ($nats_server): scripts/setup.sh installs it"
"$nats_server" -js -a 127.0.0.1 -p -1 -sd "$work/nats-store" >"$work/nats.log" 2>&1 &
nats_pid=$!
trap 'kill "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true' EXIT
# Event-driven: tail follows the log (and ends with the server).
timeout 20 grep -q -m1 "Server is ready" <(tail -F -n +1 --pid="$nats_pid" "$work/nats.log" 2>/dev/null) ||
  fail "nats-server did not start: $(tail -5 "$work/nats.log")"
nats_port=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/nats.log" | head -1)
[ -n "$nats_port" ] || fail "no client port in the nats-server log: $(tail -5 "$work/nats.log")"
nats_url=nats://127.0.0.1:$nats_port
echo "    $nats_url"

libdir_of() { dirname "$(find "$work/root-$1/usr" -name 'shardwal.pc' -path '*/pkgconfig/*')" | xargs dirname; }

for b in static shared; do
  root=$work/root-$b
  libdir=$(libdir_of "$b")
  run_env=()
  [ "$b" = shared ] && run_env=(env "LD_LIBRARY_PATH=$libdir")

  step "$b: consumer through find_package(shardwal COMPONENTS http ship)"
  quiet cmake -S "$src/tests/packaging/consumer" -B "$work/consumer-$b-cmake" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$root/usr" "-DCONSUMER_COMPONENTS=http;ship"
  grep -q "^shardwal_DIR:PATH=$libdir/cmake/shardwal\$" "$work/consumer-$b-cmake/CMakeCache.txt" ||
    fail "the consumer did not find the unpacked shardwal: $(grep shardwal_DIR "$work/consumer-$b-cmake/CMakeCache.txt")"
  quiet cmake --build "$work/consumer-$b-cmake"
  "${run_env[@]}" "$work/consumer-$b-cmake/consumer" "$work/wal-$b-cmake" "$nats_url"

  step "$b: consumer through pkg-config"
  export PKG_CONFIG_PATH=$libdir/pkgconfig
  static_flag=()
  [ "$b" = static ] && static_flag=(--static)
  # shellcheck disable=SC2046  # pkg-config's flags are words
  quiet c++ -std=c++20 -O1 -DCONSUMER_SHIP "$src/tests/packaging/consumer/main.cc" -o "$work/consumer-$b-pc" \
    $(pkg-config --cflags shardwal shardwal-http shardwal-ship) \
    $(pkg-config "${static_flag[@]}" --libs shardwal-ship shardwal shardwal-http)
  # The core alone (no shardwal-http) names no HTTP, TLS or compression library.
  core_libs=$(pkg-config "${static_flag[@]}" --libs shardwal)
  if grep -Eq 'httplib|ssl|crypto|brotli|-lz( |$)' <<<"$core_libs"; then
    fail "$b: pkg-config --libs shardwal pulls in the HTTP stack: $core_libs"
  fi
  unset PKG_CONFIG_PATH
  "${run_env[@]}" "$work/consumer-$b-pc" "$work/wal-$b-pc" "$nats_url"

  needed=$(readelf -d "$work/consumer-$b-pc" "$work/consumer-$b-cmake/consumer" | grep NEEDED || true)
  if [ "$b" = shared ]; then
    [ "$(grep -c "\[libshardwal.so.$so\]" <<<"$needed")" -eq 2 ] || fail "shared consumers do not need libshardwal.so.$so: $needed"
    [ "$(grep -c "\[libshardwal_ship.so.$so\]" <<<"$needed")" -eq 2 ] || fail "shared consumers do not need libshardwal_ship.so.$so: $needed"
    LD_LIBRARY_PATH=$libdir ldd "$work/consumer-$b-pc" | grep -q "libshardwal.so.$so => $libdir/" ||
      fail "the shared consumer does not load the unpacked libshardwal"
  else
    grep -q libshardwal <<<"$needed" && fail "static consumers need a shared libshardwal: $needed"
  fi
done

step "find_package with a dependency missing (static root: pkg-config finds only what is listed)"
mkdir -p "$work/probe" "$work/pc-core" "$work/pc-none"
for m in libisal libxxhash liblz4 libzstd; do
  cp "$(pkg-config --variable=pcfiledir "$m")/$m.pc" "$work/pc-core/"
done
cat >"$work/probe/CMakeLists.txt" <<'PROBE'
cmake_minimum_required(VERSION 3.25)
project(probe LANGUAGES CXX)
find_package(shardwal ${PROBE_ARGS})
message(STATUS "probe: shardwal_FOUND=${shardwal_FOUND} shardwal_http_FOUND=${shardwal_http_FOUND} shardwal_ship_FOUND=${shardwal_ship_FOUND}")
message(STATUS "probe: message=${shardwal_NOT_FOUND_MESSAGE}")
foreach(c http ship)
  if(TARGET shardwal::${c})
    message(STATUS "probe: shardwal::${c} exists")
  endif()
endforeach()
PROBE
probe() {  # probe <pkg-config dir> <find_package args>: cmake's output
  rm -rf "$work/probe/build"
  PKG_CONFIG_LIBDIR=$1 PKG_CONFIG_PATH='' cmake -S "$work/probe" -B "$work/probe/build" -G Ninja \
    -DCMAKE_PREFIX_PATH="$work/root-static/usr" "-DPROBE_ARGS=$2" 2>&1 || true
}
expect_probe() {  # expect_probe <pkg-config dir> <find_package args> <regex, or !regex: must not match>...
  local out dir=$1 args=$2
  shift 2
  out=$(probe "$dir" "$args")
  for re in "$@"; do
    if [ "${re#!}" != "$re" ]; then
      grep -qE -- "${re#!}" <<<"$out" && fail "find_package(shardwal $args) with $(basename "$dir"): /${re#!}/ in:"$'\n'"$out"
    else
      grep -qE -- "$re" <<<"$out" || fail "find_package(shardwal $args) with $(basename "$dir"): no /$re/ in:"$'\n'"$out"
    fi
  done
  echo "    find_package(shardwal $args), pkg-config: $(basename "$dir"): ok"
}
found="shardwal_FOUND=(1|TRUE)"
system_pc=$(pkg-config --variable pc_path pkg-config)  # the default search path
expect_probe "$system_pc" "" "$found shardwal_http_FOUND=TRUE shardwal_ship_FOUND=TRUE" "shardwal::http exists" \
  "shardwal::ship exists"
expect_probe "$work/pc-core" "" "$found shardwal_http_FOUND=FALSE shardwal_ship_FOUND=FALSE" "!shardwal::http exists" \
  "!shardwal::ship exists" "!CMake Error"
expect_probe "$work/pc-core" "COMPONENTS;ship" "shardwal_FOUND=(0|FALSE)" "message=.*libnats" "!CMake Error"
expect_probe "$work/pc-core" "REQUIRED;COMPONENTS;ship" "CMake Error" "libnats, which pkg-config did not find"
expect_probe "$work/pc-core" "OPTIONAL_COMPONENTS;http" "$found shardwal_http_FOUND=FALSE" "!CMake Error"
expect_probe "$work/pc-core" "COMPONENTS;http" "shardwal_FOUND=(0|FALSE)" "message=.*cpp-httplib" "!CMake Error"
expect_probe "$work/pc-core" "REQUIRED;COMPONENTS;http" "CMake Error" "cpp-httplib, which was not found"
expect_probe "$work/pc-none" "" "shardwal_FOUND=(0|FALSE)" "message=.*libisal" "!CMake Error"

step "all package checks passed"
kill "$nats_pid" && wait "$nats_pid" 2>/dev/null || true
rm -rf "$work"
