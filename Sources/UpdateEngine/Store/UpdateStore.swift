import Foundation

/// The Update Checker's central store: the machine registry with each machine's installed packages and
/// repositories, the repository cache, and the result cache.
///
/// Asynchronous so that implementations may talk to a server (PostgreSQL for scale-out); the default is
/// the embedded ``SQLiteUpdateStore``. Every method that writes does so in one transaction: it is done
/// completely or not at all, also when the process is killed.
public protocol UpdateStore: Sendable {
    // MARK: Machine registry

    /// Stores `machine` under its name — replacing a machine of that name and its packages and
    /// repository keys, keeping its id — and returns it with ``MachineRecord/id`` and
    /// ``MachineRecord/contentFingerprint`` set.
    /// `files` are the machine's collected package-management files (configuration and package databases),
    /// kept so that a later check needs neither the image nor an appliance.
    func upsertMachine(_ machine: MachineRecord, packages: [InstalledPackage], repositoryKeys: [String],
                       files: [String: [UInt8]]) async throws -> MachineRecord
    /// The collected files of a machine, by path inside the machine.
    func files(ofMachine id: Int64) async throws -> [String: [UInt8]]
    /// All machines, by name, with package counts and last check times.
    func machines() async throws -> [MachineSummary]
    func machine(named name: String) async throws -> MachineRecord?
    func machine(id: Int64) async throws -> MachineRecord?
    /// The installed packages of a machine, in the order they were imported.
    func packages(ofMachine id: Int64) async throws -> [InstalledPackage]
    /// The repository keys of a machine, in the order they were imported.
    func repositoryKeys(ofMachine id: Int64) async throws -> [String]
    /// Deletes a machine with its packages and result; false when there was none of that name.
    @discardableResult
    func deleteMachine(named name: String) async throws -> Bool

    // MARK: Sweeps

    /// What sweeps last recorded of each image, by path.
    func sweptSources() async throws -> [SweptSourceRecord]
    /// Records what a sweep found of an image (replacing what was recorded of its path).
    func putSweptSource(_ record: SweptSourceRecord) async throws

    // MARK: Repository cache

    /// The cached repository file fetched from `url`, bytes included.
    func repositoryFile(url: String) async throws -> RepositoryFileRecord?
    /// Stores a downloaded (or missing) repository file, replacing what was cached for its URL.
    func putRepositoryFile(_ record: RepositoryFileRecord) async throws
    /// Records that the server confirmed the cached file unchanged (HTTP 304).
    func markRepositoryFileValidated(url: String, at date: Date, expiresAt: Date) async throws
    func repository(key: String) async throws -> RepositoryRecord?
    func putRepository(_ record: RepositoryRecord) async throws

    // MARK: Result cache

    func result(forMachine id: Int64) async throws -> ResultRecord?
    /// Stores results, replacing the machines' previous ones, in one transaction.
    func putResults(_ records: [ResultRecord]) async throws
    /// The ``InputsFingerprint`` of a machine as it and its repositories are stored now; nil when the
    /// machine is unknown.
    func currentInputsFingerprint(forMachine id: Int64) async throws -> String?
    /// Pending update counts from the result cache, with each result's state at time `now`, for the given
    /// machines (all when nil), by name.
    func counts(for machineIds: [Int64]?, at now: Date) async throws -> [MachineCounts]
}

extension UpdateStore {
    /// Stores a machine without collected files.
    public func upsertMachine(_ machine: MachineRecord, packages: [InstalledPackage], repositoryKeys: [String]) async throws -> MachineRecord {
        try await upsertMachine(machine, packages: packages, repositoryKeys: repositoryKeys, files: [:])
    }

    /// Stores one result.
    public func putResult(_ record: ResultRecord) async throws {
        try await putResults([record])
    }

    /// Whether `result` can be used as the answer at time `now`.
    public func state(of result: ResultRecord?, at now: Date) async throws -> ResultState {
        guard let result else { return .missing }
        if now >= result.expiresAt { return .expired }
        let current = try await currentInputsFingerprint(forMachine: result.machineId)
        return current == result.inputsFingerprint ? .fresh : .inputsChanged
    }
}

/// Why the store could not do what was asked (beyond SQLite's own errors, which are ``SQLiteError``).
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The store's location.
    public var store: String
    public var detail: String
    public init(store: String, detail: String) { self.store = store; self.detail = detail }
    public var description: String { "Store \(store): \(detail)" }
}
