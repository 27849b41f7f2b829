/// The dnf/rpm family: rpm's database (BDB, SQLite or NDB), dnf's configuration, and dnf's candidate choice.
public struct DnfSystem: PackageSystem {
    public static let packageManager = "dnf"
    public static let format = PackageFormat.rpm

    public let rpmdb: RPMDatabaseContents?
    public let config: DnfMachineConfig
    public let packages: [InstalledPackage]
    public let packageSource: String?
    public let diagnostics: [Diagnostic]

    /// A machine with an rpm database in one of rpm's places.
    public static func claims(_ files: SnapshotMachine) -> Bool {
        Collector.rpmDatabaseDirectories.contains { directory in
            Collector.rpmDatabaseFiles.contains { files.files[directory + "/" + $0] != nil }
        }
    }

    public init(parsing files: SnapshotMachine, hints: ParseHints) throws(Diagnostic) {
        do {
            rpmdb = try RPMDatabase.read(from: files)
            config = try DnfMachineConfig.read(from: files, rpmdb: rpmdb)
        } catch {
            throw Diagnostic.from(error, subject: DiagnosticSubject(machine: files.displayName))
        }
        packages = rpmdb?.packages ?? []
        packageSource = rpmdb?.path
        diagnostics = config.diagnostics.map(\.diagnostic)
    }

    /// The sections of `/etc/yum.repos.d/*.repo` (and of dnf.conf / yum.conf), enabled or not.
    public var repositories: [ConfiguredRepository] {
        config.repositories.map { r in
            ConfiguredRepository(kind: "yum", id: r.id, urls: r.baseURLs + [r.metalink, r.mirrorlist].compactMap { $0 },
                                 suite: nil, components: [], enabled: r.enabled, file: r.file, line: r.line)
        }
    }

    public var repositoryKeys: [String] { config.enabledRepositories.map(DnfIndexCache.key) }

    func load(_ context: RepositoryContext) async -> DnfIndexes {
        await DnfRepositoryLoader(fetcher: context.fetcher, cache: context.dnf, indexLimit: context.indexLimit).load(config)
    }

    public func upgrades(_ context: RepositoryContext) async -> FamilyAnswer {
        let indexes = await load(context)
        var fingerprints: [String: String?] = [:]
        for load in indexes.repositories {
            let key = DnfIndexCache.key(load.repository)
            if let index = load.index {
                fingerprints[key] = SHA256Hasher.hex(of: Array("\(index.baseURL) \(index.repomd.entries.map { "\($0.type) \($0.checksum.map { "\($0)" } ?? "")" })".utf8))
            } else {
                fingerprints[key] = .some(nil)
            }
        }
        let updates = DnfPolicy(config: config, indexes: indexes).upgrades(for: rpmdb?.headers ?? [])
        return FamilyAnswer(updates: updates, failures: indexes.failures.compactMap(\.diagnostic), fingerprints: fingerprints)
    }

    public func explain(package: String, _ context: RepositoryContext) async -> String {
        let policy = DnfPolicy(config: config, indexes: await load(context))
        return "\(policy.explain(name: package, arch: nil, installed: rpmdb?.headers ?? []))"
    }
}
