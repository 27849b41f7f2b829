import Foundation
import UpdateEngine

struct MachineJSON: Codable {
    var name: String
    var source: String
    var kind: String
    var os: OSFacts
    var packageFormat: String?
    var owner: String?
    var labels: [String: String]
    var importedAt: Date
    var packageCount: Int?
    var lastCheckedAt: Date?

    init(_ m: MachineRecord) {
        name = m.name
        source = m.sourcePath
        kind = m.sourceKind.rawValue
        os = m.facts
        packageFormat = m.packageFormat?.rawValue
        owner = m.owner
        labels = m.labels
        importedAt = m.importedAt
    }
}

struct CheckJSON: Codable {
    var machine: String
    var os: String
    var counts: [String: Int]
    var total: Int
    var fromCache: Bool
    var computedAt: Date
    /// What failed for this machine (a repository, its database), with codes.
    var errors: [Diagnostic]
    var updates: [PendingUpdate]?
}

/// `check` and `scan` JSON: one row per machine, and the sources or machines that failed before a check.
struct ChecksJSON: Codable {
    var machines: [CheckJSON]
    var errors: [Diagnostic]
}

struct RegisterJSON: Codable {
    var machines: [MachineJSON]
    var errors: [Diagnostic]
}

enum CheckReport {
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func osLine(_ f: OSFacts) -> String {
        "\(f.distro ?? "unknown") \(f.version ?? f.majorVersion.map(String.init) ?? "")"
    }

    static func time(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }

    static func pad(_ cells: [String], _ widths: [Int]) -> String {
        zip(cells, widths).map { c, w in c.count >= w ? c + " " : c + String(repeating: " ", count: w - c.count) }.joined()
    }

    /// One machine's answer as JSON.
    static func row(_ c: MachineCheck, details: Bool) -> CheckJSON {
        CheckJSON(machine: c.machine.name, os: osLine(c.machine.facts),
                  counts: Dictionary(uniqueKeysWithValues: columns.map { ($0.rawValue, c.counts[$0] ?? 0) }),
                  total: c.total, fromCache: c.fromCache, computedAt: c.computedAt, errors: c.failures,
                  updates: details ? c.updates.sorted { ($0.name, $0.arch) < ($1.name, $1.arch) } : nil)
    }

    static let columns: [Significance] = [.security, .updates, .backports, .bugfix, .enhancement, .normal]

    static func emit(_ checks: [MachineCheck], errors: [Diagnostic], details: Bool, format: OutputFormat) {
        DiagnosticOutput.write(errors + checks.flatMap(\.failures), minimum: .warning)
        switch format {
        case .json:
            let rows = checks.map { row($0, details: details) }
            print((try? json(ChecksJSON(machines: rows, errors: errors))) ?? "{}")
        case .table:
            let widths = [40, 16] + columns.map { _ in 12 } + [7, 7]
            printTable(pad(["MACHINE", "OS"] + columns.map { $0.rawValue.uppercased() } + ["TOTAL", "CACHED"], widths))
            for c in checks {
                printTable(pad([c.machine.name, osLine(c.machine.facts)] + columns.map { "\(c.counts[$0] ?? 0)" }
                          + ["\(c.total)", c.fromCache ? "yes" : "no"], widths))
            }
            guard details else { return }
            for c in checks where !c.updates.isEmpty {
                printTable("\n\(c.machine.name):")
                for u in c.updates.sorted(by: { ($0.significance, $0.name) < ($1.significance, $1.name) }) {
                    let severity = u.severity.map { "/\($0)" } ?? ""
                    printTable("  \(u.name):\(u.arch)  \(u.installed) -> \(u.candidate)  [\(u.significance.rawValue)\(severity)]  \(u.repository)\(u.installOnly ? "  (install beside the old one)" : "")")
                    printTable("      \(u.reason)")
                }
            }
        }
    }
}
