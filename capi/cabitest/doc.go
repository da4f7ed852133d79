// Package cabitest tests libiscsdk through its public header exactly as a C
// or C++ program uses it: its tests compile the C programs of tests/cabi
// against include/iscsdk and the real shared library, run them against a
// real iscd, and check what they report.
//
// With $ISCSDK_BUILD_DIR set (make test-c), the library and iscd come from
// that build directory; otherwise the tests build them.
package cabitest
