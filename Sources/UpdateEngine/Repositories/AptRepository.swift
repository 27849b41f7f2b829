import Foundation

/// Why an apt repository file could not be used. Names the URL and, where there is one, the line.
public struct AptRepositoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case malformedRelease, malformedIndex, notSigned, badSignature, expired, notYetValid, missingRelease
        case missingIndexEntry, hashMismatch, sizeMismatch, fetchFailed, decompressionFailed, notFound
        /// A URL imgsec does not fetch (``FetchError/refused``).
        case refusedURL
    }
    public var code: Code
    public var url: String
    /// 1-based line, 0 when not about a line.
    public var line: Int
    public var detail: String

    public init(_ code: Code, url: String, line: Int = 0, detail: String) {
        self.code = code
        self.url = url
        self.line = line
        self.detail = detail
    }

    public var description: String {
        line > 0 ? "\(url) line \(line): \(detail)." : "\(url): \(detail)."
    }
}

/// Identifies one index of one repository: what a cache of parsed repositories is keyed by.
public struct AptRepositoryKey: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The source URI, with a trailing `/`.
    public var uri: String
    /// The suite (`bookworm-security`), or a flat repository's path (`./`).
    public var suite: String
    /// Empty for a flat repository.
    public var component: String
    /// `amd64`, `i386`, `all`; empty for a flat repository (its index holds every architecture).
    public var architecture: String

    public init(uri: String, suite: String, component: String, architecture: String) {
        self.uri = uri.hasSuffix("/") ? uri : uri + "/"
        self.suite = suite
        self.component = component
        self.architecture = architecture
    }

    /// `URI SUITE/COMPONENT ARCH` — how the candidate's repository is reported.
    public var description: String {
        component.isEmpty ? "\(uri) \(suite)" : "\(uri) \(suite)/\(component) \(architecture)"
    }

    /// The host of the URI (without user and port): apt's "site", matched by `Pin: origin`; empty for `file:`.
    public var site: String {
        guard let schemeEnd = uri.range(of: "://") else { return "" }
        let rest = uri[schemeEnd.upperBound...]
        let hostPort = rest.prefix { $0 != "/" }.split(separator: "@").last.map(String.init) ?? ""
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            return String(hostPort[...close])
        }
        return String(hostPort.prefix { $0 != ":" })
    }
}

/// How a repository's Release file was trusted.
public enum AptTrust: Sendable, Hashable {
    /// Verified with gpgv; the signing key's fingerprints.
    case signed(fingerprints: [String])
    /// Not verified: the source says `trusted=yes` (reported, as apt warns about it).
    case trustedOption
}

/// One parsed `Packages` index with the Release file it was verified against. A value: a caller can
/// keep it keyed by ``key`` (and ``indexSHA256``) and hand it to every machine that uses the repository.
public struct AptRepositoryIndex: Sendable {
    public var key: AptRepositoryKey
    public var release: AptRelease
    public var trust: AptTrust
    /// The URL the index was read from.
    public var indexURL: String
    /// The SHA256 of the (compressed) index as the Release file lists it.
    public var indexSHA256: String
    public var packages: [AptPackageRecord]
    public var warnings: [AptPackagesWarning]
}

/// A repository (or one of its indexes) that could not be used, and why.
public struct AptRepositoryFailure: Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a diagnostic code (`repo.bad-signature`, `repo.unreachable`, …).
    public var code: DiagnosticCode
    public var uri: String
    public var suite: String
    /// Set when only one index failed (`main/binary-amd64`).
    public var index: String?
    public var reason: String
    /// The source entry that asked for it.
    public var file: String
    public var line: Int

    public var description: String {
        "\(uri) \(suite)\(index.map { " " + $0 } ?? ""): \(reason) (from \(file) line \(line))"
    }
}

/// What the loader made of a machine's sources.
public struct AptIndexes: Sendable {
    public var repositories: [AptRepositoryIndex] = []
    public var failures: [AptRepositoryFailure] = []
    /// Repositories used without a signature check because of `trusted=yes`, and other notes.
    public var notes: [String] = []
    public init() {}
}

