import Foundation
@testable import UpdateEngine

/// A fresh directory under the system's temporary directory, removed by ``remove()``.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "imgsec-test") throws {
        path = NSTemporaryDirectory() + "/\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Sample machines and packages for store tests.
enum StoreSamples {
    static func packages(_ count: Int, seed: Int = 0) -> [InstalledPackage] {
        (0..<count).map { j in
            InstalledPackage(name: "pkg\(j)", epoch: j % 5 == 0 ? 1 : nil, version: "1.\(j).\(seed)", release: j % 2 == 0 ? "\(seed)" : nil,
                             arch: "amd64", source: j % 3 == 0 ? "src\(j)" : nil, sourceVersion: nil,
                             modularityLabel: j % 7 == 0 ? "mod:1:2:3" : nil)
        }
    }

    static func machine(_ name: String, owner: String? = nil) -> MachineRecord {
        var facts = OSFacts()
        facts.distro = "debian"
        facts.version = "12"
        facts.majorVersion = 12
        facts.packageFormat = .deb
        return MachineRecord(name: name, sourceKind: .image, sourcePath: "/images/\(name).qcow2",
                             sourceFingerprint: SourceFingerprint(size: 1234, modified: 1_700_000_000.5, headerSHA256: "ab"),
                             facts: facts, owner: owner, labels: ["team": "web"],
                             importedAt: Date(timeIntervalSince1970: 1_700_000_100), packageFormat: .deb,
                             configFingerprint: "cfg1",
                             repositories: [ConfiguredRepository(kind: "apt", id: "deb http://deb.debian.org/debian bookworm main",
                                                                 urls: ["http://deb.debian.org/debian"], suite: "bookworm",
                                                                 components: ["main"], enabled: true,
                                                                 file: "/etc/apt/sources.list", line: 1)])
    }

    static func update(_ name: String, _ significance: Significance) -> PendingUpdate {
        PendingUpdate(name: name, arch: "amd64", installed: "1.0", candidate: "1.1", repository: "bookworm-security/main",
                      significance: significance, reason: "newer")
    }
}
