/*
** iscsdk.hpp: a header-only C++11 wrapper over the C interface of
** iscsdk.h, with the method names of the SDK that CAD vendors already
** integrate (Init, RegisterEventRecall, ShutOut, Save, ...).
**
** Methods return the iscsdk_status of the C call they wrap; Sdk::LastError()
** says what went wrong. Strings are UTF-8; an empty optional string is
** passed to the library as NULL. On Windows, paths may also be given as
** std::wstring (UTF-16).
**
** Threads: the library's rules apply (iscsdk.h). In addition an Sdk object is
** not itself synchronised: do not call Init, RegisterEventRecall, ShutOut, or
** move or destroy it, from two threads at once. Callbacks may call any
** method, ShutOut included, and may destroy the Sdk.
*/
#ifndef ISCSDK_HPP
#define ISCSDK_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "iscsdk.h"

namespace iscsdk {

/* Settings for Sdk::Init; empty means the library's default (iscsdk_options). */
struct Options {
    std::string endpoint;
    std::string token;
    std::string productId;
    std::string appVersion;
    std::string workspaceDir;
    uint32_t connectTimeoutMs;
    bool noAutoInstall;     /* the host runs a staged upgrade's installer itself */
    std::string releaseKey; /* the vendor's release public key(s): upgrades are verified with it;
                               empty: $ISCSDK_RELEASE_KEY (iscsdk_options.release_key) */
    bool signIn;            /* no token: the user signs in (SignIn; iscsdk_options.sign_in) */
    std::string loginHint;  /* with signIn: the user's email, when known (iscsdk_options.login_hint) */

    Options() : connectTimeoutMs(0), noAutoInstall(false), signIn(false) {}
};

/* An event, copied out of the library: it may be kept. */
struct Event {
    int type;           /* ISCSDK_EVENT_* */
    uint64_t requestId; /* 0 for events nobody asked for */
    std::string json;   /* {"operate":...,"params":{...},"comeBackParams":{...}} */
};

namespace detail {

typedef std::function<void(const Event&)> Callback;

/* How deep the calling thread is in callbacks, and the callbacks a ShutOut
** from inside a callback released: freed once the outermost one returns. */
inline int& CallbackDepth() { static thread_local int depth = 0; return depth; }
inline std::vector<std::unique_ptr<Callback> >& Released() { static thread_local std::vector<std::unique_ptr<Callback> > r; return r; }

inline void ISCSDK_CALL Trampoline(const iscsdk_event* e, void* user_data)
{
    ++CallbackDepth();
    try {
        Event ev;
        ev.type = e->type;
        ev.requestId = e->request_id;
        ev.json.assign(e->json, e->json_len);
        (*static_cast<Callback*>(user_data))(ev);
    } catch (...) {
        /* an exception must not unwind into the library */
    }
    if (--CallbackDepth() == 0) {
        Released().clear();
    }
}

inline const char* OrNull(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

#if defined(_WIN32) || defined(ISCSDK_WSTRING_PATHS)
/* UTF-16 (or UTF-32 where wchar_t is 32 bits) to UTF-8; a lone surrogate
** becomes U+FFFD. */
inline std::string Utf8(const std::wstring& w)
{
    std::string s;
    for (std::size_t i = 0; i < w.size(); i++) {
        uint32_t c = static_cast<uint32_t>(w[i]);
        if (sizeof(wchar_t) == 2) {
            c &= 0xFFFF;
        }
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < w.size()) {
            uint32_t lo = static_cast<uint32_t>(w[i + 1]) & 0xFFFF;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                i++;
            }
        }
        if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) {
            c = 0xFFFD;
        }
        if (c < 0x80) {
            s += static_cast<char>(c);
        } else if (c < 0x800) {
            s += static_cast<char>(0xC0 | (c >> 6));
            s += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            s += static_cast<char>(0xE0 | (c >> 12));
            s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            s += static_cast<char>(0xF0 | (c >> 18));
            s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return s;
}
#endif

} /* namespace detail */

#if defined(_WIN32) || defined(ISCSDK_WSTRING_PATHS)
/* A UTF-16 string (a Windows path) as the UTF-8 the library takes, e.g.
** for Options::workspaceDir. */
inline std::string ToUtf8(const std::wstring& w) { return detail::Utf8(w); }
#endif

/*
** A connection to the service. Non-copyable, movable; the destructor shuts
** out. Request methods take an optional come-back JSON object and an
** optional out pointer for the request id.
*/
class Sdk {
public:
    Sdk() : client_(nullptr) {}
    ~Sdk() { ShutOut(); }

