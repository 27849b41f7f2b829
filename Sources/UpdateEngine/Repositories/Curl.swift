internal import CCurl
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One GET request for ``CurlSession/get(_:cancellation:)``.
struct CurlRequest: Sendable {
    var url: String
    /// Extra request header lines (`Name: value`).
    var headers: [String]
    var userAgent: String
    /// Allowed to connect, and allowed without receiving data once connected.
    var idleTimeoutSeconds: Int
    /// Allowed for the whole transfer.
    var totalTimeoutSeconds: Int
    /// Largest body kept; a larger one ends the transfer.
    var limit: Int
}

/// The final HTTP answer (after redirects).
struct CurlResponse: Sendable {
    var status: Int
    /// The answer's header fields, names lower-cased; a repeated field keeps its last value.
    var headers: [String: String]
    var body: [UInt8]
}

/// Why a transfer ended without an HTTP answer.
struct CurlError: Error, Sendable {
    enum Kind: Sendable {
        /// Worth retrying: the host could not be resolved or reached, the connection broke or went silent.
        case transient
        /// The body was larger than ``CurlRequest/limit``.
        case tooLarge
        case cancelled
        /// Anything else: a TLS failure, a bad URL, a redirect loop, libcurl missing.
        case failed
    }

    var kind: Kind
    var message: String
}

/// Set from another thread to stop a running transfer.
final class CurlCancellation: Sendable {
    let requested = Atomic<Bool>(false)
}

/// HTTP GETs through libcurl's easy interface. libcurl is opened with dlopen on the first request, never linked,
/// so a process that downloads nothing does not load it (see `Sources/CCurl/shim.h`). Handles are kept between
/// requests so that their connections are reused. ``get(_:cancellation:)`` blocks: call it off the cooperative pool.
final class CurlSession: Sendable {
    private let idle = Mutex<[CurlHandle]>([])
    private static let idleLimit = 8

    /// Performs `request`. Blocks until the transfer ends; checks `cancellation` while it runs.
    /// The corresponding libcurl call is `curl_easy_perform`.
    func get(_ request: CurlRequest, cancellation: CurlCancellation) -> Result<CurlResponse, CurlError> {
        let api: ccurl_api
        switch Self.library {
        case .success(let table): api = table
        case .failure(let error): return .failure(error)
        }
        guard let handle = idle.withLock({ $0.popLast() }) ?? CurlHandle(api) else {
            return .failure(CurlError(kind: .failed, message: "libcurl cannot create a handle"))
        }
        let result = handle.perform(request, cancellation: cancellation)
        idle.withLock { if $0.count < Self.idleLimit { $0.append(handle) } }
        return result
    }

    /// libcurl's entry points, looked up once per process on the first request.
    /// Immutable once initialised: a table of function addresses, safe to read from any thread.
    nonisolated(unsafe) private static let library = Result { () throws(CurlError) -> ccurl_api in
        let name = "libcurl.so.4"
        guard let library = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            throw CurlError(kind: .failed, message: "cannot load \(name) (\(reason)); install libcurl4 (scripts/setup.sh does)")
        }
        func entry<F>(_ symbol: String) throws(CurlError) -> F {
            guard let address = dlsym(library, symbol) else {
                throw CurlError(kind: .failed, message: "\(name) has no \(symbol)")
            }
            return unsafeBitCast(address, to: F.self)
        }
        let api = ccurl_api(
            global_init: try entry("curl_global_init"), easy_init: try entry("curl_easy_init"),
            easy_cleanup: try entry("curl_easy_cleanup"), easy_reset: try entry("curl_easy_reset"),
            easy_perform: try entry("curl_easy_perform"), easy_strerror: try entry("curl_easy_strerror"),
            easy_setopt: try entry("curl_easy_setopt"), easy_getinfo: try entry("curl_easy_getinfo"),
            slist_append: try entry("curl_slist_append"), slist_free_all: try entry("curl_slist_free_all"))
        let rc = api.global_init(CCURL_GLOBAL_DEFAULT)
        guard rc == CCURLE_OK else {
            throw CurlError(kind: .failed, message: "curl_global_init failed: \(String(cString: api.easy_strerror(rc)))")
        }
        return api
    }
}

/// One libcurl easy handle (`CURL *`); cleaned up when released. Used by one thread at a time.
private final class CurlHandle: @unchecked Sendable {  // unchecked: only ever used by the thread that took it from the pool.
    private let api: ccurl_api
    private let handle: OpaquePointer

    init?(_ api: ccurl_api) {
        guard let handle = api.easy_init() else { return nil }
        self.api = api
        self.handle = handle
    }

    deinit { api.easy_cleanup(handle) }

    /// The state one transfer's callbacks share, reached through libcurl's `void *` context argument.
    private final class Transfer {
        let limit: Int
        let cancellation: CurlCancellation
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        var tooLarge = false

        init(limit: Int, cancellation: CurlCancellation) {
            self.limit = limit
            self.cancellation = cancellation
        }

        static func from(_ context: UnsafeMutableRawPointer?) -> Transfer? {
            context.map { Unmanaged<Transfer>.fromOpaque($0).takeUnretainedValue() }
        }
    }

