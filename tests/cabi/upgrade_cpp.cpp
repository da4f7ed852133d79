// upgrade_cpp.cpp: the C++ wrapper's CheckNewVersions and UpgradeNotify,
// with events through RegisterEventRecall(std::function). Prints
// "NOTICE <json>" and "UPDATE <json>"; exits 0 when both came in order.
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "iscsdk/iscsdk.hpp"

int main()
{
    std::mutex mu;
    std::condition_variable cv;
    int notices = 0, updates = 0;
    iscsdk::Sdk sdk;
    iscsdk::Options opt;
    opt.appVersion = std::getenv("APP_VERSION");
    opt.noAutoInstall = true;
    if (sdk.Init(opt) != ISCSDK_OK) {
        std::printf("init: %s\n", iscsdk_last_error());
        return 1;
    }
    sdk.RegisterEventRecall([&](const iscsdk::Event& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (e.type == ISCSDK_EVENT_UPGRADE_NOTICE) {
            std::printf("NOTICE %s\n", e.json.c_str());
            notices++;
        } else if (e.type == ISCSDK_EVENT_UPDATE) {
            std::printf("UPDATE %s\n", e.json.c_str());
            updates++;
        }
        std::fflush(stdout);
        cv.notify_all();
    });
    if (sdk.CheckNewVersions() != ISCSDK_OK) {
        std::printf("check: %s\n", iscsdk_last_error());
        return 1;
    }
    {
        std::unique_lock<std::mutex> lock(mu);
        if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return notices == 1; })) {
            std::printf("no notice\n");
            return 1;
        }
    }
    if (sdk.UpgradeNotify(true) != ISCSDK_OK) {
        std::printf("notify: %s\n", iscsdk_last_error());
        return 1;
    }
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return updates == 1; })) {
        std::printf("no update\n");
        return 1;
    }
    lock.unlock();
    return sdk.ShutOut() == ISCSDK_OK ? 0 : 1;
}
