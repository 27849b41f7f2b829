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
    /// Largest repository index once decompressed (`--max-download-size`).
    public var indexLimit = 1 << 30
    public init() {}
}

/// What a caller needs of each answer.
public enum CheckDetail: Sendable {
    /// Counts per significance, the total and the failures. A fresh cached answer is then read from the stored
    /// counts and its update list is not decoded (``MachineCheck/updates`` stays empty): the cheapest answer,
    /// what `imgsec check` prints without `--details`.
    case counts
    /// Every pending update.
    case updates
}

/// The answer for one machine: its pending updates and what could not be checked.
public struct MachineCheck: Sendable {
    public var machine: MachineRecord
    /// Every pending update; empty when the answer was read from the cache with ``CheckDetail/counts``
    /// (``total`` and ``counts`` always hold the answer).
    public var updates: [PendingUpdate]
    /// Pending updates per significance.
    public var counts: [Significance: Int]
    /// All pending updates: zero means up to date.
    public var total: Int
    /// Repositories (or the machine itself) that failed, each with its code.
    public var failures: [Diagnostic]
    /// True when the answer came from the result cache.
    public var fromCache: Bool
    public var computedAt: Date

    public init(machine: MachineRecord, updates: [PendingUpdate], failures: [Diagnostic], fromCache: Bool, computedAt: Date) {
        var counts: [Significance: Int] = [:]
        for u in updates { counts[u.significance, default: 0] += 1 }
        self.init(machine: machine, counts: counts, total: updates.count, failures: failures, fromCache: fromCache, computedAt: computedAt)
        self.updates = updates
    }

    /// An answer known only by its counts.
    public init(machine: MachineRecord, counts: [Significance: Int], total: Int, failures: [Diagnostic], fromCache: Bool, computedAt: Date) {
        self.machine = machine
        self.updates = []
        self.counts = counts
        self.total = total
        self.failures = failures
        self.fromCache = fromCache
        self.computedAt = computedAt
    }

    /// True when a failure is an error (a warning, such as a skippable dnf repository, still lets the answer stand).
    public var failed: Bool { failures.contains { $0.severity == .error } }
}

/// The paper's Update Checker: registers machines into the store, and answers "which updates does each
/// machine need" from the result cache, or by loading its repositories (each once per validity period,
/// shared by every machine that uses it) and choosing candidates exactly as the machine's package manager
/// would (``PackageSystem``). It holds no mutable state: machines are checked concurrently.
public final class Checker: Sendable {
    let store: any UpdateStore
    let options: CheckerOptions
    let logger: Logger
    let repositories: RepositoryContext

    public init(store: any UpdateStore, fetcher: any ResourceFetcher, options: CheckerOptions = CheckerOptions(), logger: Logger) {
        self.store = store
        self.options = options
        self.logger = logger
        self.repositories = RepositoryContext(fetcher: fetcher, ignoreValidUntil: options.ignoreValidUntil, indexLimit: options.indexLimit)
    }

    // MARK: Register

    /// Stores a machine parsed once: its facts, installed packages, repositories and collected files.
    /// Throws the diagnostic that left its package list unknown.
    public func register(_ parsed: ParsedMachine, name: String, sourceKind: MachineSourceKind, sourcePath: String,
                         fingerprint: SourceFingerprint?, facts: OSFacts, owner: String?, labels: [String: String]) async throws(Diagnostic) -> MachineRecord {
        if let error = parsed.error { throw error.about(machine: name) }
        let files = parsed.files.files
        let configFingerprint = SHA256Hasher.hex(of: Array(files.keys.sorted().map { "\($0) \(SHA256Hasher.hex(of: files[$0] ?? []))" }.joined(separator: "\n").utf8))
        let record = MachineRecord(name: name, sourceKind: sourceKind, sourcePath: sourcePath, sourceFingerprint: fingerprint,
                                   facts: facts, owner: owner, labels: labels, importedAt: Date(),
                                   packageFormat: parsed.packageFormat, configFingerprint: configFingerprint,
                                   repositories: parsed.repositories)
        do {
            return try await store.upsertMachine(record, packages: parsed.packages, repositoryKeys: parsed.system?.repositoryKeys ?? [], files: files)
        } catch {
            throw Diagnostic.from(error).about(machine: name)
        }
    }

