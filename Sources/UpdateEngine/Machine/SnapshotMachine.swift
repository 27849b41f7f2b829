/// Machine files that were already copied out (of an image, say): a map from path to bytes.
///
/// Directory listings are derived from the paths held. Paths are stored normalised and
/// symbolic links are already resolved by whoever made the snapshot.
public struct SnapshotMachine: MachineFiles {
    public let displayName: String
    public private(set) var files: [String: [UInt8]]

    public init(displayName: String, files: [String: [UInt8]] = [:]) {
        self.displayName = displayName
        self.files = [:]
        for (path, bytes) in files { self.files[MachinePath.join(MachinePath.components(path))] = bytes }
    }

    public mutating func add(_ path: String, _ bytes: [UInt8]) {
        files[MachinePath.join(MachinePath.components(path))] = bytes
    }

    public func read(_ path: String, limit: Int) throws -> [UInt8]? {
        let key = MachinePath.join(MachinePath.components(path))
        guard let bytes = files[key] else { return nil }
        guard bytes.count <= limit else { throw MachineFilesError.tooLarge(machine: displayName, path: key, limit: limit) }
        return bytes
    }

    public func list(_ directory: String) throws -> [String]? {
        let base = MachinePath.components(directory)
        var names = Set<String>()
        for key in files.keys {
            let parts = MachinePath.components(key)
            if parts.count > base.count, Array(parts.prefix(base.count)) == base { names.insert(parts[base.count]) }
        }
        return names.isEmpty ? nil : names.sorted()
    }
}
