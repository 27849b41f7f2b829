/// The parsed metadata of one rpm-md repository, keyed by its resolved base URL so that callers can
/// share it between machines that use the same repository.
public struct DnfRepositoryIndex: Sendable {
    /// The base URL the metadata came from (no trailing `/`).
    public var baseURL: String
    public var repomd: Repomd
    public var packages: [RepoPackage]
    /// From `updateinfo`, empty when the repository has none.
    public var advisories: [Advisory]
    /// From `modules`, empty when the repository has none.
    public var modules: ModuleMetadata

    public init(baseURL: String, repomd: Repomd, packages: [RepoPackage], advisories: [Advisory] = [], modules: ModuleMetadata = ModuleMetadata()) {
        self.baseURL = baseURL
        self.repomd = repomd
        self.packages = packages
        self.advisories = advisories
        self.modules = modules
    }
}

/// What loading one configured repository gave: its index, or why not.
public struct DnfRepositoryLoad: Sendable {
    public var repository: YumRepository
    public var index: DnfRepositoryIndex?
    public var error: RepodataError?
    /// True when the repository failed and `skip_if_unavailable` is off: dnf itself would stop here.
    public var isFatal: Bool { error != nil && !skipIfUnavailable }
    public var skipIfUnavailable: Bool
}

/// The repositories of one machine, loaded.
public struct DnfIndexes: Sendable {
    /// One entry per enabled repository, in configuration order.
    public var repositories: [DnfRepositoryLoad]
    public init(repositories: [DnfRepositoryLoad]) { self.repositories = repositories }
    public var failures: [DnfRepositoryLoad] { repositories.filter { $0.error != nil } }
}

/// Loads the enabled repositories of a machine: base URL (or metalink/mirrorlist), `repodata/repomd.xml`,
/// then primary, updateinfo and modules, each checked against its repomd.xml checksum before parsing.
public struct DnfRepositoryLoader: Sendable {
    public var fetcher: any ResourceFetcher
    /// Shares loaded repositories between machines (one load per repository and run).
    public var cache: DnfIndexCache?
    /// Largest metadata file (primary, updateinfo) once decompressed.
    public var indexLimit: Int

    public init(fetcher: any ResourceFetcher, cache: DnfIndexCache? = nil, indexLimit: Int = 1 << 30) {
        self.fetcher = fetcher
        self.cache = cache
        self.indexLimit = indexLimit
    }

    /// Loads every enabled repository of `config`. A failing repository is reported in its entry, never thrown.
    public func load(_ config: DnfMachineConfig) async -> DnfIndexes {
        var out: [DnfRepositoryLoad] = []
        for repo in config.enabledRepositories {
            let skip = repo.skipIfUnavailable ?? config.main.skipIfUnavailable
            let result: Result<DnfRepositoryIndex, RepodataError>
            if let cache {
                result = await cache.index(DnfIndexCache.key(repo), load: { () async throws(RepodataError) in try await load(repo, variables: config.variables) })
            } else {
                do throws(RepodataError) { result = .success(try await load(repo, variables: config.variables)) } catch { result = .failure(error) }
            }
            switch result {
            case .success(let index): out.append(DnfRepositoryLoad(repository: repo, index: index, error: nil, skipIfUnavailable: skip))
            case .failure(let error): out.append(DnfRepositoryLoad(repository: repo, index: nil, error: error, skipIfUnavailable: skip))
            }
        }
        return DnfIndexes(repositories: out)
    }

    /// Loads one repository: the first base URL that works; else the metalink's mirrors (repomd.xml checked
    /// against the metalink's digests); else the mirrorlist's.
    public func load(_ repo: YumRepository, variables: [String: String] = [:]) async throws(RepodataError) -> DnfRepositoryIndex {
        var lastError: RepodataError?
        for base in repo.baseURLs {
            do { return try await loadIndex(baseURL: base) } catch { lastError = error }
        }
        if repo.baseURLs.isEmpty, let metalinkURL = repo.metalink {
            let metalink = try Metalink.parse(try await fetch(metalinkURL), source: metalinkURL)
            // A metalink comes from a server: its mirrors are fetched over http(s) only (CachingFetcher refuses the rest too).
            for mirror in metalink.mirrors where mirror.protocol.map({ ["http", "https"].contains($0) }) ?? true {
                guard let base = mirror.baseURL else { continue }
                do { return try await loadIndex(baseURL: base, repomdDigests: metalink.hashes) } catch { lastError = error }
            }
        } else if repo.baseURLs.isEmpty, let mirrorlistURL = repo.mirrorlist {
            for base in Mirrorlist.parse(try await fetch(mirrorlistURL), variables: variables) {
                do { return try await loadIndex(baseURL: base) } catch { lastError = error }
            }
        }
        throw lastError ?? RepodataError(.noMirror, url: "\(repo.file):\(repo.line) [\(repo.id)]",
                                         detail: "has no baseurl, and its metalink/mirrorlist gave no usable mirror")
    }

