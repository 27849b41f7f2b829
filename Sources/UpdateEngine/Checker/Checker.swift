import Foundation
import Logging

/// How the Update Checker uses its caches.
public struct CheckerOptions: Sendable {
    /// How long a fetched repository file is used before it is revalidated (`--repo-max-age`).
    public var repoMaxAge: TimeInterval = 4 * 3600
    /// How long a machine's computed answer is reused (the paper's result cache validity).
    public var resultMaxAge: TimeInterval = 4 * 3600
    /// Accept apt Release files past their Valid-Until (`--ignore-valid-until`).
    public var ignoreValidUntil = false
    public init() {}
}

/// The answer for one machine: its pending updates and what could not be checked.
public struct MachineCheck: Sendable {
    public var machine: MachineRecord
    public var updates: [PendingUpdate]
    /// Repositories (or the machine itself) that failed, one sentence each.
    public var failures: [String]
    /// True when the answer came from the result cache.
    public var fromCache: Bool
    public var computedAt: Date

    /// Pending updates per significance.
    public var counts: [Significance: Int] {
        var out: [Significance: Int] = [:]
        for u in updates { out[u.significance, default: 0] += 1 }
        return out
    }
}

/// Why a machine could not be registered or checked.
public struct CheckerError: Error, CustomStringConvertible, Sendable {
    public var machine: String
    public var detail: String
    public init(machine: String, detail: String) { self.machine = machine; self.detail = detail }
    public var description: String { "\(machine): \(detail)" }
}

