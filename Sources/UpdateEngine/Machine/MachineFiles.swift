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

    /// What a path names, without following a final symbolic link.
    public enum Kind: Sendable { case file, directory, link, other }

    /// Resolves `path` inside a machine, following every symbolic link the way the machine itself would:
    /// an absolute target restarts at the machine's root, `..` never climbs above it, and more than
    /// `maxHops` links is a loop. `lstat` tells what a (link-free) path is, nil when it does not exist;
    /// `readlink` reads a link's target. Returns the link-free path, or nil when some component is missing.
    public static func resolve(_ path: String, machine: String, maxHops: Int = 40,
                               lstat: (String) throws -> Kind?, readlink: (String) throws -> String?) throws -> String? {
        var pending = components(path)
        var resolved: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let name = pending.removeFirst()
            if name == "." { continue }
            if name == ".." { if !resolved.isEmpty { resolved.removeLast() }; continue }
            guard let kind = try lstat(join(resolved + [name])) else { return nil }
            guard kind == .link else { resolved.append(name); continue }
            hops += 1
            guard hops <= maxHops else {
                throw MachineFilesError(.linkLoop, machine: machine, path: path,
                                        detail: "has more than \(maxHops) levels of symbolic links")
            }
            guard let target = try readlink(join(resolved + [name])) else { return nil }
            if target.hasPrefix("/") { resolved = [] }
            let targetParts = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            pending = targetParts + pending
        }
        return join(resolved)
    }

    /// The directory part of an absolute path ("/etc/apt/sources.list" → "/etc/apt").
    public static func dirname(_ path: String) -> String {
        let parts = components(path)
        return join(Array(parts.dropLast()))
    }
}
