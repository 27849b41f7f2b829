/// What is known about the operating system of one machine.
///
/// Field names follow libguestfs's inspection API (`inspect_get_distro`, `…_major_version`, …) so that
/// images inspected by libguestfs and root directories read from os-release give the same answers.
public struct OSFacts: Sendable, Hashable, Codable {
    /// `linux`, `windows`, … (libguestfs `inspect_get_type`).
    public var type: String?
    /// Distribution id as libguestfs names it: `debian`, `ubuntu`, `centos`, `rhel`, `fedora`, `mariner`, …
    public var distro: String?
    /// The full version string (`12`, `7`, `2.0`, `22.04`).
    public var version: String?
    public var majorVersion: Int?
    public var minorVersion: Int?
    /// Machine architecture (`x86_64`, `aarch64`), as libguestfs `file_architecture` names it.
    public var arch: String?
    public var hostname: String?
    /// The product name (os-release `PRETTY_NAME`, or libguestfs `inspect_get_product_name`).
    public var productName: String?
    /// `deb` or `rpm`: which package database the machine carries.
    public var packageFormat: PackageFormat?
    /// `apt`, `dnf`, `yum`, `tdnf`, `zypper`…
    public var packageManager: String?
    /// The root device inside the image (`/dev/sda1`), when the machine came from an image.
    public var rootDevice: String?

    public init() {}

    /// Facts from a machine's own files: os-release, hostname, the package databases present.
    public static func from(release: OSRelease?, hostname: String?, packageFormat: PackageFormat?) -> OSFacts {
        var facts = OSFacts()
        facts.type = release == nil && packageFormat == nil ? nil : "linux"
        facts.distro = release.flatMap { distroName(id: $0.id) }
        facts.version = release?.versionID
        if let v = release?.versionID {
            let parts = v.split(separator: ".", maxSplits: 2)
            facts.majorVersion = parts.first.flatMap { Int($0) }
            facts.minorVersion = parts.count > 1 ? Int(parts[1]) : (facts.majorVersion == nil ? nil : 0)
        }
        facts.productName = release?.prettyName ?? release?.name
        facts.hostname = hostname
        facts.packageFormat = packageFormat
        facts.packageManager = packageManager(distro: facts.distro, major: facts.majorVersion, format: packageFormat)
        return facts
    }

    /// libguestfs's distro names for os-release ids (`inspect-fs-unix.c`): `rhel` → `rhel`, `opensuse-leap` → `opensuse`, …
    static func distroName(id: String?) -> String? {
        guard let id = id?.lowercased(), !id.isEmpty else { return nil }
        switch id {
        case "opensuse", "opensuse-leap", "opensuse-tumbleweed": return "opensuse"
        case "sles", "sled": return "sles"
        case "ol": return "oraclelinux"
        case "amzn": return "amazonlinux"
        case "rocky": return "rocky"
        case "almalinux": return "alma"
        case "azurelinux": return "mariner"
        default: return id
        }
    }

    /// The package manager a distribution release uses, as libguestfs reports it.
    static func packageManager(distro: String?, major: Int?, format: PackageFormat?) -> String? {
        switch distro {
        case "debian", "ubuntu", "linuxmint", "raspbian", "kalilinux": return "apt"
        case "fedora": return (major ?? 99) >= 22 ? "dnf" : "yum"
        case "centos", "rhel", "oraclelinux", "scientificlinux", "rocky", "alma", "redhat-based":
            return (major ?? 99) >= 8 ? "dnf" : "yum"
        case "mariner": return "tdnf"
        case "amazonlinux": return (major ?? 0) >= 2022 ? "dnf" : "yum"
        case "opensuse", "sles": return "zypper"
        default:
            return format.flatMap(PackageFamilies.family(_:))?.packageManager
        }
    }
}
