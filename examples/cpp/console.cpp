// console.cpp: connect to iscd and print every event until Ctrl-C, or for
// --seconds N, through the C++ wrapper.
#include <atomic>
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
        "LicenseState", "Notice",
    };
    return type > 0 && type < static_cast<int>(sizeof names / sizeof names[0]) ? names[type] : "?";
}

void PrintEvent(const iscsdk::Event& e)
{
    std::cout << "event " << e.type << ' ' << EventName(e.type) << " request=" << e.requestId << ' ' << e.json << std::endl;
}

} // namespace

int main(int argc, char** argv)
{
    long seconds = -1;
    if (argc == 3 && std::strcmp(argv[1], "--seconds") == 0) {
        seconds = std::atol(argv[2]);
    } else if (argc != 1) {
        std::cerr << "usage: " << argv[0] << " [--seconds N]\n";
        return 2;
    }
    CatchInterrupt();

    iscsdk::Sdk sdk;
    iscsdk_status st = sdk.Init(); // every option from the environment
    if (st != ISCSDK_OK) {
        std::cerr << "Init: " << iscsdk_status_string(st) << '\n' << iscsdk::Sdk::LastError() << '\n';
        return 1;
    }
    // A program ported from the compatible SDK can keep its member function:
    // sdk.RegisterEventRecall(this, &App::OnEvent), OnEvent(int type, const std::string& json).
    if (sdk.RegisterEventRecall(PrintEvent) != ISCSDK_OK) {
        std::cerr << "RegisterEventRecall: " << iscsdk::Sdk::LastError() << '\n';
        return 1;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds < 0 ? 0 : seconds);
    while (!interrupted && (seconds < 0 || std::chrono::steady_clock::now() < deadline)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return sdk.ShutOut() == ISCSDK_OK ? 0 : 1; // no event is printed after this
}
