import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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

/// Fetches `http://` and `https://` URLs with Foundation's `URLSession`: follows redirects, times out,
/// retries connection failures and 5xx answers with exponential back-off, supports conditional requests.
///
/// URLSession's own cache is off: the repository cache (``CachingFetcher``) decides what is reused.
public final class HTTPFetcher: ConditionalFetcher {
    /// How the fetcher behaves.
    public struct Options: Sendable {
        /// Time allowed without data before a request fails.
        public var timeout: Duration
        /// Attempts per fetch, the first included (at least 1).
        public var attempts: Int
        /// Wait before the second attempt; doubled before each later one.
        public var backoff: Duration
        /// Largest body accepted, in bytes; a larger one is an error. Checked once the body is received:
        /// URLSession buffers it in memory first, so this bounds what is kept, not what is downloaded.
        public var limit: Int
        public var userAgent: String

        public init(timeout: Duration = .seconds(30), attempts: Int = 3, backoff: Duration = .milliseconds(500),
                    limit: Int = 1 << 30, userAgent: String = "imgsec") {
            self.timeout = timeout
            self.attempts = attempts
            self.backoff = backoff
            self.limit = limit
            self.userAgent = userAgent
        }
    }

    public let options: Options
    private let session: URLSession

    public init(options: Options = Options()) {
        self.options = options
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpCookieStorage = nil
        let seconds = Double(options.timeout.components.seconds) + Double(options.timeout.components.attoseconds) / 1e18
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = max(seconds, 600)
        session = URLSession(configuration: configuration)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func fetch(_ url: String, validators: Validators?) async throws -> FetchResponse {
        guard let target = URL(string: url), let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw FetchError(url: url, detail: "is not an http:// or https:// URL")
        }
        var request = URLRequest(url: target)
        request.cachePolicy = .reloadIgnoringLocalCacheData
        request.setValue(options.userAgent, forHTTPHeaderField: "User-Agent")
        if let etag = validators?.etag { request.setValue(etag, forHTTPHeaderField: "If-None-Match") }
        if let date = validators?.lastModified { request.setValue(date, forHTTPHeaderField: "If-Modified-Since") }

        var delay = options.backoff
        var attempt = 1
        while true {
            let outcome = await once(request, url: url)
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
    private func once(_ request: URLRequest, url: String) async -> Outcome {
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError {
            switch error.code {
            case .timedOut, .cannotConnectToHost, .networkConnectionLost, .cannotFindHost, .dnsLookupFailed,
                 .notConnectedToInternet, .resourceUnavailable, .badServerResponse:
                return .retryable(FetchError(url: url, detail: "cannot connect: \(error.localizedDescription)"))
            default:
                return .fatal(FetchError(url: url, detail: "\(error.localizedDescription)"))
            }
        } catch is CancellationError {
            return .fatal(FetchError(url: url, detail: "cancelled"))
        } catch {
            return .retryable(FetchError(url: url, detail: "\(error)"))
        }
        guard let http = response as? HTTPURLResponse else {
            return .fatal(FetchError(url: url, detail: "the answer is not an HTTP response"))
        }
        switch http.statusCode {
        case 200...299:
            guard data.count <= options.limit else {
                return .fatal(FetchError(url: url, detail: "is \(data.count) bytes, more than the limit of \(options.limit)"))
            }
            return .done(.content([UInt8](data), etag: http.value(forHTTPHeaderField: "ETag"),
                                  lastModified: http.value(forHTTPHeaderField: "Last-Modified")))
        case 304:
            return .done(.notModified)
        case 404, 410:
            return .done(.missing)
        case 408, 429, 500...599:
            return .retryable(FetchError(url: url, detail: "the server answered HTTP \(http.statusCode)"))
        default:
            return .fatal(FetchError(url: url, detail: "the server answered HTTP \(http.statusCode)"))
        }
    }
}