/// A memo of parsed indexes shared between machines (the paper's repository cache, in memory).
public actor AptIndexCache {
    private var entries: [Key: AptRepositoryIndex] = [:]
    struct Key: Hashable { var key: AptRepositoryKey; var sha256: String }
    /// Parsed Release files by URL and SHA-256 of the signed text.
    private var releases: [ReleaseKey: AptRelease] = [:]
    struct ReleaseKey: Hashable { var url: String; var sha256: String }
    public init() {}
    func release(_ key: ReleaseKey) -> AptRelease? { releases[key] }
    /// What the indexes offer, computed once for all machines that load the same indexes.
    private var offers: [String: AptOffers] = [:]
    func offers(for indexes: AptIndexes, nativeArchitecture: String, architectures: [String]) -> AptOffers {
        let key = AptOffers.key(indexes, nativeArchitecture: nativeArchitecture, architectures: architectures)
        if let known = offers[key] { return known }
        let made = AptOffers(indexes: indexes, nativeArchitecture: nativeArchitecture, architectures: architectures)
        offers[key] = made
        return made
    }
    func put(_ release: AptRelease, for key: ReleaseKey) { releases[key] = release }
    /// Machines waiting for an index another machine is loading.
    private var loading: [Key: [CheckedContinuation<Void, Never>]] = [:]
    func get(_ key: AptRepositoryKey, sha256: String) -> AptRepositoryIndex? { entries[Key(key: key, sha256: sha256)] }
    func put(_ index: AptRepositoryIndex) { entries[Key(key: index.key, sha256: index.indexSHA256)] = index }

    /// The index when it is loaded; else, when another machine is loading it, waits for that; else nil, and
    /// the caller loads it and calls ``finish(_:sha256:)`` (loaded or not), so an index is parsed once however
    /// many machines ask for it at the same time.
    func claim(_ key: AptRepositoryKey, sha256: String) async -> AptRepositoryIndex? {
        let k = Key(key: key, sha256: sha256)
        while true {
            if let hit = entries[k] { return hit }
            guard loading[k] != nil else {
                loading[k] = []
                return nil
            }
            await withCheckedContinuation { loading[k, default: []].append($0) }
        }
    }

    /// Ends a load begun by ``claim(_:sha256:)``: the machines waiting for it look again.
    func finish(_ key: AptRepositoryKey, sha256: String) {
        for waiter in loading.removeValue(forKey: Key(key: key, sha256: sha256)) ?? [] { waiter.resume() }
    }
    public var count: Int { entries.count }
}

/// Fetches, verifies and parses the repositories a machine's apt sources name, as `apt update` does.
///
/// For each enabled `deb` entry: `InRelease` (else `Release` + `Release.gpg`) is verified with gpgv
/// against the keyrings the machine trusts for it — its `Signed-By` (paths read from the machine, an
/// inline key block, or fingerprints that restrict the default keyrings), else `/etc/apt/trusted.gpg(.d)`;
/// `trusted=yes` skips the check and is reported. Then each `COMPONENT/binary-ARCH/Packages` the Release
/// lists is fetched (`.xz`, else `.gz`, else uncompressed; by hash when `Acquire-By-Hash: yes`), checked
/// against the Release's SHA256 and size, and parsed. Failures are collected per repository.
public struct AptRepositoryLoader: Sendable {
    public var fetcher: any ResourceFetcher
    public var verifier: GPGVerifier
    /// Accept Release files past their `Valid-Until` (apt's `Acquire::Check-Valid-Until=false`).
    public var ignoreValidUntil: Bool
    /// Accept Release files whose `Date` is in the future (apt's `Acquire::Check-Date=false`).
    public var ignoreFutureDate: Bool
    /// The time Valid-Until and Date are compared with.
    public var now: Date
    public var cache: AptIndexCache?
    /// The largest decompressed index accepted.
    public var indexLimit: Int

    public init(fetcher: any ResourceFetcher, verifier: GPGVerifier = GPGVerifier(), ignoreValidUntil: Bool = false,
                ignoreFutureDate: Bool = false, now: Date = Date(), cache: AptIndexCache? = nil, indexLimit: Int = 1 << 30) {
        self.fetcher = fetcher
        self.verifier = verifier
        self.ignoreValidUntil = ignoreValidUntil
        self.ignoreFutureDate = ignoreFutureDate
        self.now = now
        self.cache = cache
        self.indexLimit = indexLimit
    }