    Sdk(const Sdk&) = delete;
    Sdk& operator=(const Sdk&) = delete;

    Sdk(Sdk&& other) noexcept : client_(other.client_), callbacks_(std::move(other.callbacks_)) { other.client_ = nullptr; }
    Sdk& operator=(Sdk&& other) noexcept
    {
        if (this != &other) {
            ShutOut();
            client_ = other.client_;
            callbacks_ = std::move(other.callbacks_);
            other.client_ = nullptr;
        }
        return *this;
    }

    /* Connect (iscsdk_init). ISCSDK_E_INVALID_ARG if already connected. */
    iscsdk_status Init(const Options& options = Options())
    {
        if (client_ != nullptr) {
            return ISCSDK_E_INVALID_ARG;
        }
        iscsdk_options o = iscsdk_options();
        o.struct_size = sizeof o;
        o.endpoint = detail::OrNull(options.endpoint);
        o.token = detail::OrNull(options.token);
        o.product_id = detail::OrNull(options.productId);
        o.app_version = detail::OrNull(options.appVersion);
        o.workspace_dir = detail::OrNull(options.workspaceDir);
        o.connect_timeout_ms = options.connectTimeoutMs;
        o.no_auto_install = options.noAutoInstall ? 1 : 0;
        o.release_key = detail::OrNull(options.releaseKey);
        o.sign_in = options.signIn ? 1 : 0;
        o.login_hint = detail::OrNull(options.loginHint);
        return iscsdk_init(&o, &client_);
    }

    /* Deliver events to obj->fn(type, json), as the compatible SDK does.
    ** obj must outlive the registration (until the next RegisterEventRecall
    ** or ShutOut returns). */
    template <class T>
    iscsdk_status RegisterEventRecall(T* obj, void (T::*fn)(int type, const std::string& message))
    {
        if (obj == nullptr || fn == nullptr) {
            return RegisterEventRecall(detail::Callback());
        }
        return RegisterEventRecall(detail::Callback([obj, fn](const Event& e) { (obj->*fn)(e.type, e.json); }));
    }

    /* Deliver events to fn; an empty fn queues them for PollEvent. */
    iscsdk_status RegisterEventRecall(std::function<void(const Event&)> fn)
    {
        if (!fn) {
            return iscsdk_register_event_recall(client_, nullptr, nullptr);
        }
        std::unique_ptr<detail::Callback> holder(new detail::Callback(std::move(fn)));
        iscsdk_status st = iscsdk_register_event_recall(client_, &detail::Trampoline, holder.get());
        if (st == ISCSDK_OK) {
            /* Kept until ShutOut: the previous callback may still be running
            ** when this is called from inside it. */
            callbacks_.push_back(std::move(holder));
        }
        return st;
    }

    /* End the session (iscsdk_shut_out). Safe to call twice and from inside
    ** a callback. */
    iscsdk_status ShutOut()
    {
        if (client_ == nullptr) {
            return ISCSDK_E_INVALID_HANDLE;
        }
        iscsdk_status st = iscsdk_shut_out(client_);
        client_ = nullptr;
        if (detail::CallbackDepth() > 0) {
            /* A callback is running on this thread, maybe one of ours. */
            for (std::size_t i = 0; i < callbacks_.size(); i++) {
                detail::Released().push_back(std::move(callbacks_[i]));
            }
        }
        callbacks_.clear();
        return st;
    }

