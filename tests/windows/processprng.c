/*
** processprng.c: a TEST-HARNESS SHIM, never shipped. Built as
** bcryptprimitives.dll and copied into the Wine prefix's system32 by the
** Windows tests (capi/winetest).
**
** The Go runtime (1.22+) takes its random numbers from ProcessPrng in
** bcryptprimitives.dll and refuses to start without it. Windows 10 and later
** have it; Debian 12's Wine 8.0 does not ship that DLL at all. This stands in
** for it, over BCryptGenRandom with the system-preferred RNG. On real Windows
** the system's own DLL is used and this file plays no part.
*/
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
            return FALSE;
        }
        data += n;
        len -= n;
    }
    return TRUE;
}
