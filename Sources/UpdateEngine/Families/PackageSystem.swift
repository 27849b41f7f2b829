/// What repository loading shares between machines during one run: the fetcher (with its repository
/// cache) and the memos of parsed indexes, so that a repository used by many machines is fetched,
/// verified and parsed once.
public struct RepositoryContext: Sendable {
    public var fetcher: any ResourceFetcher
    /// Accept apt Release files past their Valid-Until (`--ignore-valid-until`).
    public var ignoreValidUntil: Bool
    /// Largest index (Packages, primary, updateinfo) once decompressed.
    public var indexLimit: Int
    public let apt: AptIndexCache
    public let dnf: DnfIndexCache
    /// gpgv's verdicts: a repository's signature is checked once per run, not once per machine.
    public let signatures: GPGVerdictCache

    public init(fetcher: any ResourceFetcher, ignoreValidUntil: Bool = false, indexLimit: Int = 1 << 30, apt: AptIndexCache = AptIndexCache(),
                dnf: DnfIndexCache = DnfIndexCache(), signatures: GPGVerdictCache = GPGVerdictCache()) {
        self.fetcher = fetcher
        self.ignoreValidUntil = ignoreValidUntil
        self.indexLimit = indexLimit
        self.apt = apt
        self.dnf = dnf
        self.signatures = signatures
    }
}

/// What a package family decided for one machine.
public struct FamilyAnswer: Sendable {
    public var updates: [PendingUpdate]
    /// Repositories that could not be used.
    public var failures: [Diagnostic]
    /// Each repository key's fingerprint (nil: it failed to load), for the repository cache.
    public var fingerprints: [String: String?]

    public init(updates: [PendingUpdate], failures: [Diagnostic], fingerprints: [String: String?]) {
        self.updates = updates
        self.failures = failures
        self.fingerprints = fingerprints
    }
}

/// Things parsed while the files were collected, so they are not parsed again.
public struct ParseHints: Sendable {
    public var aptSources: AptSources?
    public init(aptSources: AptSources? = nil) { self.aptSources = aptSources }
}

/// One machine's package manager with its files parsed once: the installed packages, the configuration
/// and the repositories, and the package manager's own candidate choice.
///
/// A package family (apt/dpkg, dnf/rpm; later apk or zypper) is one conformance; nothing outside the
/// conformances switches on the package format.
public protocol PackageSystem: Sendable {
    static var format: PackageFormat { get }
    /// The package manager to name when the distribution does not say (`apt`, `dnf`).
    static var packageManager: String { get }
    /// Whether the machine's files belong to this family (its database, or its configuration).
    static func claims(_ files: SnapshotMachine) -> Bool
    /// Parses the machine's package database and configuration. Throws the diagnostic that leaves the
    /// package list unknown (a missing or unreadable database).
    init(parsing files: SnapshotMachine, hints: ParseHints) throws(Diagnostic)

    /// Installed packages, as the package manager counts them.
    var packages: [InstalledPackage] { get }
    /// Whether ``packages`` is not empty; a family whose list is made on demand answers without making it.
    var hasPackages: Bool { get }
    /// Where the packages were read from (`/var/lib/dpkg/status`, `/var/lib/rpm/Packages`…).
    var packageSource: String? { get }
    var repositories: [ConfiguredRepository] { get }
    /// The repositories the answer depends on, as result-cache keys.
    var repositoryKeys: [String] { get }
    /// What parsing had to say (bad lines, skipped entries), with file and line.
    var diagnostics: [Diagnostic] { get }

    /// Loads the machine's repositories (shared through `context`) and chooses candidates as the package
    /// manager would.
    func upgrades(_ context: RepositoryContext) async -> FamilyAnswer
    /// Every version of `package` the repositories offer and why the candidate was chosen.
    func explain(package: String, _ context: RepositoryContext) async -> String
}

extension PackageSystem {
    public var hasPackages: Bool { !packages.isEmpty }
}

/// The package families imgsec knows, in the order they are asked to claim a machine.
public enum PackageFamilies {
    public static let all: [any PackageSystem.Type] = [AptSystem.self, DnfSystem.self]

    public static func family(of files: SnapshotMachine) -> (any PackageSystem.Type)? {
        all.first { $0.claims(files) }
    }

    public static func family(_ format: PackageFormat) -> (any PackageSystem.Type)? {
        all.first { $0.format == format }
    }
}

/// A machine's files with its package system parsed once; what register and check work on.
public struct ParsedMachine: Sendable {
    public var files: SnapshotMachine
    /// Nil when no family claims the machine or its database could not be read (see ``error``).
    public var system: (any PackageSystem)?
    /// The family that claimed the machine, also when its database could not be read.
    public var packageFormat: PackageFormat?
    /// What was worth saying while reading (warnings and notes).
    public var diagnostics: [Diagnostic]
    /// Why the package list is unknown, when it is.
    public var error: Diagnostic?

    /// Parses `files` once. `format` forces a family (a stored machine's recorded one).
    public init(files: SnapshotMachine, hints: ParseHints = ParseHints(), format: PackageFormat? = nil) {
        self.files = files
        diagnostics = []
        guard let family = format.flatMap(PackageFamilies.family(_:)) ?? PackageFamilies.family(of: files) else {
            packageFormat = nil
            error = Diagnostic(.machineNoPackageDatabase, subject: DiagnosticSubject(machine: files.displayName),
                               "has no package database imgsec can read (no dpkg status, no rpm database).")
            return
        }
        packageFormat = family.format
        do throws(Diagnostic) {
            let system = try family.init(parsing: files, hints: hints)
            self.system = system
            diagnostics = system.diagnostics
            // No silent "up to date": a database that lists nothing is damaged or not the machine's (a real
            // system has hundreds of packages), so the machine's needs are unknown, not none.
            if !system.hasPackages {
                let source = system.packageSource ?? "its package database"
                error = Diagnostic(.machineNoPackages, subject: DiagnosticSubject(machine: files.displayName, file: system.packageSource),
                                   "\(source) lists no installed package: the database is damaged or empty, so imgsec cannot tell which updates the machine needs.")
            }
        } catch {
            self.error = error.about(machine: files.displayName)
        }
    }

    public init(_ collected: Collector.Result) {
        self.init(files: collected.files, hints: ParseHints(aptSources: collected.aptSources))
        diagnostics = collected.diagnostics + diagnostics
    }

    public var packages: [InstalledPackage] { system?.packages ?? [] }
    public var repositories: [ConfiguredRepository] { system?.repositories ?? [] }
}
