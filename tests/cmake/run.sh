#!/bin/sh
# run.sh: make test-cmake. Builds with CMake, runs ctest, installs into a
# temporary prefix, and builds and runs tests/consumer against that install,
# through find_package and through pkg-config.
set -eu
BUILD=${BUILD:-$PWD/build}
tree=$BUILD/cmake
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake -S . -B "$tree" -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --build "$tree" -j 2
(cd "$tree" && ctest --output-on-failure)
cmake --install "$tree"

echo "== consumer: find_package(iscsdk)"
cmake -S tests/consumer -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$tmp/consumer"
"$tmp/consumer/app"

echo "== consumer: pkg-config"
pc=$(dirname "$(find "$prefix" -name iscsdk.pc)")
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs iscsdk)
echo "pkg-config --cflags --libs iscsdk: $flags"
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir iscsdk)
# shellcheck disable=SC2086 # flags are words
cc -std=c99 -pedantic -Wall -Werror tests/consumer/main.c -o "$tmp/app-pc" $flags -Wl,-rpath,"$libdir"
"$tmp/app-pc"
echo "test-cmake: ok"
