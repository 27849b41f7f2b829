import Foundation

/// The repository file cache in front of the network: the fetcher the engines use.
///
/// For each URL (after ``MirrorRules`` rewriting):
/// - a cached copy validated less than `maxAge` ago is returned with no request at all;
/// - an older one is revalidated with a conditional request (`If-None-Match`/`If-Modified-Since`);
///   a 304 answer refreshes its validation time and returns the cached bytes;
/// - otherwise the file is downloaded and cached. A 404/410 answer is cached too (as "missing").
/// In ``Options/offline`` mode nothing touches the network: cached copies of any age answer, and a
/// URL not in the cache is an error.
///
/// The URLs come from a guest's configuration (or from what its repositories' servers say), so only http(s) is
/// fetched. A `file://` URL or an absolute path is read from this host only when a mirror rule, which the operator
/// wrote, turned the guest's URL into it (and never with a `..` component, which could leave the rule's
/// directory); read directly, never cached. A guest's own `file:` URL names a path inside the guest, which apt or
/// dnf there would read: imgsec refuses it (``FetchError/refused``) rather than read the host's file of that name.
///
/// Concurrent fetches of one URL within the process share one request.
public actor CachingFetcher: ResourceFetcher {
    public struct Options: Sendable {
        /// How long a fetched or revalidated file is used without asking the server (`--repo-max-age`).
        public var maxAge: Duration
        /// Never use the network; answer from the cache only.
        public var offline: Bool
        public var mirrors: MirrorRules

        public init(maxAge: Duration = .seconds(4 * 3600), offline: Bool = false, mirrors: MirrorRules = MirrorRules()) {
            self.maxAge = maxAge
            self.offline = offline
            self.mirrors = mirrors
        }
    }

    public let options: Options
    private let store: any UpdateStore
    private let network: any ConditionalFetcher
    private let files: any ResourceFetcher
    private let clock: @Sendable () -> Date
    private var inFlight: [String: Task<[UInt8]?, any Error>] = [:]
    /// What this run already read or fetched, with when it was validated: a thousand machines that use one
    /// repository read its `InRelease` from the store once, not a thousand times. The same freshness rule
    /// applies as to the stored copy.
    private var recent: [String: (bytes: [UInt8]?, validatedAt: Date)] = [:]

    /// - Parameters:
    ///   - network: fetches `http(s)://` URLs; an ``HTTPFetcher`` unless testing.
    ///   - files: reads `file://` URLs and absolute paths.
    ///   - clock: the current time; tests move it.
    public init(store: any UpdateStore, options: Options = Options(), network: any ConditionalFetcher = HTTPFetcher(),
                files: any ResourceFetcher = FileFetcher(), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.options = options
        self.network = network
        self.files = files
        self.clock = clock
    }

    public func fetch(_ url: String) async throws -> [UInt8]? {
        let target = options.mirrors.apply(url)
        if target.hasPrefix("file://") || target.hasPrefix("/") {
            guard target != url else {
                throw FetchError(url: url, detail: "names a path inside the machine; imgsec never reads this host's file of that name on a guest's behalf (to serve a host copy of that repository, give a mirror rule FROM=file:///DIRECTORY)", refused: true)
            }
            guard !target.split(separator: "/").contains("..") else {
                throw FetchError(url: url, detail: "leaves the directory of its mirror rule (\(target) has a .. component)", refused: true)
            }
            return try await files.fetch(target)
        }
        let scheme = target.prefix(while: { $0 != ":" }).lowercased()
        guard target.contains("://"), scheme == "http" || scheme == "https" else {
            throw FetchError(url: url, detail: "uses \(scheme.isEmpty || !target.contains(":") ? "no scheme" : "the scheme \(scheme):"); imgsec fetches repositories over http and https only", refused: true)
        }
        if let seen = recent[target], isFresh(seen.validatedAt) || options.offline {
            return seen.bytes
        }
        if let running = inFlight[target] {
            return try await running.value
        }
        let task = Task { try await self.fetchThroughCache(target) }
        inFlight[target] = task
        defer { inFlight[target] = nil }
        return try await task.value
    }

    private func isFresh(_ validatedAt: Date) -> Bool {
        let now = clock()
        return now.timeIntervalSince(validatedAt) < maxAgeSeconds && now >= validatedAt
    }

    private func remember(_ url: String, _ bytes: [UInt8]?, validatedAt: Date) -> [UInt8]? {
        recent[url] = (bytes, validatedAt)
        return bytes
    }

    private var maxAgeSeconds: Double {
        Double(options.maxAge.components.seconds) + Double(options.maxAge.components.attoseconds) / 1e18
    }

    /// One URL through the cache.
    private func fetchThroughCache(_ url: String) async throws -> [UInt8]? {
        let cached = try await store.repositoryFile(url: url)
        let now = clock()
        if options.offline {
            guard let cached else {
                throw FetchError(url: url, detail: "is not in the repository cache, and the network is not to be used (offline)")
            }
            return remember(url, cached.bytes, validatedAt: cached.validatedAt)
        }
        if let cached, now.timeIntervalSince(cached.validatedAt) < maxAgeSeconds, now >= cached.validatedAt {
            return remember(url, cached.bytes, validatedAt: cached.validatedAt)
        }
        var validators: Validators?
        if let cached, cached.bytes != nil {
            validators = Validators(etag: cached.etag, lastModified: cached.lastModified)
            if validators?.isEmpty == true { validators = nil }
        }
        let response = try await network.fetch(url, validators: validators)
        let fetched = clock()
        let expires = fetched.addingTimeInterval(maxAgeSeconds)
        switch response {
        case .notModified:
            guard let cached, validators != nil else {
                throw FetchError(url: url, detail: "the server answered 304 Not Modified to an unconditional request")
            }
            try await store.markRepositoryFileValidated(url: url, at: fetched, expiresAt: expires)
            return remember(url, cached.bytes, validatedAt: fetched)
        case .content(let bytes, let etag, let lastModified):
            try await store.putRepositoryFile(RepositoryFileRecord(url: url, bytes: bytes, etag: etag, lastModified: lastModified,
                                                                   fetchedAt: fetched, expiresAt: expires))
            return remember(url, bytes, validatedAt: fetched)
        case .missing:
            try await store.putRepositoryFile(RepositoryFileRecord(url: url, bytes: nil, fetchedAt: fetched, expiresAt: expires))
            return remember(url, nil, validatedAt: fetched)
        }
    }
}