    /// Loads every repository of `config`; keyrings named by `Signed-By` paths are read from `machine`.
    public func load(_ config: AptMachineConfig, keyringsFrom machine: MachineFiles) async -> AptIndexes {
        var out = AptIndexes()
        var done = Set<String>()
        for entry in config.sources.entries where entry.isUsedForUpdates {
            let id = "\(entry.uri) \(entry.suite) \(entry.components.joined(separator: ",")) \(entry.architectures)"
            guard done.insert(id).inserted else { continue }
            await load(entry, config: config, machine: machine, into: &out)
        }
        return out
    }

    /// The directory that holds `InRelease`: `URI/dists/SUITE/`, or `URI/PATH` for a flat repository.
    static func releaseBase(_ entry: AptSourceEntry) -> String {
        let uri = entry.uri.hasSuffix("/") ? entry.uri : entry.uri + "/"
        if entry.isFlat {
            let path = entry.suite == "./" ? "" : entry.suite
            return uri + (path.hasPrefix("/") ? String(path.dropFirst()) : path)
        }
        return uri + "dists/" + entry.suite + "/"
    }

    private func load(_ entry: AptSourceEntry, config: AptMachineConfig, machine: MachineFiles, into out: inout AptIndexes) async {
        func fail(_ error: AptRepositoryError, index: String? = nil) {
            out.failures.append(AptRepositoryFailure(code: error.diagnosticCode, uri: entry.uri, suite: entry.suite, index: index,
                                                     reason: error.description, file: entry.file, line: entry.line))
        }
        let base = Self.releaseBase(entry)
        let release: AptRelease
        let trust: AptTrust
        do {
            (release, trust) = try await fetchRelease(base: base, entry: entry, config: config, machine: machine)
        } catch {
            fail(error)
            return
        }
        if case .trustedOption = trust {
            out.notes.append("\(entry.uri) \(entry.suite): used without signature check (trusted=yes in \(entry.file) line \(entry.line))")
        }

        // Which indexes: flat → one; else components × architectures (+ binary-all when the archive has it).
        var targets: [(component: String, arch: String, path: String)] = []
        if entry.isFlat {
            targets = [("", "", "Packages")]
        } else {
            var archs = entry.architectures.isEmpty ? config.architectures : entry.architectures
            archs += entry.architecturesAdded.filter { !archs.contains($0) }
            archs.removeAll { entry.architecturesRemoved.contains($0) }
            if release.architectures.contains("all") && !release.noSupportForArchitectureAll && !archs.contains("all") {
                archs.append("all")
            }
            for component in entry.components {
                if !release.components.isEmpty {
                    let known = release.components.contains { $0 == component || $0.hasSuffix("/" + component) }
                    guard known else {
                        out.notes.append("\(entry.uri) \(entry.suite): skipped component '\(component)': the Release file does not list it")
                        continue
                    }
                }
                for arch in archs {
                    if !release.architectures.isEmpty && !release.architectures.contains(arch) {
                        out.notes.append("\(entry.uri) \(entry.suite): skipped architecture '\(arch)': the Release file does not list it")
                        continue
                    }
                    targets.append((component, arch, "\(component)/binary-\(arch)/Packages"))
                }
            }
        }
        for t in targets {
            let key = AptRepositoryKey(uri: entry.uri, suite: entry.suite, component: t.component, architecture: t.arch)
            do {
                if let index = try await loadIndex(key: key, base: base, path: t.path, release: release, trust: trust) {
                    out.repositories.append(index)
                }
            } catch {
                fail(error, index: t.path)
            }
        }
    }

    private func fetch(_ url: String) async throws(AptRepositoryError) -> [UInt8]? {
        do { return try await fetcher.fetch(url) } catch {
            if let refused = error as? FetchError, refused.refused {
                throw AptRepositoryError(.refusedURL, url: url, detail: refused.detail)
            }
            throw AptRepositoryError(.fetchFailed, url: url, detail: "\(error)")
        }
    }

