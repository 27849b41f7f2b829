import Foundation
@testable import UpdateEngine

/// Builds apt repository trees in a temporary directory: the real Debian indexes from the fixtures,
/// and small unsigned repositories written by the tests (for `trusted=yes` sources).
final class AptRepoTree {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("imgsec-apt-repo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// `file:///tmp/…/` with a trailing slash.
    var fileURI: String { root.absoluteString.hasSuffix("/") ? root.absoluteString : root.absoluteString + "/" }

    func write(_ relative: String, _ bytes: [UInt8]) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    func read(_ relative: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: root.appendingPathComponent(relative))) }

    static let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    static var hasDebianKeyring: Bool { FileManager.default.fileExists(atPath: keyring) }

    /// The two real Debian repositories under `debian/dists/bookworm-{security,updates}`, with their
    /// uncompressed `Packages` at the plain and the by-hash path (the InRelease lists both hashes).
    func addRealDebian(prefix: String = "debian") throws {
        let dir = "repo-metadata/debian-apt-indexes/"
        let updates = try Fixtures.bytes(dir + "bookworm-updates_main_binary-amd64_Packages")
        let security = try Fixtures.xzBytes(dir + "bookworm-security_main_binary-amd64_Packages.xz")
        for (suite, packages) in [("bookworm-updates", updates), ("bookworm-security", security)] {
            try write("\(prefix)/dists/\(suite)/InRelease", try Fixtures.bytes(dir + "\(suite)_InRelease"))
            try write("\(prefix)/dists/\(suite)/main/binary-amd64/Packages", packages)
            try write("\(prefix)/dists/\(suite)/main/binary-amd64/by-hash/SHA256/\(SHA256Hasher.hex(of: packages))", packages)
        }
    }

    /// One package stanza as a repository writes it.
    static func stanza(_ name: String, _ version: String, arch: String = "amd64", multiArch: String? = nil,
                       source: String? = nil) -> String {
        var s = "Package: \(name)\n"
        if let source { s += "Source: \(source)\n" }
        s += "Version: \(version)\nArchitecture: \(arch)\n"
        if let multiArch { s += "Multi-Arch: \(multiArch)\n" }
        s += "Maintainer: Test <test@example.org>\nInstalled-Size: 10\n"
        s += "Filename: pool/main/\(name.prefix(1))/\(name)/\(name)_\(version.replacingOccurrences(of: ":", with: "%3a"))_\(arch).deb\n"
        s += "Size: 1000\nSHA256: \(String(repeating: "0", count: 64))\nDescription: test package \(name)\n\n"
        return s
    }

    /// An unsigned repository: `Release` with the given fields and the SHA256 list of each
    /// `COMPONENT/binary-ARCH/Packages` (uncompressed and `.xz`).
    func addUnsigned(prefix: String, suite: String, fields: [(String, String)],
                     indexes: [String: String]) throws {
        let base = "\(prefix)/dists/\(suite)/"
        var sha = "SHA256:\n"
        for (path, text) in indexes.sorted(by: { $0.key < $1.key }) {
            let plain = Array(text.utf8)
            let xz = try Self.xz(plain)
            try write(base + path, plain)
            try write(base + path + ".xz", xz)
            sha += " \(SHA256Hasher.hex(of: plain)) \(plain.count) \(path)\n"
            sha += " \(SHA256Hasher.hex(of: xz)) \(xz.count) \(path).xz\n"
        }
        var release = ""
        for (k, v) in fields { release += "\(k): \(v)\n" }
        release += "Date: Sat, 28 Nov 2026 00:00:00 UTC\n" + sha
        try write(base + "Release", Array(release.utf8))
    }

    /// A flat repository (`deb URI ./`): `Release` and `Packages(.xz)` side by side.
    func addFlat(prefix: String, fields: [(String, String)], packages: String) throws {
        let plain = Array(packages.utf8)
        let xz = try Self.xz(plain)
        try write("\(prefix)/Packages", plain)
        try write("\(prefix)/Packages.xz", xz)
        var release = ""
        for (k, v) in fields { release += "\(k): \(v)\n" }
        release += "Date: Sat, 28 Nov 2026 00:00:00 UTC\nSHA256:\n"
        release += " \(SHA256Hasher.hex(of: plain)) \(plain.count) Packages\n \(SHA256Hasher.hex(of: xz)) \(xz.count) Packages.xz\n"
        try write("\(prefix)/Release", Array(release.utf8))
    }

    static func xz(_ bytes: [UInt8]) throws -> [UInt8] {
        try run("/usr/bin/xz", ["-c", "-6"], stdin: bytes).stdout
    }

    /// Runs a program (no shell); returns its exit status and outputs.
    @discardableResult
    static func run(_ path: String, _ args: [String], stdin: [UInt8]? = nil, environment: [String: String]? = nil,
                    currentDirectory: URL? = nil) throws -> (status: Int32, stdout: [UInt8], stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let environment { p.environment = environment }
        if let currentDirectory { p.currentDirectoryURL = currentDirectory }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("imgsec-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let errURL = tmp.appendingPathComponent("stderr"), inURL = tmp.appendingPathComponent("stdin")
        try Data().write(to: errURL)
        try Data(stdin ?? []).write(to: inURL)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = try FileHandle(forWritingTo: errURL)
        p.standardInput = try FileHandle(forReadingFrom: inURL)
        try p.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errData = (try? Data(contentsOf: errURL)) ?? Data()
        return (p.terminationStatus, [UInt8](outData), String(decoding: errData, as: UTF8.self))
    }
}

/// A `python3 -m http.server`-like server on 127.0.0.1 and a free port, serving one directory; stopped by `stop()`.
final class LocalHTTPServer {
    let process = Process()
    let port: Int

    init(directory: URL) throws {
        let script = """
        import http.server, socketserver, sys, os, functools
        os.chdir(sys.argv[1])
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a): pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        print(srv.server_address[1], flush=True)
        srv.serve_forever()
        """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, directory.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { break }
            line += byte
        }
        guard let p = Int(String(decoding: line, as: UTF8.self)) else {
            kill(process.processIdentifier, SIGKILL)
            throw FetchError(url: directory.path, detail: "the test HTTP server did not start")
        }
        port = p
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func stop() {
        // SIGKILL: children of test threads may inherit a signal mask that blocks SIGTERM.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// Serves a URL prefix from a local directory (the same files the HTTP server hands to apt).
struct PrefixFetcher: ResourceFetcher {
    var prefix: String
    var directory: URL
    func fetch(_ url: String) async throws -> [UInt8]? {
        guard url.hasPrefix(prefix) else { throw FetchError(url: url, detail: "outside the test repository") }
        return try await FileFetcher().fetch(directory.path + "/" + url.dropFirst(prefix.count))
    }
}

extension GPGVerifier {
    /// gpgv with a time limit these tests do not test: while appliance suites load both cores, a gpgv run of
    /// milliseconds can wait minutes for the test process to read its answer (stop 16's CI: 30 s ran out).
    static let patient = GPGVerifier(timeLimit: .seconds(900))
}
