/*
** installer.c: a test installer for the Windows upgrade hand-off. Run as
** `installer.exe FLAG MARKER` by the library's install.cmd once the program
** has exited; it writes "args=FLAG host=gone|running|unknown" to MARKER,
** host being the state of the process ISCSDK_HOST_PID names: the program
** that staged the upgrade, which must be gone.
*/
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

int main(int argc, char** argv)
{
    const char* pid = getenv("ISCSDK_HOST_PID");
    const char* host = "unknown";
    FILE* f;
    if (argc != 3) {
        return 2;
    }
    if (pid != NULL) {
        HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)strtoul(pid, NULL, 10));
        DWORD code = 0;
        host = "gone";
        if (h != NULL) {
            if (GetExitCodeProcess(h, &code) && code == STILL_ACTIVE) {
                host = "running";
            }
            CloseHandle(h);
        }
    }
    f = fopen(argv[2], "w");
    if (f == NULL) {
        return 3;
    }
    fprintf(f, "args=%s host=%s\n", argv[1], host);
    return fclose(f) == 0 ? 0 : 4;
}
