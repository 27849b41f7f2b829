import Foundation
import Testing
@testable import UpdateEngine

/// The store at the scale of the benchmark: 1,000 machines of ~900 packages sharing repositories.
/// Runs only with `IMGSEC_BENCH=1` (`scripts/bench-store.sh` runs it in release mode) and prints its timings.
@Suite("StoreBenchmark", .enabled(if: ProcessInfo.processInfo.environment["IMGSEC_BENCH"] == "1", "set IMGSEC_BENCH=1 to run"))
struct StoreBenchmark {
    static let machineCount = 1_000
    static let packagesPerMachine = 900

    @Test("Counts for 1,000 machines come from the result cache in well under a second")
    func countsForAThousandMachines() async throws {
        let dir = try TemporaryDirectory("imgsec-bench")
        defer { dir.remove() }
        let store = try SQLiteUpdateStore(path: dir.file("bench.sqlite"))
        let clock = ContinuousClock()
        let now = Date()
        let repositorySets = [["main", "security", "updates"], ["main", "security"], ["main", "backports", "security", "updates"]]
        for key in Set(repositorySets.flatMap { $0 }) {
            try await store.putRepository(RepositoryRecord(key: key, fetchedAt: now, expiresAt: now + 3600, fingerprint: key + "-1"))
        }
        let packages = StoreSamples.packages(Self.packagesPerMachine)

        var ids: [Int64] = []
        let imported = try await clock.measure {
            for i in 0..<Self.machineCount {
                let m = try await store.upsertMachine(StoreSamples.machine(String(format: "machine%04d", i)), packages: packages,
                                                      repositoryKeys: repositorySets[i % repositorySets.count])
                ids.append(m.id ?? -1)
            }
        }

        let updates = (0..<25).map { StoreSamples.update("pkg\($0)", Significance.allCases[$0 % Significance.allCases.count]) }
        let stored = try await clock.measure {
            var results: [ResultRecord] = []
            for id in ids {
                let fingerprint = try await store.currentInputsFingerprint(forMachine: id) ?? ""
                results.append(ResultRecord(machineId: id, computedAt: now, expiresAt: now + 3600, inputsFingerprint: fingerprint,
                                            updates: updates))
            }
            try await store.putResults(results)
        }

        var counts: [MachineCounts] = []
        let counted = try await clock.measure { counts = try await store.counts(for: nil, at: now + 1) }
        let countedByID = try await clock.measure { counts = try await store.counts(for: ids, at: now + 1) }
        var details = 0
        let detailed = try await clock.measure {
            for id in ids.prefix(100) { details += try await store.result(forMachine: id)?.updates.count ?? 0 }
        }

        #expect(counts.count == Self.machineCount)
        #expect(counts.allSatisfy { $0.state == .fresh && $0.total == 25 })
        #expect(details == 2_500)
        let size = (try? FileManager.default.attributesOfItem(atPath: dir.file("bench.sqlite"))[.size] as? NSNumber)?.intValue ?? 0
        print("""
            StoreBenchmark: \(Self.machineCount) machines × \(Self.packagesPerMachine) packages
              import (one transaction per machine): \(imported)
              fingerprints + 1,000 results stored:   \(stored)
              counts for all machines:               \(counted)
              counts for 1,000 machine ids:          \(countedByID)
              100 detailed results:                  \(detailed)
              database size:                         \(size / 1_000_000) MB
            """)
        #expect(countedByID < .seconds(1))
    }
}