    /// Fetches and checks the Release file; returns it parsed with how it was trusted.
    func fetchRelease(base: String, entry: AptSourceEntry, config: AptMachineConfig,
                      machine: MachineFiles) async throws(AptRepositoryError) -> (AptRelease, AptTrust) {
        let trustedOption = entry.trusted == true
        var signedBytes: [UInt8]
        var url = base + "InRelease"
        var verification: GPGVerification?
        if let inRelease = try await fetch(url) {
            guard ClearSigned.isClearSigned(inRelease) || trustedOption else {
                throw AptRepositoryError(.notSigned, url: url, detail: "InRelease is not a clearsigned file")
            }
            if ClearSigned.isClearSigned(inRelease) {
                guard let text = ClearSigned.signedText(inRelease) else {
                    throw AptRepositoryError(.malformedRelease, url: url,
                                             detail: "InRelease is not exactly one clearsigned message (text outside the signature)")
                }
                signedBytes = text
                if !trustedOption {
                    verification = await verifier.verify(inRelease, keyrings: try keyrings(for: entry, config: config, machine: machine, url: url))
                }
            } else {
                signedBytes = inRelease
            }
        } else {
            url = base + "Release"
            guard let plain = try await fetch(url) else {
                throw AptRepositoryError(.missingRelease, url: base, detail: "the repository has neither InRelease nor Release")
            }
            signedBytes = plain
            if !trustedOption {
                guard let sig = try await fetch(base + "Release.gpg") else {
                    throw AptRepositoryError(.notSigned, url: url, detail: "the repository is not signed (no InRelease and no Release.gpg)")
                }
                verification = await verifier.verify(plain, detachedSignature: sig,
                                                     keyrings: try keyrings(for: entry, config: config, machine: machine, url: url))
            }
        }
        var trust = AptTrust.trustedOption
        if let verification {
            switch verification {
            case .invalid(let why):
                throw AptRepositoryError(.badSignature, url: url, detail: "signature check failed: \(why)")
            case .valid(let fingerprints):
                let wanted = Self.signedByFingerprints(entry)
                if !wanted.isEmpty && !fingerprints.contains(where: { fp in wanted.contains { Self.fingerprintMatches(fp, $0) } }) {
                    throw AptRepositoryError(.badSignature, url: url,
                                             detail: "signed by \(fingerprints.first ?? "?"), which is not a key Signed-By allows (\(wanted.joined(separator: ", ")))")
                }
                trust = .signed(fingerprints: fingerprints)
            }
        }
        let release: AptRelease
        let releaseKey = AptIndexCache.ReleaseKey(url: url, sha256: SHA256Hasher.hex(of: signedBytes))
        if let known = await cache?.release(releaseKey) {
            release = known
        } else {
            release = try AptRelease.parse(signedBytes, source: url)
            await cache?.put(release, for: releaseKey)
        }
        if !ignoreValidUntil, let until = release.validUntil, until < now {
            throw AptRepositoryError(.expired, url: url, detail: "the Release file expired at \(until) (Valid-Until); it is out of date")
        }
        if !ignoreFutureDate, let date = release.date, date > now.addingTimeInterval(10) {
            throw AptRepositoryError(.notYetValid, url: url, detail: "the Release file is dated \(date), in the future")
        }
        return (release, trust)
    }

    /// The keyrings apt would use for `entry`.
    func keyrings(for entry: AptSourceEntry, config: AptMachineConfig, machine: MachineFiles,
                  url: String) throws(AptRepositoryError) -> [AptKeyring] {
        switch entry.signedBy {
        case .inlineKey(let block):
            return [AptKeyring(name: "Signed-By (inline key in \(entry.file))", bytes: Array(block.utf8))]
        case .paths(let list):
            let paths = list.filter { $0.hasPrefix("/") }
            if paths.isEmpty { break }  // fingerprints only: the default keyrings, checked afterwards
            var out: [AptKeyring] = []
            for path in paths {
                let bytes: [UInt8]?
                do { bytes = try machine.read(path, limit: 8 << 20) } catch {
                    throw AptRepositoryError(.badSignature, url: url, detail: "cannot read keyring \(path): \(error)")
                }
                guard let bytes else {
                    throw AptRepositoryError(.badSignature, url: url,
                                             detail: "keyring \(path) named by Signed-By (\(entry.file) line \(entry.line)) does not exist on the machine")
                }
                out.append(AptKeyring(name: path, bytes: bytes))
            }
            return out
        case .none:
            break
        }
        return config.trustedKeyrings.map { AptKeyring(name: $0.path, bytes: $0.bytes) }
    }

