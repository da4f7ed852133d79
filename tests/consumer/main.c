/* Links the installed library and checks that its version is the header's. */
#include <stdio.h>

#include <iscsdk/iscsdk.h>

int main(void)
{
    unsigned lib = (unsigned)iscsdk_version_number();
    printf("iscsdk_version_number %u, ISCSDK_VERSION_NUMBER %u\n", lib, (unsigned)ISCSDK_VERSION_NUMBER);
    return lib == ISCSDK_VERSION_NUMBER ? 0 : 1;
}