    func perform(_ request: CurlRequest, cancellation: CurlCancellation) -> Result<CurlResponse, CurlError> {
        api.easy_reset(handle)  // keeps the connection cache
        let transfer = Transfer(limit: request.limit, cancellation: cancellation)
        var list: UnsafeMutablePointer<ccurl_slist>?
        defer { api.slist_free_all(list) }
        for line in request.headers {
            guard let appended = api.slist_append(list, line) else {
                return .failure(CurlError(kind: .failed, message: "libcurl cannot allocate a header list"))
            }
            list = appended
        }
        var errorText = [CChar](repeating: 0, count: CCURL_ERROR_SIZE)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        let (rc, status) = errorText.withUnsafeMutableBufferPointer { errorBuffer -> (ccurl_code, Int) in
            let setopt = api.easy_setopt
            var rc = CCURLE_OK
            func set(_ option: Int32, _ value: Int) { if rc == CCURLE_OK { rc = ccurl_setopt_long(setopt, handle, option, value) } }
            func set(_ option: Int32, pointer value: UnsafeRawPointer?) {
                if rc == CCURLE_OK { rc = ccurl_setopt_pointer(setopt, handle, option, value) }
            }
            // String options are copied by libcurl.
            func set(_ option: Int32, _ value: String) { value.withCString { set(option, pointer: $0) } }

            set(CCURLOPT_URL, request.url)
            set(CCURLOPT_PROTOCOLS_STR, "http,https")
            set(CCURLOPT_REDIR_PROTOCOLS_STR, "http,https")
            set(CCURLOPT_FOLLOWLOCATION, 1)
            set(CCURLOPT_MAXREDIRS, 10)
            set(CCURLOPT_USERAGENT, request.userAgent)
            set(CCURLOPT_HTTPHEADER, pointer: list)
            set(CCURLOPT_NOSIGNAL, 1)
            set(CCURLOPT_CONNECTTIMEOUT_MS, request.idleTimeoutSeconds * 1000)
            // Less than 1 byte/s for the idle timeout: the connection went silent.
            set(CCURLOPT_LOW_SPEED_LIMIT, 1)
            set(CCURLOPT_LOW_SPEED_TIME, max(1, request.idleTimeoutSeconds))
            set(CCURLOPT_TIMEOUT, request.totalTimeoutSeconds)
            set(CCURLOPT_ERRORBUFFER, pointer: errorBuffer.baseAddress)
            set(CCURLOPT_WRITEDATA, pointer: context)
            set(CCURLOPT_HEADERDATA, pointer: context)
            set(CCURLOPT_XFERINFODATA, pointer: context)
            set(CCURLOPT_NOPROGRESS, 0)
            if rc == CCURLE_OK {
                rc = ccurl_setopt_data_callback(setopt, handle, CCURLOPT_WRITEFUNCTION) { data, size, count, context in
                    guard let transfer = Transfer.from(context) else { return 0 }
                    let n = size * count
                    guard transfer.body.count + n <= transfer.limit else {
                        transfer.tooLarge = true
                        return 0  // ends the transfer with CURLE_WRITE_ERROR
                    }
                    transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
                    return n
                }
            }
            if rc == CCURLE_OK {
                // One call per header line, the status line first; after a redirect the next answer's lines follow.
                rc = ccurl_setopt_data_callback(setopt, handle, CCURLOPT_HEADERFUNCTION) { data, size, count, context in
                    guard let transfer = Transfer.from(context) else { return 0 }
                    let n = size * count
                    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
                    if line.hasPrefix("HTTP/") {
                        transfer.headers = [:]
                    } else if let colon = line.firstIndex(of: ":") {
                        var value = line[line.index(after: colon)...].drop(while: \.isWhitespace)
                        while value.last?.isWhitespace == true { value.removeLast() }
                        transfer.headers[line[..<colon].lowercased()] = String(value)
                    }
                    return n
                }
            }
            if rc == CCURLE_OK {
                rc = ccurl_setopt_progress_callback(setopt, handle, CCURLOPT_XFERINFOFUNCTION) { context, _, _, _, _ in
                    Transfer.from(context)?.cancellation.requested.load(ordering: .relaxed) == true ? 1 : 0
                }
            }
            guard rc == CCURLE_OK else { return (rc, 0) }
            rc = api.easy_perform(handle)
            var status = 0
            if rc == CCURLE_OK { _ = ccurl_getinfo_long(api.easy_getinfo, handle, CCURLINFO_RESPONSE_CODE, &status) }
            return (rc, status)
        }
        guard rc == CCURLE_OK else {
            let detail = errorText[0] != 0 ? String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                : String(cString: api.easy_strerror(rc))
            let kind: CurlError.Kind
            switch rc {
            case CCURLE_WRITE_ERROR where transfer.tooLarge: kind = .tooLarge
            case CCURLE_ABORTED_BY_CALLBACK where cancellation.requested.load(ordering: .relaxed): kind = .cancelled
            case CCURLE_COULDNT_RESOLVE_PROXY, CCURLE_COULDNT_RESOLVE_HOST, CCURLE_COULDNT_CONNECT, CCURLE_WEIRD_SERVER_REPLY,
                 CCURLE_HTTP2, CCURLE_PARTIAL_FILE, CCURLE_OPERATION_TIMEDOUT, CCURLE_GOT_NOTHING, CCURLE_SEND_ERROR,
                 CCURLE_RECV_ERROR, CCURLE_HTTP2_STREAM:
                kind = .transient
            default: kind = .failed
            }
            return .failure(CurlError(kind: kind, message: detail))
        }
        return .success(CurlResponse(status: status, headers: transfer.headers, body: transfer.body))
    }
}