    static func signedByFingerprints(_ entry: AptSourceEntry) -> [String] {
        guard case .paths(let list) = entry.signedBy else { return [] }
        return list.filter { !$0.hasPrefix("/") }.map { $0.replacingOccurrences(of: " ", with: "").uppercased() }
    }

    static func fingerprintMatches(_ fingerprint: String, _ wanted: String) -> Bool {
        let w = wanted.hasSuffix("!") ? String(wanted.dropLast()) : wanted
        return fingerprint.uppercased() == w || (w.count >= 16 && fingerprint.uppercased().hasSuffix(w))
    }

    /// Fetches, checks and parses one index; nil when the Release file lists no such index.
    func loadIndex(key: AptRepositoryKey, base: String, path: String, release: AptRelease,
                   trust: AptTrust) async throws(AptRepositoryError) -> AptRepositoryIndex? {
        let candidates = ["\(path).xz", "\(path).gz", path].filter { release.sha256[$0] != nil }
        guard !candidates.isEmpty else {
            if release.sha256.isEmpty {
                throw AptRepositoryError(.missingIndexEntry, url: base, detail: "the Release file has no SHA256 list")
            }
            throw AptRepositoryError(.missingIndexEntry, url: base + path,
                                     detail: "the Release file has no SHA256 entry for \(path)(.xz|.gz)")
        }
        for name in candidates {
            guard let expected = release.sha256[name] else { continue }
            if let cache, let hit = await cache.claim(key, sha256: expected.sha256) {
                var reused = hit
                reused.release = release
                reused.trust = trust
                return reused
            }
            let loaded: AptRepositoryIndex?
            do {
                loaded = try await fetchIndex(key: key, base: base, name: name, expected: expected, release: release, trust: trust)
            } catch {
                await cache?.finish(key, sha256: expected.sha256)
                throw error
            }
            if let loaded { await cache?.put(loaded) }
            await cache?.finish(key, sha256: expected.sha256)
            if let loaded { return loaded }
        }
        throw AptRepositoryError(.notFound, url: base + path, detail: "none of \(candidates.joined(separator: ", ")) could be fetched")
    }

    /// Fetches one index file, checks it against the Release file and parses it; nil when it is not there.
    private func fetchIndex(key: AptRepositoryKey, base: String, name: String, expected: AptRelease.FileEntry,
                            release: AptRelease, trust: AptTrust) async throws(AptRepositoryError) -> AptRepositoryIndex? {
        var urls = [base + name]
        if release.acquireByHash {
            let dir = name.split(separator: "/").dropLast().joined(separator: "/")
            urls.insert(base + (dir.isEmpty ? "" : dir + "/") + "by-hash/SHA256/" + expected.sha256, at: 0)
        }
        var bytes: [UInt8]?
        var url = urls[0]
        for u in urls {
            url = u
            bytes = try await fetch(u)
            if bytes != nil { break }
        }
        guard let bytes else { return nil }
        guard bytes.count == expected.size else {
            throw AptRepositoryError(.sizeMismatch, url: url,
                                     detail: "size mismatch: the Release file says \(expected.size) bytes, got \(bytes.count)")
        }
        let got = SHA256Hasher.hex(of: bytes)
        guard got == expected.sha256 else {
            throw AptRepositoryError(.hashMismatch, url: url,
                                     detail: "Hash Sum mismatch: SHA256 \(got), the Release file says \(expected.sha256)")
        }
        var parser = PackagesIndexParser(source: url)
        do {
            var parseError: AptRepositoryError?
            try Decompressor.stream(bytes, compression: Compression.fromFileName(name), source: url, limit: indexLimit) { chunk in
                do throws(AptRepositoryError) { try parser.feed(chunk) } catch {
                    parseError = error
                    throw error
                }
            }
            if let parseError { throw parseError }
            try parser.finish()
        } catch let e as AptRepositoryError {
            throw e
        } catch {
            throw AptRepositoryError(.decompressionFailed, url: url, detail: "\(error)")
        }
        return AptRepositoryIndex(key: key, release: release, trust: trust, indexURL: url, indexSHA256: expected.sha256,
                                  packages: parser.records, warnings: parser.warnings)
    }
}
