# CMake toolchain file: cross-build for 64-bit Windows with mingw-w64 from
# Linux (Debian: apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64).
#
#   cmake -S . -B build/cmake-windows -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#
# builds iscsdk.dll (through go build), its import library iscsdk.lib and
# the examples as .exe. A project that uses an installed iscsdk passes the
# same file and CMAKE_PREFIX_PATH=<iscsdk install prefix> to find_package(iscsdk).
#
# Programs are linked statically against libgcc, libstdc++ and
# libwinpthread, so that next to the .exe only iscsdk.dll has to be shipped.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(ISCSDK_MINGW_TRIPLE x86_64-w64-mingw32 CACHE STRING "the mingw-w64 target triple (tool prefix)")
set(CMAKE_C_COMPILER ${ISCSDK_MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${ISCSDK_MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER ${ISCSDK_MINGW_TRIPLE}-windres)
set(CMAKE_DLLTOOL ${ISCSDK_MINGW_TRIPLE}-dlltool)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# Headers and libraries from the mingw-w64 sysroot only, programs from the
# host; packages (find_package) from both, so that CMAKE_PREFIX_PATH works.
set(CMAKE_FIND_ROOT_PATH /usr/${ISCSDK_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
