/// A configured package repository, summarised for display and for the store.
public struct ConfiguredRepository: Sendable, Hashable, Codable {
    /// `apt` or `yum`.
    public var kind: String
    /// apt: `deb URI SUITE COMPONENTS`; yum: the section id.
    public var id: String
    /// apt: the URI; yum: the base URLs, metalink or mirrorlist.
    public var urls: [String]
    public var suite: String?
    public var components: [String]
    public var enabled: Bool
    public var file: String
    public var line: Int
}

/// What a machine's collected files say: its installed packages and configured repositories.
public struct MachineInventory: Sendable {
    public var packageFormat: PackageFormat?
    /// Installed packages, as the package manager counts them (dpkg: installed states only).
    public var packages: [InstalledPackage]
    public var repositories: [ConfiguredRepository]
    /// Where the packages were read from (`/var/lib/dpkg/status`, `/var/lib/rpm/Packages`…).
    public var packageSource: String?
    /// Problems met while reading (a bad line, a corrupt database); each names its file.
    public var diagnostics: [String]
    /// Errors that left the package list unknown.
    public var errors: [String]

    /// Interprets the collected files of one machine.
    public init(_ collected: Collector.Result) {
        let files = collected.files
        packageFormat = collected.packageFormat
        packages = []
        repositories = []
        diagnostics = []
        errors = []
        readPackages(files)
        readRepositories(files)
    }

    mutating func readRepositories(_ files: SnapshotMachine) {
        var yumFiles = files.files.keys.filter { $0.hasPrefix("/etc/yum.repos.d/") && $0.hasSuffix(".repo") }.sorted()
        for conf in ["/etc/dnf/dnf.conf", "/etc/yum.conf"] where files.files[conf] != nil { yumFiles.append(conf) }
        for path in yumFiles {
            guard let bytes = files.files[path] else { continue }
            let (repos, problems) = YumRepository.parse(bytes, file: path)
            diagnostics += problems.map(\.description)
            repositories += repos.map { r in
                ConfiguredRepository(kind: "yum", id: r.id, urls: r.baseURLs + [r.metalink, r.mirrorlist].compactMap { $0 },
                                     suite: nil, components: [], enabled: r.enabled, file: path, line: r.line)
            }
        }
        readAptRepositories(files)
    }
}

extension MachineInventory {
    // Filled in by the Debian and RPM engines.
    mutating func readPackages(_ files: SnapshotMachine) {}
    mutating func readAptRepositories(_ files: SnapshotMachine) {}
}
