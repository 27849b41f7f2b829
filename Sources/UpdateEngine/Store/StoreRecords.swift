import Foundation

/// Where a registered machine was read from.
public enum MachineSourceKind: String, Sendable, Codable, Hashable {
    /// A disk image, opened read-only.
    case image
    /// A root directory on the host (a mounted or unpacked file system).
    case root
}

/// A cheap identity of a machine's source, to tell whether an image changed since it was imported
/// without opening it: its size, modification time and the SHA-256 of its first MiB.
public struct SourceFingerprint: Sendable, Hashable, Codable {
    public var size: Int64
    /// Modification time, seconds since 1970.
    public var modified: Double
    /// SHA-256 of the first ``headerLength`` bytes, as hex.
    public var headerSHA256: String

    /// How many leading bytes ``headerSHA256`` covers.
    public static let headerLength = 1 << 20

    public init(size: Int64, modified: Double, headerSHA256: String) {
        self.size = size
        self.modified = modified
        self.headerSHA256 = headerSHA256
    }

    /// The fingerprint of the file at `path` (for a directory: size 0, its mtime, and the hash of nothing);
    /// a symbolic link's is its target's. Reads at most ``headerLength`` bytes.
    public static func of(path: String) throws -> SourceFingerprint {
        // attributesOfItem describes a link itself: its size and mtime would not change with the image's.
        let attributes = try FileManager.default.attributesOfItem(atPath: URL(fileURLWithPath: path).resolvingSymlinksInPath().path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        var header: [UInt8] = []
        if (attributes[.type] as? FileAttributeType) == .typeRegular {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            header = [UInt8](try handle.read(upToCount: headerLength) ?? Data())
        }
        return SourceFingerprint(size: size, modified: modified, headerSHA256: SHA256Hasher.hex(of: header))
    }
}

/// What a sweep last saw of one image: its fingerprint then, and the diagnostics it gave (failures and
/// notes). The image's machines are the registered machines whose ``MachineRecord/sourcePath`` is ``path``.
/// A sweep that finds the same fingerprint again reuses both instead of opening the image.
public struct SweptSourceRecord: Sendable, Hashable {
    public var path: String
    public var fingerprint: SourceFingerprint
    public var diagnostics: [Diagnostic]
    public var sweptAt: Date

    public init(path: String, fingerprint: SourceFingerprint, diagnostics: [Diagnostic], sweptAt: Date = Date()) {
        self.path = path
        self.fingerprint = fingerprint
        self.diagnostics = diagnostics
        self.sweptAt = sweptAt
    }
}

/// One registered machine: where it came from and what is known about it. Its installed packages and
/// repository keys are stored beside it (``UpdateStore/packages(ofMachine:)``).
public struct MachineRecord: Sendable, Hashable, Codable {
    /// Assigned by the store; nil for a machine not stored yet.
    public var id: Int64?
    /// Unique name: the image path, the root path, or a name the user gave.
    public var name: String
    public var sourceKind: MachineSourceKind
    /// The image file or root directory it was read from.
    public var sourcePath: String
    /// The source's identity at import time, when known.
    public var sourceFingerprint: SourceFingerprint?
    public var facts: OSFacts
    /// Who to tell about its pending updates.
    public var owner: String?
    public var labels: [String: String]
    public var importedAt: Date
    public var packageFormat: PackageFormat?
    /// A digest of the machine's package manager configuration (sources, pins, vars…), made by the importer.
    public var configFingerprint: String
    /// The repositories the machine's configuration names, as read.
    public var repositories: [ConfiguredRepository]
    /// Set by the store on every upsert: a digest of everything imported (packages, repository keys,
    /// configuration, facts, source). Results computed for another value are stale.
    public var contentFingerprint: String

    public init(id: Int64? = nil, name: String, sourceKind: MachineSourceKind, sourcePath: String,
                sourceFingerprint: SourceFingerprint? = nil, facts: OSFacts = OSFacts(), owner: String? = nil,
                labels: [String: String] = [:], importedAt: Date = Date(), packageFormat: PackageFormat? = nil,
                configFingerprint: String = "", repositories: [ConfiguredRepository] = [], contentFingerprint: String = "") {
        self.id = id
        self.name = name
        self.sourceKind = sourceKind
        self.sourcePath = sourcePath
        self.sourceFingerprint = sourceFingerprint
        self.facts = facts
        self.owner = owner
        self.labels = labels
        self.importedAt = importedAt
        self.packageFormat = packageFormat
        self.configFingerprint = configFingerprint
        self.repositories = repositories
        self.contentFingerprint = contentFingerprint
    }
}

/// A machine as listed: its record, how many packages it has, and when it was last checked.
public struct MachineSummary: Sendable, Hashable {
    public var machine: MachineRecord
    public var packageCount: Int
    /// When its stored result was computed; nil when it was never checked.
    public var lastCheckedAt: Date?
}

/// One repository file in the repository cache (an index, a `Release`, `repomd.xml`…), keyed by the
/// URL it was fetched from. Many machines that share a repository share its files.
public struct RepositoryFileRecord: Sendable, Hashable {
    /// The URL fetched (after mirror rewriting).
    public var url: String
    /// The file's bytes; nil when the server said it does not exist (404/410): a cached negative answer.
    public var bytes: [UInt8]?
    /// SHA-256 of ``bytes``, as hex; nil with them.
    public var contentSHA256: String?
    /// The server's validators, sent back in conditional requests.
    public var etag: String?
    public var lastModified: String?
    /// When the bytes were last downloaded.
    public var fetchedAt: Date
    /// When the server last confirmed them (a download, or a 304 answer).
    public var validatedAt: Date
    /// Until when they may be used without asking the server again.
    public var expiresAt: Date

