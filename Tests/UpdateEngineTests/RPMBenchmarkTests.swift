import Foundation
import Testing
@testable import UpdateEngine

/// Prints timings; runs only with `IMGSEC_BENCH=1` (scripts/bench-rpm.sh, release build). Serialized:
/// process CPU time would otherwise count the other test too.
@Suite("RPMBenchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["IMGSEC_BENCH"] == "1", "set IMGSEC_BENCH=1"))
struct RPMBenchmark {
    static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    @Test("primary.xml parse time next to zcat of the same file")
    func primary() throws {
        let path = try FileManager.default.contentsOfDirectory(atPath: Fixtures.url("repo-metadata/centos-stream-9-appstream/repodata").path)
            .first { $0.hasSuffix("primary.xml.gz") }.map { "repo-metadata/centos-stream-9-appstream/repodata/" + $0 }
        let bytes = try Fixtures.bytes(try #require(path))
        var best = Double.infinity, bestWall = Double.infinity
        var count = 0
        for _ in 0..<3 {
            let c0 = Self.cpuSeconds(), w0 = Date()
            count = try PrimaryXML.parse(bytes, source: "primary").count
            best = min(best, Self.cpuSeconds() - c0)
            bestWall = min(bestWall, Date().timeIntervalSince(w0))
        }
        var zcat = Double.infinity
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "time -p zcat '\(Fixtures.url(path!).path)' > /dev/null"]
            let err = Pipe()
            p.standardError = err
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            // user + sys of zcat, from the shell's `time -p`.
            let fields = text.split(separator: "\n").compactMap { line -> Double? in
                let f = line.split(separator: " ")
                return f.count == 2 && (f[0] == "user" || f[0] == "sys") ? Double(f[1]) : nil
            }
            zcat = min(zcat, fields.reduce(0, +))
        }
        print(String(format: "primary.xml (%d packages): parse %.3f s CPU (%.3f s wall), zcat %.3f s CPU, ratio %.2f",
                     count, best, bestWall, zcat, best / max(zcat, 0.001)))
    }

    @Test("rpmdb read time per package for the largest fixture database (by package count)")
    func rpmdb() throws {
        let root = Fixtures.url("rpmdb").path
        var best: (path: String, format: RPMDatabaseFormat, headers: Int, cpu: Double)?
        for case let rel as String in FileManager.default.enumerator(atPath: root)?.allObjects ?? [] {
            let full = root + "/" + rel
            let name = ((rel as NSString).lastPathComponent as NSString).deletingPathExtension
            let file = (rel as NSString).lastPathComponent
            guard ["Packages", "Packages.db", "rpmdb.sqlite"].contains(file) || (file.hasSuffix(".xz") && ["Packages", "Packages.db", "rpmdb.sqlite"].contains(name)),
                  let raw = try? [UInt8](Data(contentsOf: URL(fileURLWithPath: full))),
                  let bytes = try? Decompressor.decompress(raw, compression: Compression.detect(raw.prefix(8)), source: full, limit: 1 << 30),
                  let format = RPMDatabase.sniff(bytes) else { continue }
            let c0 = Self.cpuSeconds()  // decompression of the fixture not counted
            guard let headers = try? (format == .sqlite ? RPMDatabase.readSQLite(bytes, wal: nil, database: full)
                                                         : RPMDatabase.readHeaders(bytes, format: format, database: full)) else { continue }
            let cpu = Self.cpuSeconds() - c0
            if headers.count > (best?.headers ?? 0) { best = (full, format, headers.count, cpu) }
        }
        let b = try #require(best)
        print(String(format: "rpmdb %@ (%@, %d headers): %.1f µs per package", b.path, b.format.rawValue, b.headers,
                     b.cpu / Double(b.headers) * 1e6))
    }
}
