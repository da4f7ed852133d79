// Package winetest tests the Windows build of iscsdk (make windows) without
// Windows: it checks iscsdk.dll, its import library and the examples with
// the mingw-w64 binutils, then runs the real .exe files — the C and C++
// examples, the C and C++ programs of tests/windows, and the device
// package's tests cross-compiled — under Wine against an iscd running on
// Linux loopback. It also cross-builds with CMake and the mingw toolchain
// file, installs, and builds and runs a find_package consumer.
//
// With $ISCSDK_BUILD_DIR set (make test-windows), build/windows and
// build/bin/iscd come from that directory; otherwise the tests run
// `make windows bin` into a temporary one. Where mingw-w64 or Wine is
// missing the tests that need it are skipped, saying which package to
// install.
//
// Wine runs headless (console programs need no display) in one prefix per
// run, made in a temporary directory. Debian 12's Wine 8.0 lacks
// bcryptprimitives.dll, whose ProcessPrng the Go runtime needs: the tests
// build a stand-in from tests/windows/processprng.c into the prefix's
// system32. That shim is part of the test harness only; Windows 10 and
// later have the real DLL.
package winetest