    // MARK: Check

    /// Answers for each machine: from the result cache when the answer is fresh (unexpired, and neither the
    /// machine nor any of its repositories changed since), else computed and stored. `force` skips the cache.
    /// `parsed` holds machines already parsed in this run, by name (so `scan` parses each file once).
    /// With `detail: .counts`, fresh cached answers without failures come from the stored counts in one store
    /// call, their update lists undecoded.
    /// Machines are checked concurrently, 8 per core (a machine waits on the
    /// store and on repository loads between its parsing and its decision); the answers keep the input order.
    public func check(_ machines: [MachineRecord], force: Bool = false, detail: CheckDetail = .updates,
                      parsed: [String: ParsedMachine] = [:]) async -> [MachineCheck] {
        var out = [MachineCheck?](repeating: nil, count: machines.count)
        if !force, detail == .counts {
            let now = Date()
            let ids = machines.compactMap(\.id)
            if let stored = try? await store.counts(for: ids, at: now) {
                let byId = Dictionary(stored.map { ($0.machineId, $0) }, uniquingKeysWith: { a, _ in a })
                for (i, machine) in machines.enumerated() {
                    guard let id = machine.id, let c = byId[id], c.state == .fresh, c.failureCount == 0, let at = c.computedAt else { continue }
                    out[i] = MachineCheck(machine: machine, counts: c.counts, total: c.total, failures: [], fromCache: true, computedAt: at)
                }
            }
        }
        // Clones of one template (the same collected files, format, OS and architecture) get one computation:
        // the first is checked, the others are given its answer.
        var todo: [Int] = []
        var clones: [Int: [Int]] = [:]
        var firstOfKind: [String: Int] = [:]
        for i in out.indices where out[i] == nil {
            guard let key = Self.cloneKey(machines[i]) else { todo.append(i); continue }
            if let first = firstOfKind[key] { clones[first, default: []].append(i) } else { firstOfKind[key] = i; todo.append(i) }
        }
        await checkEach(todo, of: machines, force: force, parsed: parsed, into: &out)
        var unshared: [Int] = []
        for (first, others) in clones.sorted(by: { $0.key < $1.key }) {
            guard let answer = out[first], !answer.fromCache else { unshared += others; continue }
            for i in others {
                if let shared = await share(answer, with: machines[i]) { out[i] = shared } else { unshared.append(i) }
            }
        }
        await checkEach(unshared, of: machines, force: force, parsed: parsed, into: &out)
        return out.compactMap { $0 }
    }

    /// Checks `indices` of `machines` concurrently, 8 per core.
    private func checkEach(_ indices: [Int], of machines: [MachineRecord], force: Bool, parsed: [String: ParsedMachine],
                           into out: inout [MachineCheck?]) async {
        guard !indices.isEmpty else { return }
        let width = max(2, 8 * ProcessInfo.processInfo.activeProcessorCount)
        await withTaskGroup(of: (Int, MachineCheck).self) { group in
            var next = 0
            func start() {
                guard next < indices.count else { return }
                let (i, machine) = (indices[next], machines[indices[next]])
                next += 1
                group.addTask { (i, await self.check(machine, force: force, parsed: parsed[machine.name])) }
            }
            for _ in 0..<width { start() }
            while let (i, answer) = await group.next() {
                out[i] = answer
                start()
            }
        }
    }

    /// What makes two registered machines give the same answer: their collected files (package databases and
    /// configuration), package format, OS and architecture. Nil for a machine that cannot share.
    static func cloneKey(_ machine: MachineRecord) -> String? {
        guard machine.id != nil, !machine.configFingerprint.isEmpty, let format = machine.packageFormat else { return nil }
        let f = machine.facts
        return [machine.configFingerprint, format.rawValue, f.distro ?? "", f.version ?? "", f.arch ?? ""].joined(separator: "\u{1f}")
    }

