// signin_cpp.cpp: the C++ wrapper's sign-in: Options::signIn, SignIn and
// SignOut, events through RegisterEventRecall(std::function). Prints
// "PROMPT <json>" (the driver confirms the code of the device grant, or
// with the argument "browser" — SignIn's default — signs in on the page
// the prompt names), "SIGNED_IN <json>",
// then "SIGNED_OUT"; exits 0 when all came in order.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>

#include "iscsdk/iscsdk.hpp"

int main(int argc, char** argv)
{
    const bool browser = argc > 1 && std::string(argv[1]) == "browser";
    std::mutex mu;
    std::condition_variable cv;
    int in = 0, out = 0;
    iscsdk::Sdk sdk;
    iscsdk::Options opt;
    opt.signIn = true;
    if (sdk.Init(opt) != ISCSDK_OK) {
        std::printf("init: %s\n", iscsdk_last_error());
        return 1;
    }
    sdk.RegisterEventRecall([&](const iscsdk::Event& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (e.type == ISCSDK_EVENT_SIGN_IN_PROMPT) {
            std::printf("PROMPT %s\n", e.json.c_str());
        } else if (e.type == ISCSDK_EVENT_SIGNED_IN) {
            std::printf("SIGNED_IN %s\n", e.json.c_str());
            in++;
        } else if (e.type == ISCSDK_EVENT_SIGNED_OUT) {
            std::printf("SIGNED_OUT\n");
            out++;
        }
        std::fflush(stdout);
        cv.notify_all();
    });
    // SignIn() signs in through the browser; ISCSDK_SIGN_IN_DEVICE asks for the device grant.
    if ((browser ? sdk.SignIn() : sdk.SignIn(std::string(), 0, ISCSDK_SIGN_IN_DEVICE)) != ISCSDK_OK) {
        std::printf("sign in: %s\n", iscsdk_last_error());
        return 1;
    }
    {
        std::unique_lock<std::mutex> lock(mu);
        if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return in == 1; })) {
            std::printf("no SIGNED_IN event\n");
            return 1;
        }
    }
    if (sdk.SignOut() != ISCSDK_OK) {
        std::printf("sign out: %s\n", iscsdk_last_error());
        return 1;
    }
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return out == 1; })) {
        std::printf("no SIGNED_OUT event\n");
        return 1;
    }
    return 0;
}
