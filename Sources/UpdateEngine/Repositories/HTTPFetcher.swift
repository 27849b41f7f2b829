import Foundation

/// The validators of a cached copy, sent back in a conditional request.
public struct Validators: Sendable, Hashable, Codable {
    /// Sent as `If-None-Match`.
    public var etag: String?
    /// Sent as `If-Modified-Since`.
    public var lastModified: String?
    public init(etag: String? = nil, lastModified: String? = nil) {
        self.etag = etag
        self.lastModified = lastModified
    }
    public var isEmpty: Bool { etag == nil && lastModified == nil }
}

/// What a (conditional) fetch found.
public enum FetchResponse: Sendable, Equatable {
    /// The server confirmed the cached copy (HTTP 304).
    case notModified
    /// New content, with the validators to send next time.
    case content([UInt8], etag: String?, lastModified: String?)
    /// Nothing there (HTTP 404/410).
    case missing
}

/// A fetcher that can ask "has it changed since?".
public protocol ConditionalFetcher: ResourceFetcher {
    /// Fetches `url`, conditionally when `validators` are given and not empty.
    func fetch(_ url: String, validators: Validators?) async throws -> FetchResponse
}

extension ConditionalFetcher {
    public func fetch(_ url: String) async throws -> [UInt8]? {
        switch try await fetch(url, validators: nil) {
        case .content(let bytes, _, _): return bytes
        case .missing: return nil
        case .notModified: throw FetchError(url: url, detail: "the server answered 304 Not Modified to an unconditional request")
        }
    }
}

/// Fetches `http://` and `https://` URLs with libcurl: follows redirects (to http and https only), times out,
/// retries connection failures and 5xx answers with exponential back-off, supports conditional requests.
///
/// Nothing is cached here: the repository cache (``CachingFetcher``) decides what is reused. libcurl is loaded on the
/// first request, not at start-up (Foundation's URLSession linked it into every process); each request runs on a
/// thread of its own, never on the cooperative pool, and stops when its task is cancelled.
public final class HTTPFetcher: ConditionalFetcher {
    /// How the fetcher behaves.
    public struct Options: Sendable {
        /// Time allowed without data before a request fails.
        public var timeout: Duration
        /// Time allowed for one whole download (a server sending a byte a second is stopped here).
        public var totalTimeout: Duration
        /// Attempts per fetch, the first included (at least 1).
        public var attempts: Int
        /// Wait before the second attempt; doubled before each later one.
        public var backoff: Duration
        /// Largest body accepted, in bytes; a larger one is an error, and its download stops there.
        public var limit: Int
        public var userAgent: String

        public init(timeout: Duration = .seconds(30), totalTimeout: Duration = .seconds(600), attempts: Int = 3,
                    backoff: Duration = .milliseconds(500), limit: Int = 1 << 30, userAgent: String = "imgsec") {
            self.timeout = timeout
            self.totalTimeout = totalTimeout
            self.attempts = attempts
            self.backoff = backoff
            self.limit = limit
            self.userAgent = userAgent
        }
    }

    public let options: Options
    private let session = CurlSession()

    public init(options: Options = Options()) {
        self.options = options
    }

    public func fetch(_ url: String, validators: Validators?) async throws -> FetchResponse {
        guard let target = URL(string: url), let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw FetchError(url: url, detail: "is not an http:// or https:// URL")
        }
        var headers: [String] = []
        if let etag = validators?.etag { headers.append("If-None-Match: \(etag)") }
        if let date = validators?.lastModified { headers.append("If-Modified-Since: \(date)") }
        // Rounded up to whole seconds, at least one.
        func seconds(_ d: Duration) -> Int { max(1, Int(d.components.seconds) + (d.components.attoseconds > 0 ? 1 : 0)) }
        let idle = seconds(options.timeout)
        let request = CurlRequest(url: url, headers: headers, userAgent: options.userAgent, idleTimeoutSeconds: idle,
                                  totalTimeoutSeconds: seconds(options.totalTimeout), limit: options.limit)

        var delay = options.backoff
        var attempt = 1
        while true {
            let outcome = await once(request)
            switch outcome {
            case .done(let response):
                return response
            case .fatal(let error):
                throw error
            case .retryable(let error):
                guard attempt < max(1, options.attempts) else {
                    throw FetchError(url: url, detail: "\(error.detail) (after \(attempt) attempts)")
                }
                try await Task.sleep(for: delay)
                delay *= 2
                attempt += 1
            }
        }
    }

    private enum Outcome {
        case done(FetchResponse)
        case retryable(FetchError)
        case fatal(FetchError)
    }

    /// One request, classified.
    private func once(_ request: CurlRequest) async -> Outcome {
        let url = request.url
        let cancellation = CurlCancellation()
        let result = await withTaskCancellationHandler {
            await runOnOwnThread { [session] in session.get(request, cancellation: cancellation) }
        } onCancel: {
            cancellation.requested.store(true, ordering: .relaxed)
        }
        let response: CurlResponse
        switch result {
        case .success(let answer):
            response = answer
        case .failure(let error):
            switch error.kind {
            case .transient: return .retryable(FetchError(url: url, detail: "cannot connect: \(error.message)"))
            case .tooLarge: return .fatal(FetchError(url: url, detail: "is more than the limit of \(options.limit) bytes"))
            case .cancelled: return .fatal(FetchError(url: url, detail: "cancelled"))
            case .failed: return .fatal(FetchError(url: url, detail: error.message))
            }
        }
        switch response.status {
        case 200...299:
            return .done(.content(response.body, etag: response.headers["etag"], lastModified: response.headers["last-modified"]))
        case 304:
            return .done(.notModified)
        case 404, 410:
            return .done(.missing)
        case 408, 429, 500...599:
            return .retryable(FetchError(url: url, detail: "the server answered HTTP \(response.status)"))
        default:
            return .fatal(FetchError(url: url, detail: "the server answered HTTP \(response.status)"))
        }
    }
}
