import Foundation
import Testing
@testable import UpdateEngine

/// What the collector copies out of a machine, read from a root directory.
final class CollectorTests {
    /// Every root a test made, removed when the test ends.
    private var roots: [String] = []

    deinit { for root in roots { try? FileManager.default.removeItem(atPath: root) } }

    func makeRoot(_ files: [String: String], links: [String: String] = [:]) throws -> String {
        let root = NSTemporaryDirectory() + "imgsec-collector-\(UUID().uuidString)"
        roots.append(root)
        for (path, text) in files {
            let url = URL(fileURLWithPath: root + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        for (path, target) in links {
            let url = URL(fileURLWithPath: root + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
        }
        return root
    }

    @Test func keyringsNamedBySignedByAreCollectedFromBothSourceFormats() throws {
        let root = try makeRoot([
            "/etc/apt/sources.list": "deb [arch=amd64 signed-by=/etc/apt/keyrings/a.gpg] http://example.org/a stable main\n",
            "/etc/apt/sources.list.d/b.sources": "Types: deb\nURIs: http://example.org/b\nSuites: stable\nComponents: main\nSigned-By: /usr/share/keyrings/b.gpg\n",
            "/etc/apt/keyrings/a.gpg": "key a",
            "/usr/share/keyrings/b.gpg": "key b",
            "/usr/share/keyrings/unused.gpg": "not named",
            "/var/lib/dpkg/status": "",
        ])
        let result = Collector().collect(from: DirectoryMachine(root: root))
        #expect(result.files.files["/etc/apt/keyrings/a.gpg"] == Array("key a".utf8))
        #expect(result.files.files["/usr/share/keyrings/b.gpg"] == Array("key b".utf8))
        #expect(result.files.files["/usr/share/keyrings/unused.gpg"] == nil)
        #expect(result.packageFormat == .deb)
    }

    @Test func anAbsoluteLinkResolvesInsideTheMachineNotOnTheHost() throws {
        // /etc/os-release -> /usr/lib/os-release inside the machine; a link to /etc/hostname must not reach the host's.
        let root = try makeRoot(["/usr/lib/os-release": "ID=debian\nVERSION_ID=\"12\"\n"],
                                links: ["/etc/os-release": "/usr/lib/os-release", "/etc/hostname": "/../../../../etc/hostname"])
        let result = Collector().collect(from: DirectoryMachine(root: root))
        #expect(result.osRelease?.id == "debian")
        #expect(result.hostname == nil)
        #expect(result.files.files["/etc/hostname"] == nil)
    }

    @Test func aFileOverItsCapIsReportedAndTheRestCollected() throws {
        var limits = Collector.Limits()
        limits.config = 16
        let root = try makeRoot(["/etc/os-release": "ID=debian\n", "/etc/apt/sources.list": String(repeating: "#", count: 64)])
        let result = Collector(limits: limits).collect(from: DirectoryMachine(root: root))
        #expect(result.osRelease?.id == "debian")
        #expect(result.diagnostics.contains { $0.description.contains("/etc/apt/sources.list") && $0.description.contains("16-byte limit") && $0.code == .fileTooLarge })
    }

    @Test func aFIFOInPlaceOfTheStatusOrTheOSReleaseIsOneClearErrorNotAHang() async throws {
        let root = try makeRoot(["/etc/apt/sources.list": "deb http://127.0.0.1:9/debian bookworm main\n"])
        try FileManager.default.createDirectory(atPath: root + "/var/lib/dpkg", withIntermediateDirectories: true)
        for path in ["/var/lib/dpkg/status", "/etc/os-release"] {
            try #require(mkfifo(root + path, 0o600) == 0)
        }
        // Read on a thread of its own, with a deadline: the old code blocked in open() until a writer came.
        let collected = Task.detached { await runOnOwnThread { Collector().collect(from: DirectoryMachine(root: root)) } }
        let deadline = Task.detached { try await Task.sleep(for: .seconds(60)); return true }
        let result = await withTaskGroup(of: Collector.Result?.self) { group in
            group.addTask { await collected.value }
            group.addTask { _ = try? await deadline.value; return nil }
            let first = await group.next() ?? nil
            deadline.cancel()
            if first == nil {
                // Unblock the reader so the test run can end: give each FIFO a writer until the reading stops.
                let unblocking = Task.detached {
                    while !Task.isCancelled {
                        for path in ["/var/lib/dpkg/status", "/etc/os-release"] {
                            let fd = open(root + path, O_WRONLY | O_NONBLOCK)
                            if fd >= 0 { close(fd) }
                        }
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                }
                _ = await collected.value
                unblocking.cancel()
            }
            return first
        }
        let collectedResult = try #require(result, "reading a FIFO in the machine blocked for 60 s")
        for path in ["/var/lib/dpkg/status", "/etc/os-release"] {
            #expect(collectedResult.diagnostics.contains { $0.code == .fileUnreadable && $0.description.contains(path) && $0.description.contains("FIFO") },
                    "\(collectedResult.diagnostics)")
        }
    }
}