    /* Take the next event (iscsdk_poll_event), waiting up to timeoutMs. */
    iscsdk_status PollEvent(Event& out, uint32_t timeoutMs = 0)
    {
        iscsdk_event* e = nullptr;
        iscsdk_status st = iscsdk_poll_event(client_, timeoutMs, &e);
        if (st == ISCSDK_OK) {
            out.type = e->type;
            out.requestId = e->request_id;
            try {
                out.json.assign(e->json, e->json_len);
            } catch (...) {
                iscsdk_event_free(e);
                throw;
            }
            iscsdk_event_free(e);
        }
        return st;
    }

    /* ---- licences ---- */

    iscsdk_status GetLicenseStringRequest(const std::string& devInfo = std::string(), const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_get_license_string_request(client_, detail::OrNull(devInfo), detail::OrNull(comeBackJson), requestId ? requestId : &id);
    }

    iscsdk_status GetLicenseFileRequest(const std::string& fileName, const std::string& devInfo = std::string(), const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_get_license_file_request(client_, fileName.c_str(), detail::OrNull(devInfo), detail::OrNull(comeBackJson), requestId ? requestId : &id);
    }

    iscsdk_status LicenseVerifyNotify(bool verified, const std::string& errorMsg = std::string())
    {
        return iscsdk_license_verify_notify(client_, verified ? 1 : 0, detail::OrNull(errorMsg));
    }

    static iscsdk_status DeviceInfo(std::string& out)
    {
        char* s = nullptr;
        iscsdk_status st = iscsdk_device_info(&s);
        return Take(st, s, out);
    }

    static iscsdk_status LicenseVerify(const std::string& license, const std::string& publicKey, const std::string& devInfo, std::string& resultJson)
    {
        char* s = nullptr;
        iscsdk_status st = iscsdk_license_verify(license.c_str(), publicKey.c_str(), detail::OrNull(devInfo), &s);
        return Take(st, s, resultJson);
    }

    /* ---- upgrades ---- */

    /* iscsdk_check_new_versions: UPGRADE_NOTICE, then maybe UPDATE. */
    iscsdk_status CheckNewVersions(uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_check_new_versions(client_, requestId ? requestId : &id);
    }

    /* iscsdk_upgrade_notify: true stages the upgrade (UPDATE), false declines it. */
    iscsdk_status UpgradeNotify(bool upgrade)
    {
        return iscsdk_upgrade_notify(client_, upgrade ? 1 : 0);
    }

    /* ---- cloud files ---- */

    iscsdk_status OpenCloudFile(const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_open_cloud_file(client_, detail::OrNull(comeBackJson), requestId ? requestId : &id);
    }

    iscsdk_status OpenCloudPath(const std::string& cloudPath, int32_t openType = ISCSDK_OPEN_ONLY, const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_open_cloud_path(client_, cloudPath.c_str(), openType, detail::OrNull(comeBackJson), requestId ? requestId : &id);
    }

    iscsdk_status Save(const std::string& path, bool isAssembly = false, const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_save(client_, path.c_str(), isAssembly ? 1 : 0, detail::OrNull(comeBackJson), requestId ? requestId : &id);
    }

    iscsdk_status SelectSaveAsPath(const std::string& path, bool isAssembly = false, const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_select_save_as_path(client_, path.c_str(), isAssembly ? 1 : 0, detail::OrNull(comeBackJson), requestId ? requestId : &id);
    }

    iscsdk_status SaveAs(const std::string& path, const std::string& cloudPath, bool isAssembly = false, const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_save_as(client_, path.c_str(), cloudPath.c_str(), isAssembly ? 1 : 0, detail::OrNull(comeBackJson), requestId ? requestId : &id);
    }

    /* One page of a cloud folder (iscsdk_list_cloud_folder): pageJson gets
    ** the page; its "next" is the cursor of the following one. */
    iscsdk_status ListCloudFolder(const std::string& dir, const std::string& cursor, uint32_t limit, std::string& pageJson)
    {
        char* s = nullptr;
        iscsdk_status st = iscsdk_list_cloud_folder(client_, dir.c_str(), detail::OrNull(cursor), limit, &s);
        return Take(st, s, pageJson);
    }