    /// `answer`, computed for a clone of `machine`, stored as `machine`'s own result (its own inputs
    /// fingerprint, its name in the diagnostics). Nil when it cannot be stored.
    private func share(_ answer: MachineCheck, with machine: MachineRecord) async -> MachineCheck? {
        guard let id = machine.id, let inputs = try? await store.currentInputsFingerprint(forMachine: id) else { return nil }
        let failures = answer.failures.map { d -> Diagnostic in
            var d = d
            if d.subject.machine == answer.machine.name { d.subject.machine = machine.name }
            if d.subject.image == answer.machine.sourcePath { d.subject.image = machine.sourcePath }
            return d
        }
        let record = ResultRecord(machineId: id, computedAt: answer.computedAt, expiresAt: answer.computedAt.addingTimeInterval(options.resultMaxAge),
                                  inputsFingerprint: inputs, updates: answer.updates, failures: failures)
        guard (try? await store.putResult(record)) != nil else { return nil }
        logger.debug("answer shared with a clone", metadata: ["machine": "\(machine.name)", "clone.of": "\(answer.machine.name)"])
        return MachineCheck(machine: machine, updates: answer.updates, failures: failures, fromCache: false, computedAt: answer.computedAt)
    }

    func check(_ machine: MachineRecord, force: Bool, parsed: ParsedMachine?) async -> MachineCheck {
        let now = Date()
        guard let id = machine.id else {
            return MachineCheck(machine: machine, updates: [], failures: [Self.notRegistered(machine.name)], fromCache: false, computedAt: now)
        }
        if !force, let cached = try? await store.result(forMachine: id),
           (try? await store.state(of: cached, at: now)) == .fresh {
            return MachineCheck(machine: machine, updates: cached.updates, failures: cached.failures, fromCache: true, computedAt: cached.computedAt)
        }
        do {
            let system = try await packageSystem(of: machine, id: id, parsed: parsed)
            let answer = await system.upgrades(repositories)
            for (key, fingerprint) in answer.fingerprints {
                try await store.putRepository(RepositoryRecord(key: key, fetchedAt: now, expiresAt: now.addingTimeInterval(options.repoMaxAge),
                                                               fingerprint: fingerprint ?? "failed"))
            }
            let inputs = try await store.currentInputsFingerprint(forMachine: id) ?? ""
            var failures = answer.failures.map { $0.about(machine: machine.name) }
            // Nothing to compare against is no answer: never report such a machine as up to date.
            if system.repositoryKeys.isEmpty {
                failures.append(Diagnostic(.machineNoRepositories, subject: DiagnosticSubject(machine: machine.name),
                                           "has no enabled repository (\(type(of: system).packageManager) sources are missing or all disabled): imgsec cannot tell which updates it needs."))
            }
            let record = ResultRecord(machineId: id, computedAt: now, expiresAt: now.addingTimeInterval(options.resultMaxAge),
                                      inputsFingerprint: inputs, updates: answer.updates, failures: failures)
            try await store.putResult(record)
            return MachineCheck(machine: machine, updates: answer.updates, failures: failures, fromCache: false, computedAt: now)
        } catch {
            return MachineCheck(machine: machine, updates: [], failures: [Diagnostic.from(error).about(machine: machine.name)],
                                fromCache: false, computedAt: now)
        }
    }

    /// The machine's package system: the one parsed in this run, else parsed from its stored files.
    func packageSystem(of machine: MachineRecord, id: Int64, parsed: ParsedMachine?) async throws -> any PackageSystem {
        let machineFiles: ParsedMachine
        if let parsed {
            machineFiles = parsed
        } else {
            let files = SnapshotMachine(displayName: machine.name, files: try await store.files(ofMachine: id))
            machineFiles = ParsedMachine(files: files, format: machine.packageFormat)
        }
        if let error = machineFiles.error { throw error }
        guard let system = machineFiles.system else {
            throw Diagnostic(.machineNoPackageDatabase, subject: DiagnosticSubject(machine: machine.name), "has no package database imgsec can read.")
        }
        return system
    }

    static func notRegistered(_ name: String) -> Diagnostic {
        Diagnostic(.machineNotRegistered, subject: DiagnosticSubject(machine: name), "is not registered (see `imgsec machines`).")
    }

    // MARK: Why

    /// Every version of `package` the machine's repositories offer, with its priority/pin/module/exclude
    /// status, and why the candidate was chosen.
    public func explain(_ machine: MachineRecord, package: String) async throws -> String {
        guard let id = machine.id else { throw Self.notRegistered(machine.name) }
        return try await packageSystem(of: machine, id: id, parsed: nil).explain(package: package, repositories)
    }
}
