import Foundation
import Testing
@testable import UpdateEngine

#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` of a process writing the store leaves a store that opens, passes SQLite's integrity check,
/// and holds every machine completely or not at all.
///
/// The writer is this test binary itself, re-run with `IMGSEC_STORE_CRASH_WRITER=PATH` and a filter
/// that selects only ``crashWriter()``; without that variable the writer test is skipped.
@Suite("Store crash safety")
struct StoreCrashTests {
    static let writerVariable = "IMGSEC_STORE_CRASH_WRITER"

    /// How many packages the writer gives machine number `i`.
    static func packageCount(_ i: Int) -> Int { 200 + (i * 37) % 300 }

    @Test("(child process) writes machines until killed", .enabled(if: ProcessInfo.processInfo.environment[writerVariable] != nil,
                                                                 "runs only as the child of the crash test"))
    func crashWriter() async throws {
        let path = try #require(ProcessInfo.processInfo.environment[Self.writerVariable])
        let store = try SQLiteUpdateStore(path: path)
        // Bounded even if the parent never kills us; long, because the parent's polling can be starved for
        // minutes by other suites that block the cooperative pool (it waits for 30 commits before it kills).
        let deadline = ContinuousClock.now + .seconds(900)
        for i in 0..<100_000 where ContinuousClock.now < deadline {
            _ = try await store.upsertMachine(StoreSamples.machine("crash\(i)"), packages: StoreSamples.packages(Self.packageCount(i), seed: i),
                                              repositoryKeys: ["k\(i % 3)"])
            try await store.putResult(ResultRecord(machineId: Int64(i + 1), computedAt: Date(), expiresAt: Date() + 60,
                                                   inputsFingerprint: "x", updates: [StoreSamples.update("pkg1", .security)]))
        }
    }

    @Test("kill -9 of a writer leaves a consistent store in which every machine is complete")
    func killedWriterLeavesConsistentStore() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("crash.sqlite")
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = ["--testing-library", "swift-testing", "--filter", "StoreCrashTests/crashWriter"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.writerVariable] = path
        child.environment = environment
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()

        // Wait until the writer has committed some machines (bounded), then kill it mid-stream.
        let deadline = ContinuousClock.now + .seconds(600)
        var committed: Int64 = 0
        while ContinuousClock.now < deadline, child.isRunning, committed < 30 {
            try await Task.sleep(for: .milliseconds(20))
            if FileManager.default.fileExists(atPath: path) {
                committed = (try? SQLiteConnection(readOnlyAt: path).scalarInt("SELECT count(*) FROM machine")) ?? 0
            }
        }
        try await Task.sleep(for: .milliseconds(Int.random(in: 0..<15)))
        let wasRunning = child.isRunning
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(wasRunning, "the writer ended before it was killed (status \(child.terminationStatus))")
        #expect(committed >= 30, "the writer committed only \(committed) machines before the deadline")

        let store = try SQLiteUpdateStore(path: path)
        #expect(try await store.integrityCheck() == ["ok"])
        let machines = try await store.machines()
        #expect(machines.count >= 30)
        for summary in machines {
            let i = try #require(Int(summary.machine.name.dropFirst("crash".count)))
            let id = try #require(summary.machine.id)
            #expect(summary.packageCount == Self.packageCount(i), "machine \(summary.machine.name)")
            #expect(try await store.packages(ofMachine: id) == StoreSamples.packages(Self.packageCount(i), seed: i))
            #expect(try await store.repositoryKeys(ofMachine: id) == ["k\(i % 3)"])
        }
        let db = try SQLiteConnection(readOnlyAt: path)
        #expect(try db.scalarInt("SELECT count(*) FROM installed_package WHERE machine_id NOT IN (SELECT id FROM machine)") == 0)
        #expect(try db.scalarText("PRAGMA foreign_key_check") == nil)
        // And it still takes writes.
        _ = try await store.upsertMachine(StoreSamples.machine("after"), packages: StoreSamples.packages(3), repositoryKeys: [])
        #expect(try await store.machine(named: "after") != nil)
    }
}