    /* One page of a cloud file's versions (iscsdk_cloud_file_history). */
    iscsdk_status CloudFileHistory(const std::string& cloudPath, const std::string& cursor, uint32_t limit, std::string& pageJson)
    {
        char* s = nullptr;
        iscsdk_status st = iscsdk_cloud_file_history(client_, cloudPath.c_str(), detail::OrNull(cursor), limit, &s);
        return Take(st, s, pageJson);
    }

    /* ---- sign-in ---- */

    /* Sign the user in (iscsdk_sign_in): in the default browser (the
    ** device grant when none opens), or with ISCSDK_SIGN_IN_DEVICE the
    ** device grant only; blocks until the user has signed in or refused.
    ** org empty: any. */
    iscsdk_status SignIn(const std::string& org = std::string(), uint32_t timeoutMs = 0, uint32_t flags = 0)
    {
        return iscsdk_sign_in(client_, flags, detail::OrNull(org), timeoutMs);
    }

    /* Revoke the sign-in and forget its refresh token (iscsdk_sign_out). */
    iscsdk_status SignOut()
    {
        return iscsdk_sign_out(client_);
    }

    /* ---- cloud compute ---- */

    iscsdk_status GetSolution(const std::string& filePath, const std::string& optionsJson = std::string(), const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        uint64_t id;
        return iscsdk_get_solution(client_, filePath.c_str(), detail::OrNull(optionsJson), detail::OrNull(comeBackJson), requestId ? requestId : &id);
    }

    iscsdk_status Cancel(uint64_t requestId)
    {
        return iscsdk_cancel(client_, requestId);
    }

    /* One page of the organisation's jobs, newest first (iscsdk_list_jobs). */
    iscsdk_status ListJobs(const std::string& cursor, uint32_t limit, std::string& pageJson)
    {
        char* s = nullptr;
        iscsdk_status st = iscsdk_list_jobs(client_, detail::OrNull(cursor), limit, &s);
        return Take(st, s, pageJson);
    }

#if defined(_WIN32) || defined(ISCSDK_WSTRING_PATHS)
    /* UTF-16 path overloads: the path is converted to UTF-8. */
    iscsdk_status GetLicenseFileRequest(const std::wstring& fileName, const std::string& devInfo = std::string(), const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        return GetLicenseFileRequest(detail::Utf8(fileName), devInfo, comeBackJson, requestId);
    }
    iscsdk_status Save(const std::wstring& path, bool isAssembly = false, const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        return Save(detail::Utf8(path), isAssembly, comeBackJson, requestId);
    }
    iscsdk_status SelectSaveAsPath(const std::wstring& path, bool isAssembly = false, const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        return SelectSaveAsPath(detail::Utf8(path), isAssembly, comeBackJson, requestId);
    }
    iscsdk_status SaveAs(const std::wstring& path, const std::string& cloudPath, bool isAssembly = false, const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        return SaveAs(detail::Utf8(path), cloudPath, isAssembly, comeBackJson, requestId);
    }
    iscsdk_status GetSolution(const std::wstring& filePath, const std::string& optionsJson = std::string(), const std::string& comeBackJson = std::string(), uint64_t* requestId = nullptr)
    {
        return GetSolution(detail::Utf8(filePath), optionsJson, comeBackJson, requestId);
    }
#endif

    /* ---- misc ---- */

    /* The calling thread's last error (iscsdk_last_error), copied. */
    static std::string LastError() { return iscsdk_last_error(); }
    /* The library's version number (iscsdk_version_number). */
    static uint32_t Version() { return iscsdk_version_number(); }
    /* The C handle, for calls this class does not wrap; NULL if not connected. */
    iscsdk_client* Handle() const { return client_; }

private:
    static iscsdk_status Take(iscsdk_status st, char* s, std::string& out)
    {
        if (s != nullptr) {
            try {
                out = s;
            } catch (...) {
                iscsdk_free(s);
                throw;
            }
            iscsdk_free(s);
        }
        return st;
    }

    iscsdk_client* client_;
    std::vector<std::unique_ptr<detail::Callback> > callbacks_;
};

} /* namespace iscsdk */

#endif /* ISCSDK_HPP */
