// wpath.cpp: the std::wstring (UTF-16) path overloads of iscsdk.hpp on
// Windows (run under Wine by capi/winetest) against a live iscd, with its
// dev.env in the environment:
//
//     wpath.exe DIR
//
// DIR is a Windows path (ASCII) of an empty directory. The program connects
// with a CJK workspace given through iscsdk::ToUtf8, asks for a licence file
// at a UTF-16 path (CJK, Cyrillic and a character outside the BMP, that is a
// surrogate pair), and reads it back through _wfopen. It prints
// "FILE <utf-8 path>" and last "N passed, M failed".
//
// TODO(cloud files): Save(std::wstring) and GetSolution(std::wstring) once
// they are implemented.
#include <cstdio>
#include <cstring>
#include <string>
#include <windows.h>

#include <iscsdk/iscsdk.hpp>

namespace {

int passed = 0, failed = 0;

bool Check(bool ok, int line, const char* expr)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        std::printf("check failed at wpath.cpp:%d: %s (last_error: %s)\n", line, expr, iscsdk_last_error());
        std::fflush(stdout);
    }
    return ok;
}

#define CHECK(cond) Check((cond), __LINE__, #cond)

// The string value of key in json, JSON backslash escapes undone.
std::string JsonValue(const std::string& json, const std::string& key)
{
    const std::string pattern = "\"" + key + "\":\"";
    std::string::size_type at = json.find(pattern);
    if (at == std::string::npos) {
        return std::string();
    }
    std::string out;
    for (at += pattern.size(); at < json.size() && json[at] != '"'; at++) {
        if (json[at] == '\\' && at + 1 < json.size()) {
            at++;
        }
        out += json[at];
    }
    return out;
}

std::wstring Widen(const char* ascii)
{
    return std::wstring(ascii, ascii + std::strlen(ascii));
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: wpath DIR\n");
        return 2;
    }
    const std::wstring dir = Widen(argv[1]);
    // 工作区 (workspace); 模型-файл-📄.lic (model, file, a page emoji).
    const std::wstring workspace = dir + L"\\\u5de5\u4f5c\u533a-w";
    const std::wstring file = dir + L"\\\u6a21\u578b-\u0444\u0430\u0439\u043b-\U0001F4C4.lic";
    CHECK(file.size() == dir.size() + 15); // the emoji is two UTF-16 units
    CHECK(iscsdk::ToUtf8(L"\U0001F4C4") == "\xf0\x9f\x93\x84");

    iscsdk::Sdk sdk;
    iscsdk::Options options;
    options.workspaceDir = iscsdk::ToUtf8(workspace);
    if (!CHECK(sdk.Init(options) == ISCSDK_OK)) {
        std::printf("%d passed, %d failed\n", passed, failed);
        return 1;
    }
    uint64_t id = 0;
    CHECK(sdk.GetLicenseFileRequest(file, std::string(), "{\"w\":\"\xe6\xa8\xa1\"}", &id) == ISCSDK_OK);
    iscsdk::Event e;
    DWORD start = GetTickCount();
    bool got = false;
    while (!got && GetTickCount() - start < 30000) {
        iscsdk_status st = sdk.PollEvent(e, 200);
        got = st == ISCSDK_OK && e.type == ISCSDK_EVENT_LICENSE_VERIFY;
    }
    if (CHECK(got)) {
        CHECK(e.requestId == id);
        CHECK(JsonValue(e.json, "Status") == "success");
        const std::string path = JsonValue(e.json, "LicenseFilePath");
        CHECK(path == iscsdk::ToUtf8(file));
        FILE* f = _wfopen(file.c_str(), L"rb");
        char line[16] = {0};
        if (CHECK(f != nullptr)) {
            CHECK(std::fgets(line, sizeof line, f) != nullptr && std::strncmp(line, "ISL1.", 5) == 0);
            std::fclose(f);
        }
        std::printf("FILE %s\n", path.c_str());
    }
    CHECK(sdk.ShutOut() == ISCSDK_OK);
    CHECK(sdk.ShutOut() == ISCSDK_E_INVALID_HANDLE);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
