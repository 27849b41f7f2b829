// Why this shim exists: imgsec opens libcurl with dlopen on its first download instead of linking it (as
// Foundation's URLSession did): linked, libcurl and its ~25 dependencies took ~5 ms of every process's start-up,
// `imgsec check` answering from the result cache included. So no curl development package is needed, these are
// the few declarations of <curl/curl.h> imgsec uses, from libcurl's stable ABI (libcurl.so.4);
// CURLOPT_PROTOCOLS_STR needs libcurl 7.85 (Debian 12 has 7.88). The variadic curl_easy_setopt and
// curl_easy_getinfo, which Swift cannot call, are called through the typed ccurl_* functions below.
#pragma once
#include <stddef.h>

typedef struct ccurl_handle ccurl_handle;  // CURL
typedef int ccurl_code;                     // CURLcode

struct ccurl_slist {
    char *_Nullable data;
    struct ccurl_slist *_Nullable next;
};

/// The libcurl functions imgsec calls, by their names without `curl_`.
struct ccurl_api {
    ccurl_code (*_Nonnull global_init)(long flags);
    ccurl_handle *_Nullable (*_Nonnull easy_init)(void);
    void (*_Nonnull easy_cleanup)(ccurl_handle *_Nonnull handle);
    void (*_Nonnull easy_reset)(ccurl_handle *_Nonnull handle);
    ccurl_code (*_Nonnull easy_perform)(ccurl_handle *_Nonnull handle);
    const char *_Nonnull (*_Nonnull easy_strerror)(ccurl_code code);
    void *_Nonnull easy_setopt;   // CURLcode curl_easy_setopt(CURL *, CURLoption, ...)
    void *_Nonnull easy_getinfo;  // CURLcode curl_easy_getinfo(CURL *, CURLINFO, ...)
    struct ccurl_slist *_Nullable (*_Nonnull slist_append)(struct ccurl_slist *_Nullable list, const char *_Nonnull string);
    void (*_Nonnull slist_free_all)(struct ccurl_slist *_Nullable list);
};

typedef size_t (*ccurl_data_callback)(char *_Nonnull data, size_t size, size_t count, void *_Nullable context);
// curl_off_t is long on 64-bit Linux.
typedef int (*ccurl_progress_callback)(void *_Nullable context, long total, long now, long up_total, long up_now);

static inline ccurl_code ccurl_setopt_long(void *_Nonnull setopt, ccurl_handle *_Nonnull h, int option, long value) {
    return ((ccurl_code (*)(ccurl_handle *, int, ...))setopt)(h, option, value);
}
static inline ccurl_code ccurl_setopt_pointer(void *_Nonnull setopt, ccurl_handle *_Nonnull h, int option, const void *_Nullable value) {
    return ((ccurl_code (*)(ccurl_handle *, int, ...))setopt)(h, option, value);
}
static inline ccurl_code ccurl_setopt_data_callback(void *_Nonnull setopt, ccurl_handle *_Nonnull h, int option, ccurl_data_callback _Nonnull f) {
    return ((ccurl_code (*)(ccurl_handle *, int, ...))setopt)(h, option, f);
}
static inline ccurl_code ccurl_setopt_progress_callback(void *_Nonnull setopt, ccurl_handle *_Nonnull h, int option, ccurl_progress_callback _Nonnull f) {
    return ((ccurl_code (*)(ccurl_handle *, int, ...))setopt)(h, option, f);
}
static inline ccurl_code ccurl_getinfo_long(void *_Nonnull getinfo, ccurl_handle *_Nonnull h, int info, long *_Nonnull value) {
    return ((ccurl_code (*)(ccurl_handle *, int, ...))getinfo)(h, info, value);
}

static const long CCURL_GLOBAL_DEFAULT = 3;
static const size_t CCURL_ERROR_SIZE = 256;

// CURLcode
static const ccurl_code CCURLE_OK = 0;
static const ccurl_code CCURLE_COULDNT_RESOLVE_PROXY = 5;
static const ccurl_code CCURLE_COULDNT_RESOLVE_HOST = 6;
static const ccurl_code CCURLE_COULDNT_CONNECT = 7;
static const ccurl_code CCURLE_WEIRD_SERVER_REPLY = 8;
static const ccurl_code CCURLE_HTTP2 = 16;
static const ccurl_code CCURLE_PARTIAL_FILE = 18;
static const ccurl_code CCURLE_WRITE_ERROR = 23;
static const ccurl_code CCURLE_OPERATION_TIMEDOUT = 28;
static const ccurl_code CCURLE_ABORTED_BY_CALLBACK = 42;
static const ccurl_code CCURLE_GOT_NOTHING = 52;
static const ccurl_code CCURLE_SEND_ERROR = 55;
static const ccurl_code CCURLE_RECV_ERROR = 56;
static const ccurl_code CCURLE_HTTP2_STREAM = 92;

// CURLoption
static const int CCURLOPT_WRITEDATA = 10001;
static const int CCURLOPT_URL = 10002;
static const int CCURLOPT_ERRORBUFFER = 10010;
static const int CCURLOPT_USERAGENT = 10018;
static const int CCURLOPT_HTTPHEADER = 10023;
static const int CCURLOPT_HEADERDATA = 10029;
static const int CCURLOPT_XFERINFODATA = 10057;
static const int CCURLOPT_PROTOCOLS_STR = 10318;
static const int CCURLOPT_REDIR_PROTOCOLS_STR = 10319;
static const int CCURLOPT_WRITEFUNCTION = 20011;
static const int CCURLOPT_HEADERFUNCTION = 20079;
static const int CCURLOPT_XFERINFOFUNCTION = 20219;
static const int CCURLOPT_TIMEOUT = 13;
static const int CCURLOPT_LOW_SPEED_LIMIT = 19;
static const int CCURLOPT_LOW_SPEED_TIME = 20;
static const int CCURLOPT_NOPROGRESS = 43;
static const int CCURLOPT_FOLLOWLOCATION = 52;
static const int CCURLOPT_MAXREDIRS = 68;
static const int CCURLOPT_NOSIGNAL = 99;
static const int CCURLOPT_CONNECTTIMEOUT_MS = 156;

// CURLINFO
static const int CCURLINFO_RESPONSE_CODE = 0x200000 + 2;
