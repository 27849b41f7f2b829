import Foundation
import Pipeline
import UpdateEngine

struct PackageJSON: Codable {
    var name: String
    var epoch: Int?
    var version: String
    var release: String?
    var arch: String
    var source: String?
    var modularityLabel: String?

    init(_ p: InstalledPackage) {
        name = p.name
        epoch = p.epoch
        version = p.version
        release = p.release
        arch = p.arch
        source = p.source
        modularityLabel = p.modularityLabel
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(version, forKey: .version)
        try c.encode(release, forKey: .release)
        try c.encode(arch, forKey: .arch)
        try c.encode(source, forKey: .source)
        try c.encode(modularityLabel, forKey: .modularityLabel)
    }
}

struct FileJSON: Codable {
    var path: String
    var size: Int
}

struct MachineSummary: Codable {
    var source: String
    var kind: String
    var diskFormat: String?
    var os: OSFacts
    var packageFormat: String?
    var packageSource: String?
    var packageCount: Int
    var packages: [PackageJSON]
    var repositories: [ConfiguredRepository]
    var files: [FileJSON]
    var notes: [Diagnostic]
    var errors: [Diagnostic]

    init(_ m: FoundMachine) {
        let inventory = m.inventory
        source = m.name
        kind = m.kind.rawValue
        diskFormat = m.diskFormat
        os = m.facts
        packageFormat = inventory.packageFormat?.rawValue
        packageSource = inventory.packageSource
        packageCount = inventory.packages.count
        packages = inventory.packages.sorted { ($0.name, $0.arch) < ($1.name, $1.arch) }.map(PackageJSON.init)
        repositories = inventory.repositories
        files = m.filesFound.map { FileJSON(path: $0.path, size: $0.size) }
        notes = m.notes
        errors = inventory.errors
    }
}

struct InspectOutput: Codable {
    var machines: [MachineSummary]
    var errors: [Diagnostic]

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        var out = ""
        for m in machines {
            let os = m.os
            out += "\(m.source)" + (m.diskFormat.map { "  (\($0)" + (os.rootDevice.map { ", root \($0)" } ?? "") + ")" } ?? "  (root directory)") + "\n"
            let version = os.version ?? [os.majorVersion, os.minorVersion].compactMap { $0 }.map(String.init).joined(separator: ".")
            out += "  os            \(os.distro ?? "unknown") \(version)"
            if let product = os.productName { out += " — \(product)" }
            out += "\n"
            out += "  arch          \(os.arch ?? "unknown")    hostname \(os.hostname ?? "-")\n"
            out += "  packages      \(m.packageCount) installed"
            if let format = m.packageFormat { out += " (\(format)" + (os.packageManager.map { ", \($0)" } ?? "") + (m.packageSource.map { ", from \($0)" } ?? "") + ")" }
            out += "\n"
            out += "  repositories  \(m.repositories.count)\n"
            for r in m.repositories {
                let what = r.kind == "apt"
                    ? "\(r.urls.first ?? "") \(r.suite ?? "") \(r.components.joined(separator: " "))"
                    : "[\(r.id)] \(r.urls.first ?? "")"
                out += "    \(r.enabled ? " " : "-") \(what)   (\(r.file):\(r.line))\n"
            }
            out += "  files         \(m.files.count)\n"
            for f in m.files { out += "      \(f.path) (\(f.size) bytes)\n" }
            for n in m.notes { out += "  \(n.severity.rawValue): \(n.message)  [\(n.code)\(n.subject.file.map { " " + $0 + (n.subject.line.map { ":\($0)" } ?? "") } ?? "")]\n" }
            for e in m.errors { out += "  error: \(e)  [\(e.code)]\n" }
            out += "\n"
        }
        return out
    }
}
