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
    /// Installed packages from the database the machine's package manager uses.
    mutating func readPackages(_ files: SnapshotMachine) {
        switch packageFormat {
        case .deb:
            do {
                if let status = try DpkgStatus.read(from: files) {
                    packages = status.installedPackages
                    diagnostics += status.warnings.map(\.description)
                    packageSource = files.files["/var/lib/dpkg/status"] != nil ? "/var/lib/dpkg/status" : "/var/lib/dpkg/status.d"
                }
            } catch {
                errors.append("\(error)")
            }
        case .rpm:
            do {
                if let contents = try RPMDatabase.read(from: files) {
                    packages = contents.packages
                    packageSource = contents.path
                }
            } catch {
                errors.append("\(error)")
            }
        case nil:
            break
        }
    }

    /// apt's sources (one-line and deb822), `deb-src` left out.
    mutating func readAptRepositories(_ files: SnapshotMachine) {
        guard let sources = try? AptSources.read(from: files) else { return }
        diagnostics += sources.diagnostics.map(\.description)
        repositories += sources.entries.filter { $0.type == .deb }.map { e in
            ConfiguredRepository(kind: "apt", id: "deb \(e.uri) \(e.suite) \(e.components.joined(separator: " "))",
                                 urls: [e.uri], suite: e.suite, components: e.components, enabled: e.enabled,
                                 file: e.file, line: e.line)
        }
    }
}
