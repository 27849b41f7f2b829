import Foundation
import Testing
@testable import UpdateEngine

/// Timings for `scripts/bench-debian.sh`: parsing a full `Packages.xz` next to `xz -dc` of the same file,
/// and batch version comparisons. Runs only with `IMGSEC_BENCH=1` and `IMGSEC_BENCH_PACKAGES=/path/Packages.xz`.
@Suite("Apt benchmark", .enabled(if: ProcessInfo.processInfo.environment["IMGSEC_BENCH"] == "1", "set IMGSEC_BENCH=1"))
struct AptBenchmarkTests {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test("Benchmark: Packages.xz parse vs xz -dc, and version compares per second")
    func benchmark() throws {
        let path = try #require(ProcessInfo.processInfo.environment["IMGSEC_BENCH_PACKAGES"], "set IMGSEC_BENCH_PACKAGES")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var records: [AptPackageRecord] = []
        // Best of three for both, measured in the same run.
        var parse = Double.infinity, xz = Double.infinity
        for _ in 0..<3 {
            parse = min(parse, try Self.seconds {
                var p = PackagesIndexParser(source: path)
                try Decompressor.stream(bytes, compression: .xz, source: path) { try p.feed($0) }
                try p.finish()
                records = p.records
            })
            xz = min(xz, try Self.seconds {
                let r = try AptRepoTree.run("/bin/sh", ["-c", "xz -dc \"$0\" > /dev/null", path])
                #expect(r.status == 0)
            })
        }
        let versions = records.map(\.version)
        var pairs = 0
        var sink = 0
        let compare = Self.seconds {
            for round in 0..<5 {
                for i in 1..<versions.count {
                    sink &+= DebianVersion.compare(versions[i - 1], versions[(i * 7 + round) % versions.count])
                    pairs += 1
                }
            }
        }
        print("""
            BENCH packages.stanzas \(records.count)
            BENCH packages.parse_seconds \(String(format: "%.3f", parse))
            BENCH xz_dc_seconds \(String(format: "%.3f", xz))
            BENCH parse_over_xz_ratio \(String(format: "%.2f", parse / xz))
            BENCH version_compare_pairs_per_second \(Int(Double(pairs) / compare)) (\(pairs) pairs, checksum \(sink))
            """)
        #expect(records.count > 10_000)
    }
}
