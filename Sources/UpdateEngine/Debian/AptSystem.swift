/// The apt/dpkg family: dpkg's status database, apt's configuration, and apt's candidate choice.
public struct AptSystem: PackageSystem {
    public static let packageManager = "apt"
    public static let format = PackageFormat.deb

    public let files: SnapshotMachine
    public let status: DpkgStatus
    public let config: AptMachineConfig
    /// Made when asked for (registering a machine), not while checking it.
    public var packages: [InstalledPackage] { status.installedPackages }
    public var hasPackages: Bool { status.hasInstalledPackage }
    public let packageSource: String?
    public let diagnostics: [Diagnostic]

    /// A machine with dpkg's status (or distroless `status.d`), or at least apt's configuration.
    public static func claims(_ files: SnapshotMachine) -> Bool {
        files.files.keys.contains { path in
            path == "/var/lib/dpkg/status" || path.hasPrefix("/var/lib/dpkg/status.d/") || path == "/etc/debian_version"
                || path == "/etc/apt/sources.list" || path.hasPrefix("/etc/apt/sources.list.d/")
        }
    }

    public init(parsing files: SnapshotMachine, hints: ParseHints) throws(Diagnostic) {
        self.files = files
        do {
            guard let status = try DpkgStatus.read(from: files) else {
                throw Diagnostic(.dpkgStatusMissing, subject: DiagnosticSubject(machine: files.displayName, file: "/var/lib/dpkg/status"),
                                 "is missing: the machine has apt's configuration but no dpkg database, so its packages are unknown.")
            }
            self.status = status
            config = try AptMachineConfig.read(from: files, sources: hints.aptSources)
        } catch {
            throw Diagnostic.from(error, subject: DiagnosticSubject(machine: files.displayName))
        }
        packageSource = files.files["/var/lib/dpkg/status"] != nil ? "/var/lib/dpkg/status" : "/var/lib/dpkg/status.d"
        diagnostics = status.warnings.map(\.diagnostic) + config.diagnostics.map(\.diagnostic)
    }

    /// apt's sources (one-line and deb822), `deb-src` left out.
    public var repositories: [ConfiguredRepository] {
        config.sources.entries.filter { $0.type == .deb }.map { e in
            ConfiguredRepository(kind: "apt", id: "deb \(e.uri) \(e.suite) \(e.components.joined(separator: " "))",
                                 urls: [e.uri], suite: e.suite, components: e.components, enabled: e.enabled,
                                 file: e.file, line: e.line)
        }
    }

    /// `apt URI SUITE` for every source apt uses for upgrades.
    public var repositoryKeys: [String] {
        var keys: [String] = []
        for e in config.sources.entries where e.isUsedForUpdates {
            let key = Self.key(uri: e.uri, suite: e.suite)
            if !keys.contains(key) { keys.append(key) }
        }
        return keys
    }

    static func key(uri: String, suite: String) -> String { "apt \(RepositoryURL.normalised(uri)) \(suite)" }

    func loader(_ context: RepositoryContext) -> AptRepositoryLoader {
        AptRepositoryLoader(fetcher: context.fetcher, verifier: GPGVerifier(cache: context.signatures),
                            ignoreValidUntil: context.ignoreValidUntil, cache: context.apt, indexLimit: context.indexLimit)
    }

    public func upgrades(_ context: RepositoryContext) async -> FamilyAnswer {
        let indexes = await loader(context).load(config, keyringsFrom: files)
        let offers = await context.apt.offers(for: indexes, nativeArchitecture: config.nativeArchitecture,
                                              architectures: config.architectures)
        let updates = AptPolicy(config: config, indexes: indexes, offers: offers).upgrades(for: status)
        var fingerprints: [String: String?] = [:]
        for index in indexes.repositories {
            let key = Self.key(uri: index.key.uri, suite: index.key.suite)
            let previous = (fingerprints[key] ?? nil) ?? ""
            fingerprints[key] = SHA256Hasher.hex(of: Array((previous + index.indexSHA256).utf8))
        }
        for failure in indexes.failures { fingerprints[Self.key(uri: failure.uri, suite: failure.suite)] = .some(nil) }
        return FamilyAnswer(updates: updates, failures: indexes.failures.map(\.diagnostic), fingerprints: fingerprints)
    }

    public func explain(package: String, _ context: RepositoryContext) async -> String {
        let indexes = await loader(context).load(config, keyringsFrom: files)
        let explanation = AptPolicy(config: config, indexes: indexes).explain(package: package, arch: nil, status: status)
        return "\(explanation)" + indexes.failures.map { "\nnote: \($0)" }.joined()
    }
}
