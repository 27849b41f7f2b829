import Yams

/// One module stream build of a repository's `modules.yaml` (`document: modulemd`).
public struct ModuleStream: Sendable, Hashable {
    public var name: String
    public var stream: String
    public var version: Int
    public var context: String
    public var arch: String?
    /// The packages it consists of, as `name-epoch:version-release.arch` (epoch always written).
    public var artifacts: [String]
    /// `dependencies[].requires`: module name → accepted streams (empty: any).
    public var requires: [String: [String]]

    /// `name:stream`.
    public var nameStream: String { "\(name):\(stream)" }
    /// `name:stream:version:context`, the modularity label its packages carry.
    public var label: String { "\(name):\(stream):\(version):\(context)" }
}

/// `document: modulemd-defaults`: a module's default stream (and profiles).
public struct ModuleDefaults: Sendable, Hashable {
    public var module: String
    /// The default stream, nil when the module has none (CentOS Stream 9 sets none).
    public var stream: String?
    public var profiles: [String: [String]]
}

/// The modules of one repository (`modules.yaml`).
public struct ModuleMetadata: Sendable, Hashable {
    public var streams: [ModuleStream]
    /// By module name.
    public var defaults: [String: ModuleDefaults]

    public init(streams: [ModuleStream] = [], defaults: [String: ModuleDefaults] = [:]) {
        self.streams = streams
        self.defaults = defaults
    }

    /// The key a package has in ``ModuleStream/artifacts``: `name-epoch:version-release.arch`.
    public static func artifactKey(name: String, evr: RPMEVR, arch: String) -> String {
        "\(name)-\(evr.epoch ?? 0):\(evr.version)-\(evr.release ?? "").\(arch)"
    }

    /// Parses modules.yaml (compressed or not). Documents of other kinds (`modulemd-obsoletes`,
    /// `modulemd-translations`) are skipped; a `modulemd` without name or stream is an error naming it.
    public static func parse(_ bytes: [UInt8], source: String, limit: Int = 256 << 20) throws(RepodataError) -> ModuleMetadata {
        let text: String
        do {
            text = String(decoding: try Decompressor.decompress(bytes, compression: Compression.detect(bytes.prefix(8)), source: source, limit: limit),
                          as: UTF8.self)
        } catch {
            throw RepodataError(.decompression, url: source, detail: "\(error)")
        }
        var result = ModuleMetadata()
        var index = 0
        do {
            for document in try Yams.compose_all(yaml: text) {
                index += 1
                let kind = document["document"]?.string ?? ""
                guard let data = document["data"] else { continue }
                switch kind {
                case "modulemd":
                    guard let name = data["name"]?.string, let stream = data["stream"]?.string else {
                        throw RepodataError(.malformed, url: source, detail: "modulemd document \(index) has no name or stream")
                    }
                    var requires: [String: [String]] = [:]
                    for dependency in data["dependencies"]?.sequence ?? [] {
                        for (key, value) in dependency["requires"]?.mapping ?? [:] {
                            guard let module = key.string else { continue }
                            requires[module, default: []] += value.sequence?.compactMap(\.string) ?? value.string.map { [$0] } ?? []
                        }
                    }
                    result.streams.append(ModuleStream(
                        name: name, stream: stream, version: data["version"]?.string.flatMap { Int($0) } ?? 0,
                        context: data["context"]?.string ?? "", arch: data["arch"]?.string,
                        artifacts: data["artifacts"]?["rpms"]?.sequence?.compactMap(\.string) ?? [], requires: requires))
                case "modulemd-defaults":
                    guard let module = data["module"]?.string else { continue }
                    var profiles: [String: [String]] = [:]
                    for (key, value) in data["profiles"]?.mapping ?? [:] {
                        if let s = key.string { profiles[s] = value.sequence?.compactMap(\.string) ?? [] }
                    }
                    result.defaults[module] = ModuleDefaults(module: module, stream: data["stream"]?.string, profiles: profiles)
                default:
                    continue
                }
            }
        } catch let e as RepodataError {
            throw e
        } catch {
            throw RepodataError(.malformed, url: source, detail: "YAML document \(index + 1): \(error)")
        }
        return result
    }
}