    public init(url: String, bytes: [UInt8]?, etag: String? = nil, lastModified: String? = nil,
                fetchedAt: Date, validatedAt: Date? = nil, expiresAt: Date) {
        self.url = url
        self.bytes = bytes
        self.contentSHA256 = bytes.map { SHA256Hasher.hex(of: $0) }
        self.etag = etag
        self.lastModified = lastModified
        self.fetchedAt = fetchedAt
        self.validatedAt = validatedAt ?? fetchedAt
        self.expiresAt = expiresAt
    }
}

/// One repository in the repository cache, as an engine sees it after fetching and verifying its files.
public struct RepositoryRecord: Sendable, Hashable {
    /// The engine's key: normalised URL + suite/component/arch (apt) or repository id + URL (dnf).
    /// Opaque to the store.
    public var key: String
    /// Whatever the engine keeps about it, as JSON (files and their hashes, `Valid-Until`, origin…).
    public var metadata: String
    public var fetchedAt: Date
    public var expiresAt: Date
    /// Changes whenever the repository's content changes (e.g. the hash of its index); results computed
    /// against another value are stale.
    public var fingerprint: String

    public init(key: String, metadata: String = "{}", fetchedAt: Date, expiresAt: Date, fingerprint: String) {
        self.key = key
        self.metadata = metadata
        self.fetchedAt = fetchedAt
        self.expiresAt = expiresAt
        self.fingerprint = fingerprint
    }
}

/// The result cache's entry for one machine: its pending updates as last computed.
public struct ResultRecord: Sendable, Hashable {
    public var machineId: Int64
    public var computedAt: Date
    public var expiresAt: Date
    /// ``InputsFingerprint`` of the machine and its repositories when this was computed.
    public var inputsFingerprint: String
    public var updates: [PendingUpdate]
    /// Why parts of the check could not be done (a repository that failed to fetch…).
    public var failures: [Diagnostic]

    public init(machineId: Int64, computedAt: Date, expiresAt: Date, inputsFingerprint: String,
                updates: [PendingUpdate], failures: [Diagnostic] = []) {
        self.machineId = machineId
        self.computedAt = computedAt
        self.expiresAt = expiresAt
        self.inputsFingerprint = inputsFingerprint
        self.updates = updates
        self.failures = failures
    }
}

/// Whether a stored result can be used as the answer.
public enum ResultState: String, Sendable, Hashable, Codable {
    /// Not expired, and computed from the machine and repositories as they are now.
    case fresh
    /// Past its expiry time.
    case expired
    /// The machine was re-imported with other content, or one of its repositories changed.
    case inputsChanged
    /// Never checked.
    case missing
}

/// Pending update counts of one machine, read from the result cache.
public struct MachineCounts: Sendable, Hashable {
    public var machineId: Int64
    public var name: String
    public var state: ResultState
    /// Counts per significance; absent significances have none. Empty when ``state`` is `.missing`.
    public var counts: [Significance: Int]
    /// All pending updates: zero means up to date (when ``state`` is `.fresh`).
    public var total: Int
    /// How many failures the check recorded.
    public var failureCount: Int
    public var computedAt: Date?
    public var expiresAt: Date?
}

/// The fingerprint of a check's inputs: the machine's content and each of its repositories' content.
/// A stored result whose fingerprint differs from the current one is stale.
public enum InputsFingerprint {
    /// Combines the machine's ``MachineRecord/contentFingerprint`` with the fingerprint of each repository
    /// key (nil: not in the repository cache). Order and duplicates of `repositories` do not matter.
    /// The parts are digests already, so the combination is their canonical text, compared as it is: deciding
    /// whether a cached answer is fresh needs no digest (and no libcrypto) at all.
    public static func compute(machine: String, repositories: [String: String?]) -> String {
        var text = "machine \(machine)\n"
        for key in repositories.keys.sorted() {
            text += "repo \(key.count):\(key) \((repositories[key] ?? nil) ?? "-")\n"
        }
        return text
    }
}
