/// Which package manager owns a machine's package database.
public enum PackageFormat: String, Sendable, Codable, Hashable {
    case deb
    case rpm
}

/// One installed package, as the machine's package manager sees it.
public struct InstalledPackage: Sendable, Hashable, Codable {
    /// Package name (dpkg: without `:arch`).
    public var name: String
    /// Epoch, when the version has one (dpkg `N:`; rpm's EPOCH tag). `nil` means none was given.
    public var epoch: Int?
    /// The package manager's canonical full version: dpkg exactly as `dpkg-query -f '${Version}'`
    /// shows it; rpm `[epoch:]version-release`.
    public var version: String
    /// dpkg: the Debian revision, if any; rpm: RELEASE.
    public var release: String?
    /// Architecture (`amd64`, `all`, `x86_64`, `noarch`).
    public var arch: String
    /// dpkg: the source package name (from `Source:`, else the package name); rpm: SOURCERPM.
    public var source: String?
    /// dpkg: the source version when `Source:` names one; else nil.
    public var sourceVersion: String?
    /// rpm: MODULARITYLABEL (`name:stream:version:context`), if the package came from a module.
    public var modularityLabel: String?

    public init(name: String, epoch: Int? = nil, version: String, release: String? = nil, arch: String,
                source: String? = nil, sourceVersion: String? = nil, modularityLabel: String? = nil) {
        self.name = name
        self.epoch = epoch
        self.version = version
        self.release = release
        self.arch = arch
        self.source = source
        self.sourceVersion = sourceVersion
        self.modularityLabel = modularityLabel
    }
}