/// The paper's Update Checker: registers machines into the store, and answers "which updates does each
/// machine need" from the result cache, or by loading its repositories (each once per validity period,
/// shared by every machine that uses it) and choosing candidates exactly as apt or dnf would.
public actor Checker {
    let store: any UpdateStore
    let fetcher: any ResourceFetcher
    let options: CheckerOptions
    let logger: Logger
    let aptCache = AptIndexCache()
    private var dnfLoads: [String: Task<Result<DnfRepositoryIndex, RepodataError>, Never>] = [:]

    public init(store: any UpdateStore, fetcher: any ResourceFetcher, options: CheckerOptions = CheckerOptions(), logger: Logger) {
        self.store = store
        self.fetcher = fetcher
        self.options = options
        self.logger = logger
    }

    // MARK: Register

    /// Stores a machine: its facts, installed packages, repositories and collected files.
    public func register(name: String, sourceKind: MachineSourceKind, sourcePath: String, fingerprint: SourceFingerprint?,
                         facts: OSFacts, collected: Collector.Result, owner: String?, labels: [String: String]) async throws -> MachineRecord {
        let inventory = MachineInventory(collected)
        if let error = inventory.errors.first { throw CheckerError(machine: name, detail: error) }
        let files = collected.files.files
        let configFingerprint = SHA256Hasher.hex(of: Array(files.keys.sorted().map { "\($0) \(SHA256Hasher.hex(of: files[$0] ?? []))" }.joined(separator: "\n").utf8))
        let record = MachineRecord(name: name, sourceKind: sourceKind, sourcePath: sourcePath, sourceFingerprint: fingerprint,
                                   facts: facts, owner: owner, labels: labels, importedAt: Date(),
                                   packageFormat: inventory.packageFormat, configFingerprint: configFingerprint,
                                   repositories: inventory.repositories)
        let keys = Self.repositoryKeys(collected.files, format: inventory.packageFormat)
        return try await store.upsertMachine(record, packages: inventory.packages, repositoryKeys: keys, files: files)
    }

    /// The repositories a machine's answer depends on, as result-cache keys: apt `uri suite`, dnf repo id + URLs.
    static func repositoryKeys(_ files: SnapshotMachine, format: PackageFormat?) -> [String] {
        switch format {
        case .deb:
            guard let config = try? AptMachineConfig.read(from: files) else { return [] }
            var keys: [String] = []
            for e in config.sources.entries where e.isUsedForUpdates {
                let key = "apt \(RepositoryURL.normalised(e.uri)) \(e.suite)"
                if !keys.contains(key) { keys.append(key) }
            }
            return keys
        case .rpm:
            let rpmdb = try? RPMDatabase.read(from: files)
            guard let config = try? DnfMachineConfig.read(from: files, rpmdb: rpmdb) else { return [] }
            return config.enabledRepositories.map(dnfKey)
        case nil:
            return []
        }
    }

    static func dnfKey(_ repo: YumRepository) -> String {
        "dnf \(repo.id) " + (repo.baseURLs + [repo.metalink, repo.mirrorlist].compactMap { $0 }).map(RepositoryURL.normalised).joined(separator: " ")
    }

    // MARK: Check

    /// Answers for each machine: from the result cache when the answer is fresh (unexpired, and neither the
    /// machine nor any of its repositories changed since), else computed and stored. `force` skips the cache.
    public func check(_ machines: [MachineRecord], force: Bool = false) async -> [MachineCheck] {
        var out: [MachineCheck] = []
        for machine in machines {
            out.append(await check(machine, force: force))
        }
        return out
    }

    func check(_ machine: MachineRecord, force: Bool) async -> MachineCheck {
        let now = Date()
        guard let id = machine.id else {
            return MachineCheck(machine: machine, updates: [], failures: ["\(machine.name): not registered"], fromCache: false, computedAt: now)
        }
        if !force, let cached = try? await store.result(forMachine: id),
           (try? await store.state(of: cached, at: now)) == .fresh {
            return MachineCheck(machine: machine, updates: cached.updates, failures: cached.failures, fromCache: true, computedAt: cached.computedAt)
        }
        do {
            let files = SnapshotMachine(displayName: machine.name, files: try await store.files(ofMachine: id))
            let (updates, failures, fingerprints) = try await compute(machine, files: files)
            for (key, fingerprint) in fingerprints {
                try await store.putRepository(RepositoryRecord(key: key, fetchedAt: now, expiresAt: now.addingTimeInterval(options.repoMaxAge),
                                                               fingerprint: fingerprint ?? "failed"))
            }
            let inputs = try await store.currentInputsFingerprint(forMachine: id) ?? ""
            let record = ResultRecord(machineId: id, computedAt: now, expiresAt: now.addingTimeInterval(options.resultMaxAge),
                                      inputsFingerprint: inputs, updates: updates, failures: failures)
            try await store.putResult(record)
            return MachineCheck(machine: machine, updates: updates, failures: failures, fromCache: false, computedAt: now)
        } catch {
            return MachineCheck(machine: machine, updates: [], failures: ["\(error)"], fromCache: false, computedAt: now)
        }
    }

    /// Loads the machine's repositories and runs the package manager's own candidate choice.
    /// Returns the updates, the failures and each repository key's fingerprint (nil: failed).
    func compute(_ machine: MachineRecord, files: SnapshotMachine) async throws -> ([PendingUpdate], [String], [String: String?]) {
        switch machine.packageFormat {
        case .deb:
            let config = try AptMachineConfig.read(from: files)
            guard let status = try DpkgStatus.read(from: files) else {
                throw CheckerError(machine: machine.name, detail: "has no dpkg status any more")
            }
            let loader = AptRepositoryLoader(fetcher: fetcher, ignoreValidUntil: options.ignoreValidUntil, cache: aptCache)
            let indexes = await loader.load(config, keyringsFrom: files)
            let updates = AptPolicy(config: config, indexes: indexes).upgrades(for: status)
            var fingerprints: [String: String?] = [:]
            for index in indexes.repositories {
                let key = "apt \(RepositoryURL.normalised(index.key.uri)) \(index.key.suite)"
                let previous = (fingerprints[key] ?? nil) ?? ""
                fingerprints[key] = SHA256Hasher.hex(of: Array((previous + index.indexSHA256).utf8))
            }
            for failure in indexes.failures { fingerprints["apt \(RepositoryURL.normalised(failure.uri)) \(failure.suite)"] = .some(nil) }
            return (updates, indexes.failures.map(\.description), fingerprints)
        case .rpm:
            let rpmdb = try RPMDatabase.read(from: files)
            let config = try DnfMachineConfig.read(from: files, rpmdb: rpmdb)
            var loads: [DnfRepositoryLoad] = []
            var fingerprints: [String: String?] = [:]
            for repo in config.enabledRepositories {
                let skip = repo.skipIfUnavailable ?? config.main.skipIfUnavailable
                let key = Self.dnfKey(repo)
                switch await dnfIndex(repo, key: key, variables: config.variables) {
                case .success(let index):
                    loads.append(DnfRepositoryLoad(repository: repo, index: index, error: nil, skipIfUnavailable: skip))
                    fingerprints[key] = SHA256Hasher.hex(of: Array("\(index.baseURL) \(index.repomd.entries.map { "\($0.type) \($0.checksum.map { "\($0)" } ?? "")" })".utf8))
                case .failure(let error):
                    loads.append(DnfRepositoryLoad(repository: repo, index: nil, error: error, skipIfUnavailable: skip))
                    fingerprints[key] = .some(nil)
                }
            }
            let indexes = DnfIndexes(repositories: loads)
            let updates = DnfPolicy(config: config, indexes: indexes).upgrades(for: rpmdb?.headers ?? [])
            return (updates, indexes.failures.map { "[\($0.repository.id)] \($0.error.map { "\($0)" } ?? "failed")" }, fingerprints)
        case nil:
            throw CheckerError(machine: machine.name, detail: "has no package database imgsec can read")
        }
    }

    /// One dnf repository, loaded once for every machine that uses it.
    private func dnfIndex(_ repo: YumRepository, key: String, variables: [String: String]) async -> Result<DnfRepositoryIndex, RepodataError> {
        if let task = dnfLoads[key] { return await task.value }
        let loader = DnfRepositoryLoader(fetcher: fetcher)
        let task = Task<Result<DnfRepositoryIndex, RepodataError>, Never> {
            do throws(RepodataError) {
                return .success(try await loader.load(repo, variables: variables))
            } catch {
                return .failure(error)
            }
        }
        dnfLoads[key] = task
        return await task.value
    }

    // MARK: Why

    /// Every version of `package` the machine's repositories offer, with its priority/pin/module/exclude
    /// status, and why the candidate was chosen.
    public func explain(_ machine: MachineRecord, package: String) async throws -> String {
        guard let id = machine.id else { throw CheckerError(machine: machine.name, detail: "not registered") }
        let files = SnapshotMachine(displayName: machine.name, files: try await store.files(ofMachine: id))
        switch machine.packageFormat {
        case .deb:
            let config = try AptMachineConfig.read(from: files)
            let status = try DpkgStatus.read(from: files) ?? DpkgStatus()
            let loader = AptRepositoryLoader(fetcher: fetcher, ignoreValidUntil: options.ignoreValidUntil, cache: aptCache)
            let indexes = await loader.load(config, keyringsFrom: files)
            let explanation = AptPolicy(config: config, indexes: indexes).explain(package: package, arch: nil, status: status)
            return "\(explanation)" + indexes.failures.map { "\nnote: \($0)" }.joined()
        case .rpm:
            let rpmdb = try RPMDatabase.read(from: files)
            let config = try DnfMachineConfig.read(from: files, rpmdb: rpmdb)
            var loads: [DnfRepositoryLoad] = []
            for repo in config.enabledRepositories {
                let skip = repo.skipIfUnavailable ?? config.main.skipIfUnavailable
                switch await dnfIndex(repo, key: Self.dnfKey(repo), variables: config.variables) {
                case .success(let index): loads.append(DnfRepositoryLoad(repository: repo, index: index, error: nil, skipIfUnavailable: skip))
                case .failure(let error): loads.append(DnfRepositoryLoad(repository: repo, index: nil, error: error, skipIfUnavailable: skip))
                }
            }
            let policy = DnfPolicy(config: config, indexes: DnfIndexes(repositories: loads))
            return "\(policy.explain(name: package, arch: nil, installed: rpmdb?.headers ?? []))"
        case nil:
            throw CheckerError(machine: machine.name, detail: "has no package database imgsec can read")
        }
    }
}
