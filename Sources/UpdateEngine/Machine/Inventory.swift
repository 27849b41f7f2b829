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
    /// Problems met while reading (a bad line, a file left out); each names its file.
    public var diagnostics: [Diagnostic]
    /// Errors that left the package list unknown.
    public var errors: [Diagnostic]

    public init(_ parsed: ParsedMachine) {
        packageFormat = parsed.packageFormat
        packages = parsed.packages
        repositories = parsed.repositories
        packageSource = parsed.system?.packageSource
        diagnostics = parsed.diagnostics
        errors = parsed.error.map { [$0] } ?? []
    }

    /// Interprets the collected files of one machine.
    public init(_ collected: Collector.Result) { self.init(ParsedMachine(collected)) }
}
