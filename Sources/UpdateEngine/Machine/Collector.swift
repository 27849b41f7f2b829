/// Copies the package-management files of a machine into a ``SnapshotMachine``: os-release, the dpkg and
/// rpm databases, apt, yum and dnf configuration, and the keyrings apt trusts.
///
/// The same collector runs on a root directory and on a libguestfs guest, so both give the same input to
/// the parsers. Each file has a size cap; a file over its cap is reported and left out, the rest goes on.
public struct Collector: Sendable {
    /// Size caps, in bytes.
    public struct Limits: Sendable {
        public var config = 4 << 20
        public var packageDatabase = 2 << 30
        public var keyring = 8 << 20
        public var maxDirectoryEntries = 4096
        public init() {}
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Files read whole when present.
    static let configFiles = [
        "/etc/os-release", "/usr/lib/os-release", "/etc/hostname", "/etc/debian_version",
        "/etc/redhat-release", "/etc/system-release", "/etc/centos-release", "/etc/mariner-release",
        "/var/lib/dpkg/arch",
        "/etc/apt/sources.list", "/etc/apt/preferences", "/etc/apt/apt.conf",
        "/etc/yum.conf", "/etc/dnf/dnf.conf",
    ]
    /// Directories whose entries (with one of the suffixes, or all when none) are read.
    static let configDirectories: [(String, [String])] = [
        ("/etc/apt/sources.list.d", [".list", ".sources"]),
        ("/etc/apt/preferences.d", []),
        ("/etc/apt/apt.conf.d", []),
        ("/etc/yum.repos.d", [".repo"]),
        ("/etc/dnf/vars", []),
        ("/etc/yum/vars", []),
        ("/etc/dnf/modules.d", [".module"]),
    ]
    static let keyringDirectories = ["/etc/apt/trusted.gpg.d"]
    static let keyringFiles = ["/etc/apt/trusted.gpg"]
    /// Where rpm keeps its database, newest layout first, and the file names of its three formats.
    public static let rpmDatabaseDirectories = ["/usr/lib/sysimage/rpm", "/var/lib/rpm", "/usr/share/rpm"]
    public static let rpmDatabaseFiles = ["rpmdb.sqlite", "Packages.db", "Packages"]

    /// What the collector found: the files, and one line for each file it had to leave out.
    public struct Result: Sendable {
        public var files: SnapshotMachine
        public var diagnostics: [Diagnostic]
        /// The apt sources, parsed once here (to find the keyrings `Signed-By` names) and handed on.
        public var aptSources: AptSources?
        /// Paths found, in the order they were read, with their sizes.
        public var found: [(path: String, size: Int)]
    }

    /// Reads everything from `machine`. Blocks while the machine reads.
    public func collect(from machine: MachineFiles) -> Result {
        var snapshot = SnapshotMachine(displayName: machine.displayName)
        var diagnostics: [Diagnostic] = []
        var found: [(String, Int)] = []

        func take(_ path: String, limit: Int) {
            do {
                if let bytes = try machine.read(path, limit: limit) {
                    snapshot.add(path, bytes)
                    found.append((path, bytes.count))
                }
            } catch {
                diagnostics.append(Diagnostic.from(error, subject: DiagnosticSubject(machine: machine.displayName, file: path)).with(.warning))
            }
        }
        func entries(_ directory: String, suffixes: [String]) -> [String] {
            do {
                guard let names = try machine.list(directory) else { return [] }
                let chosen = names.filter { name in
                    !name.hasPrefix(".") && (suffixes.isEmpty || suffixes.contains { name.hasSuffix($0) })
                }
                if chosen.count > limits.maxDirectoryEntries {
                    diagnostics.append(Diagnostic(.fileNote, .warning, subject: DiagnosticSubject(machine: machine.displayName, file: directory),
                                                  "has \(chosen.count) entries; read the first \(limits.maxDirectoryEntries)."))
                }
                return chosen.prefix(limits.maxDirectoryEntries).map { directory + "/" + $0 }
            } catch {
                diagnostics.append(Diagnostic.from(error, subject: DiagnosticSubject(machine: machine.displayName, file: directory)).with(.warning))
                return []
            }
        }

        for path in Self.configFiles { take(path, limit: limits.config) }
        for (directory, suffixes) in Self.configDirectories {
            for path in entries(directory, suffixes: suffixes) { take(path, limit: limits.config) }
        }

        // dpkg: the status file, and distroless images' status.d/ (one file per package).
        take("/var/lib/dpkg/status", limit: limits.packageDatabase)
        for path in entries("/var/lib/dpkg/status.d", suffixes: []) where !path.hasSuffix(".md5sums") {
            take(path, limit: limits.config)
        }

        // rpm: every database file wherever it lives; the parsers pick which one rpm would use.
        for directory in Self.rpmDatabaseDirectories {
            for name in Self.rpmDatabaseFiles + ["rpmdb.sqlite-wal"] { take(directory + "/" + name, limit: limits.packageDatabase) }
        }

        // Keyrings apt trusts: trusted.gpg(.d) and every file a source's Signed-By names.
        for path in Self.keyringFiles { take(path, limit: limits.keyring) }
        for directory in Self.keyringDirectories {
            for path in entries(directory, suffixes: [".gpg", ".asc"]) { take(path, limit: limits.keyring) }
        }
        let sources = try? AptSources.read(from: snapshot)
        for path in Self.signedByPaths(in: sources) where snapshot.files[path] == nil {
            take(path, limit: limits.keyring)
        }
        return Result(files: snapshot, diagnostics: diagnostics, aptSources: sources, found: found)
    }

    /// Absolute paths named by the `Signed-By` of the collected apt sources (the apt sources parser decides;
    /// fingerprints and inline keys name no file).
    static func signedByPaths(in sources: AptSources?) -> [String] {
        guard let sources else { return [] }
        var paths: [String] = []
        for entry in sources.entries {
            guard case .paths(let named) = entry.signedBy else { continue }
            for path in named where path.hasPrefix("/") && !paths.contains(path) { paths.append(path) }
        }
        return paths
    }
}

extension Collector.Result {
    /// Which package family the machine belongs to (see ``PackageFamilies``).
    public var packageFormat: PackageFormat? { PackageFamilies.family(of: files)?.format }

    /// The machine's os-release: `/etc/os-release`, else `/usr/lib/os-release` (os-release(5)).
    public var osRelease: OSRelease? {
        (files.files["/etc/os-release"] ?? files.files["/usr/lib/os-release"]).map(OSRelease.init(parsing:))
    }

    /// The first line of `/etc/hostname`.
    public var hostname: String? {
        files.files["/etc/hostname"].flatMap { bytes in
            String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map { $0.trimmingSpaces() }
        }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// OS facts derived from the files alone (used for root directories, and for images unless
    /// libguestfs's full inspection was asked for).
    public func facts(arch: String?) -> OSFacts {
        var facts = OSFacts.from(release: osRelease, hostname: hostname, packageFormat: packageFormat)
        facts.arch = arch
        return facts
    }
}
