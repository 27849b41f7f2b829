/// Gets repository files (indexes, signatures, keys) by URL.
///
/// The engines only ask for bytes; how they are fetched — HTTP with conditional requests and retries,
/// the repository cache, mirror rewriting, `file://` — is the fetcher's business.
public protocol ResourceFetcher: Sendable {
    /// The bytes at `url`, or nil when it does not exist there (HTTP 404/410, no such file).
    /// Other failures throw ``FetchError``.
    func fetch(_ url: String) async throws -> [UInt8]?
}

/// Why a repository file could not be fetched. Names the URL.
public struct FetchError: Error, CustomStringConvertible, Sendable, Equatable {
    public var url: String
    public var detail: String
    /// True when imgsec will not fetch this URL at all (a path on this host named by a guest, a scheme other
    /// than http and https), as opposed to a fetch that failed.
    public var refused: Bool
    public init(url: String, detail: String, refused: Bool = false) { self.url = url; self.detail = detail; self.refused = refused }
    public var description: String { "\(url): \(detail)" }
}

/// Fetches `file://` URLs (and plain absolute paths) from the host's filesystem. ``CachingFetcher`` uses it
/// only for the host copies an operator's mirror rules name, never for a path a guest's configuration names.
public struct FileFetcher: ResourceFetcher {
    public var limit: Int
    public init(limit: Int = 2 << 30) { self.limit = limit }

    public func fetch(_ url: String) async throws -> [UInt8]? {
        let path = url.hasPrefix("file://") ? String(url.dropFirst("file://".count)) : url
        guard path.hasPrefix("/") else { throw FetchError(url: url, detail: "is not a file:// URL") }
        do {
            let components = MachinePath.components(path)
            guard let last = components.last else { return nil }
            let dir = DirectoryMachine(root: MachinePath.join(Array(components.dropLast())))
            return try dir.read("/" + last, limit: limit)
        } catch {
            throw FetchError(url: url, detail: "\(error)")
        }
    }
}
