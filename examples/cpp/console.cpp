// console.cpp: connect to iscd, ask for a licence and check it offline, and
// print every event until Ctrl-C, or for --seconds N, through the C++ wrapper.
//
// --sign-in: with no API token (unset ISCSDK_TOKEN), the user signs in
// first, in the default browser (the device grant when none opens: an SSH
// session). --device (implies --sign-in): the device grant only: the
// program shows a page and a code, the user confirms the code there. The
// refresh token is kept, so the next start is signed in without a prompt.
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#if !defined(_WIN32)
#include <signal.h>
#endif

#include <iscsdk/iscsdk.hpp>

namespace {

std::atomic<bool> interrupted(false);

extern "C" void OnSignal(int) { interrupted = true; }

void CatchInterrupt()
{
#if defined(_WIN32)
    std::signal(SIGINT, OnSignal);
#else
    // SA_ONSTACK: the signal may land on one of the library's Go threads.
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = OnSignal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
#endif
}

const char* EventName(int type)
{
    static const char* const names[] = {
        "?", "Heartbeat", "LicenseVerify", "UpgradeNotice", "Update", "OpenFile", "SaveResult",
        "ServiceClosed", "ConnectionState", "TransferProgress", "SolutionProgress", "SolutionResult",
        "LicenseState", "Notice", "Picker", "UpgradeResult", "SignInRequired", "SignInPrompt", "SignedIn", "SignedOut",
    };
    return type > 0 && type < static_cast<int>(sizeof names / sizeof names[0]) ? names[type] : "?";
}

// The string value of "key" in an event's JSON, with the escapes its
// strings may carry undone (\" \\ \/, and \u00XX: the library writes
// & < > so in URLs). Enough for these events; a real program uses its JSON
// library.
std::string JsonValue(const std::string& json, const std::string& key)
{
    const std::string pattern = "\"" + key + "\":\"";
    std::string::size_type at = json.find(pattern);
    std::string value;
    if (at == std::string::npos) {
        return value;
    }
    for (at += pattern.size(); at < json.size() && json[at] != '"'; at++) {
        char c = json[at];
        if (c == '\\' && json.compare(at + 1, 3, "u00") == 0 && at + 5 < json.size() &&
            std::isxdigit(static_cast<unsigned char>(json[at + 4])) && std::isxdigit(static_cast<unsigned char>(json[at + 5]))) {
            c = static_cast<char>(std::strtol(json.substr(at + 4, 2).c_str(), nullptr, 16));
            at += 5;
        } else if (c == '\\' && at + 1 < json.size()) {
            c = json[++at];
        }
        value += c;
    }
    return value;
}

class Console {
public:
    explicit Console(iscsdk::Sdk& sdk) : sdk_(sdk) {}

    // Runs on the library's event thread, one event at a time.
    void OnEvent(const iscsdk::Event& e)
    {
        std::cout << "event " << e.type << ' ' << EventName(e.type) << " request=" << e.requestId << ' ' << e.json << std::endl;
        if (e.type == ISCSDK_EVENT_SIGN_IN_PROMPT) {
            const std::string code = JsonValue(e.json, "userCode");
            if (!code.empty()) { // the device grant
                std::cout << "sign in: open " << JsonValue(e.json, "verificationUri") << " and confirm the code " << code << std::endl;
            } else { // the browser, opened already
                std::cout << "sign in: continue in your browser (" << JsonValue(e.json, "url") << ")" << std::endl;
            }
        }
        if (e.type == ISCSDK_EVENT_SIGNED_IN) {
            std::cout << "signed in: " << JsonValue(e.json, "name") << " (" << JsonValue(e.json, "userId") << ") of "
                      << JsonValue(e.json, "organisation") << std::endl;
        }
        if (e.type == ISCSDK_EVENT_LICENSE_VERIFY && e.requestId != 0 && JsonValue(e.json, "Status") == "success") {
            CheckLicense(JsonValue(e.json, "LicenseContent"));
        }
    }

private:
    // Check the licence offline with the product's public key (a real
    // program compiles it in), then tell the service the verdict.
    void CheckLicense(const std::string& license)
    {
        const char* key = std::getenv("ISCSDK_LICENSE_PUBLIC_KEY");
        std::string result;
        if (key == nullptr || iscsdk::Sdk::LicenseVerify(license, key, std::string(), result) != ISCSDK_OK) {
            std::cout << "licence check: " << iscsdk::Sdk::LastError() << std::endl;
            return;
        }
        std::cout << "licence check: " << result << std::endl;
        sdk_.LicenseVerifyNotify(result.find("\"valid\":true") != std::string::npos);
    }

    iscsdk::Sdk& sdk_;
};

} // namespace

int main(int argc, char** argv)
{
    long seconds = -1;
    iscsdk::Options options; // every other option from the environment
    uint32_t signInFlags = 0; // the browser, the device grant when none opens
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = std::atol(argv[++i]);
        } else if (std::strcmp(argv[i], "--sign-in") == 0) {
            options.signIn = true;
        } else if (std::strcmp(argv[i], "--device") == 0) {
            options.signIn = true;
            signInFlags = ISCSDK_SIGN_IN_DEVICE;
        } else {
            std::cerr << "usage: " << argv[0] << " [--sign-in] [--device] [--seconds N]\n";
            return 2;
        }
    }
    CatchInterrupt();

    iscsdk::Sdk sdk;
    iscsdk_status st = sdk.Init(options);
    if (st != ISCSDK_OK) {
        std::cerr << "Init: " << iscsdk_status_string(st) << '\n' << iscsdk::Sdk::LastError() << '\n';
        return 1;
    }
    // A program ported from the compatible SDK can keep its member function:
    // sdk.RegisterEventRecall(this, &App::OnEvent), OnEvent(int type, const std::string& json).
    Console console(sdk);
    if (sdk.RegisterEventRecall([&console](const iscsdk::Event& e) { console.OnEvent(e); }) != ISCSDK_OK) {
        std::cerr << "RegisterEventRecall: " << iscsdk::Sdk::LastError() << '\n';
        return 1;
    }
    if (options.signIn) {
        // Blocks until the user signs in or refuses (a real program calls
        // it from a thread of its own). ISCSDK_E_REFUSED: already signed in
        // with the refresh token kept from the last time.
        st = sdk.SignIn(std::string(), 0, signInFlags);
        if (st != ISCSDK_OK && st != ISCSDK_E_REFUSED) {
            std::cerr << "SignIn: " << iscsdk_status_string(st) << '\n' << iscsdk::Sdk::LastError() << '\n';
            return 1;
        }
    }
    // A licence for this device; the answer is a LicenseVerify event.
    if (sdk.GetLicenseStringRequest(std::string(), "{\"from\":\"console.cpp\"}") != ISCSDK_OK) {
        std::cerr << "GetLicenseStringRequest: " << iscsdk::Sdk::LastError() << '\n';
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds < 0 ? 0 : seconds);
    while (!interrupted && (seconds < 0 || std::chrono::steady_clock::now() < deadline)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return sdk.ShutOut() == ISCSDK_OK ? 0 : 1; // no event is printed after this
}