    /// Loads the repository at `baseURL`. When `repomdDigests` is not empty, repomd.xml must match one of them.
    public func loadIndex(baseURL: String, repomdDigests: [RepoChecksum] = []) async throws(RepodataError) -> DnfRepositoryIndex {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        let repomdURL = base + "/repodata/repomd.xml"
        let repomdBytes = try await fetch(repomdURL)
        let sha256 = repomdDigests.filter { $0.type == "sha256" }
        if !sha256.isEmpty {
            let actual = SHA256Hasher.hex(of: repomdBytes)
            guard sha256.contains(where: { $0.value == actual }) else {
                throw RepodataError(.checksumMismatch, url: repomdURL, detail: "has SHA-256 \(actual), which the metalink does not list")
            }
        }
        let repomd = try Repomd.parse(repomdBytes, source: repomdURL)
        guard let primary = repomd.entry("primary") else {
            throw RepodataError(.missingMetadata, url: repomdURL, detail: "lists no primary metadata")
        }
        let primaryURL = base + "/" + primary.location
        let packages = try PrimaryXML.parse(try await fetchVerified(primaryURL, primary), source: primaryURL, limit: indexLimit)
        var advisories: [Advisory] = []
        if let entry = repomd.entry("updateinfo") {
            let url = base + "/" + entry.location
            advisories = try UpdateInfo.parse(try await fetchVerified(url, entry), source: url, limit: indexLimit)
        }
        var modules = ModuleMetadata()
        if let entry = repomd.entry("modules") {
            let url = base + "/" + entry.location
            modules = try ModuleMetadata.parse(try await fetchVerified(url, entry), source: url)
        }
        return DnfRepositoryIndex(baseURL: base, repomd: repomd, packages: packages, advisories: advisories, modules: modules)
    }

    private func fetchVerified(_ url: String, _ entry: Repomd.Entry) async throws(RepodataError) -> [UInt8] {
        let bytes = try await fetch(url)
        guard let checksum = entry.checksum else {
            throw RepodataError(.checksumMismatch, url: url, detail: "has no checksum in repomd.xml, so it cannot be verified")
        }
        try checksum.verify(bytes, url: url)
        return bytes
    }

    private func fetch(_ url: String) async throws(RepodataError) -> [UInt8] {
        let result: [UInt8]?
        do { result = try await fetcher.fetch(url) } catch {
            if let refused = error as? FetchError, refused.refused { throw RepodataError(.refusedURL, url: url, detail: refused.detail) }
            throw RepodataError(.fetch, url: url, detail: "cannot be fetched: \(error)")
        }
        guard let result else { throw RepodataError(.notFound, url: url, detail: "does not exist") }
        return result
    }
}

/// A memo of loaded dnf repositories shared between machines: each repository (id and URLs) is loaded
/// once, also when many machines ask at the same time.
public actor DnfIndexCache {
    private var loads: [String: Task<Result<DnfRepositoryIndex, RepodataError>, Never>] = [:]

    public init() {}

    /// `dnf ID URL…`: the repository's result-cache key.
    public static func key(_ repo: YumRepository) -> String {
        "dnf \(repo.id) " + (repo.baseURLs + [repo.metalink, repo.mirrorlist].compactMap { $0 }).map(RepositoryURL.normalised).joined(separator: " ")
    }

    func index(_ key: String, load: @escaping @Sendable () async throws(RepodataError) -> DnfRepositoryIndex) async -> Result<DnfRepositoryIndex, RepodataError> {
        if let task = loads[key] { return await task.value }
        let task = Task<Result<DnfRepositoryIndex, RepodataError>, Never> {
            do throws(RepodataError) { return .success(try await load()) } catch { return .failure(error) }
        }
        loads[key] = task
        return await task.value
    }
}
