/// The files of one machine, seen from inside it.
///
/// Paths are absolute paths *inside the machine* (`/var/lib/dpkg/status`). Symbolic links are followed
/// only inside the machine: an absolute link target is resolved against the machine's own root, and
/// `..` never climbs above it. Implementations: ``DirectoryMachine`` (a root directory on the host),
/// ``SnapshotMachine`` (files already copied out) and, in ImageInspect, a libguestfs-backed guest.
///
/// Calls may block (a guest reads through its appliance); call them off the cooperative pool.
public protocol MachineFiles: Sendable {
    /// A short human-readable name for messages ("image.qcow2", "/srv/rootfs").
    var displayName: String { get }

    /// Reads a regular file, at most `limit` bytes.
    ///
    /// Returns `nil` when the path does not exist (or is not a regular file after following links);
    /// throws ``MachineFilesError/tooLarge`` when it is larger than `limit`.
    func read(_ path: String, limit: Int) throws -> [UInt8]?

    /// Lists a directory: the names of its entries, sorted, without `.` and `..`.
    ///
    /// Returns `nil` when the path does not exist or is not a directory.
    func list(_ directory: String) throws -> [String]?
}

/// Why a machine file could not be read.
public struct MachineFilesError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable { case tooLarge, linkLoop, io }
    public var code: Code
    /// The machine ("image.qcow2" or a root directory).
    public var machine: String
    /// The path inside the machine.
    public var path: String
    public var detail: String

    public init(_ code: Code, machine: String, path: String, detail: String) {
        self.code = code
        self.machine = machine
        self.path = path
        self.detail = detail
    }

    public static func tooLarge(machine: String, path: String, limit: Int) -> MachineFilesError {
        MachineFilesError(.tooLarge, machine: machine, path: path, detail: "is larger than the \(limit)-byte limit")
    }

    public var description: String { "\(machine): \(path) \(detail)." }
}

/// Path helpers shared by the implementations: lexical normalisation inside a machine root.
public enum MachinePath {
    /// Splits an absolute path into components, dropping empty and `.` parts and resolving `..`
    /// lexically without ever climbing above `/`.
    public static func components(_ path: String) -> [String] {
        var out: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !out.isEmpty { out.removeLast() }
            default: out.append(String(part))
            }
        }
        return out
    }

    /// `"/" + components.joined("/")`.
    public static func join(_ components: [String]) -> String {
        "/" + components.joined(separator: "/")
    }

    /// The directory part of an absolute path ("/etc/apt/sources.list" → "/etc/apt").
    public static func dirname(_ path: String) -> String {
        let parts = components(path)
        return join(Array(parts.dropLast()))
    }
}
