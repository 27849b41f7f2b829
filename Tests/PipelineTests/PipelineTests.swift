import Foundation
import Logging
import Testing
import Pipeline
import UpdateEngine

/// The pipeline on root directories: one outcome per source, events as it goes, diagnostics with codes.
struct PipelineTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let logger = Logger(label: "pipeline-tests")

    /// A root with a real dpkg status (and its `dpkg-query` golden), or without one.
    static func makeRoot(_ parent: String, _ name: String, status: Bool) throws -> String {
        let root = parent + "/" + name
        try FileManager.default.createDirectory(atPath: root + "/var/lib/dpkg", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/etc/apt", withIntermediateDirectories: true)
        try "ID=debian\nVERSION_ID=\"12\"\n".write(toFile: root + "/etc/os-release", atomically: true, encoding: .utf8)
        try "deb http://127.0.0.1:9/debian bookworm main\n".write(toFile: root + "/etc/apt/sources.list", atomically: true, encoding: .utf8)
        if status {
            try FileManager.default.copyItem(atPath: repository.appendingPathComponent("fixtures/dpkg-status/this-machine_debian-12.status").path,
                                             toPath: root + "/var/lib/dpkg/status")
        }
        return root
    }

    @Test func eachSourceIsOneOutcomeAndTheEventsSayWhatHappened() async throws {
        let dir = NSTemporaryDirectory() + "imgsec-pipeline-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try Self.makeRoot(dir, "good", status: true)
        let noStatus = try Self.makeRoot(dir, "no-status", status: false)
        let absent = dir + "/absent"

        let (stream, continuation) = AsyncStream<PipelineEvent>.makeStream()
        let pipeline = MachinePipeline(logger: Self.logger, events: continuation)
        let read = await pipeline.read([.root(good), .root(noStatus), .root(absent)])
        continuation.finish()
        var events: [String] = []
        for await event in stream {
            switch event {
            case .started(let n): events.append("started \(n)")
            case .found(let m): events.append("found \(m.name)")
            case .failed(let d): events.append("failed \(d.code)")
            case .registered, .checked: events.append("other")
            }
        }
        #expect(events == ["started 3", "found \(good)", "found \(noStatus)", "failed machine.missing"])
        #expect(read.failures.map(\.code) == [.machineMissing])
        #expect(read.failures.first?.subject.machine == absent)

        let byName = Dictionary(uniqueKeysWithValues: read.machines.map { ($0.name, $0) })
        // The good root's packages are dpkg-query's (the status fixture's golden: name, version, arch,
        // db:Status-Abbrev): those in an installed state (ii, it, iW, iF, and held h*).
        let golden = try String(contentsOfFile: Self.repository.appendingPathComponent("fixtures/dpkg-status/this-machine_debian-12.dpkg-query.tsv").path, encoding: .utf8)
        var installed: [String] = []
        for row in golden.split(separator: "\n") {
            let columns = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count > 3, columns[3].count >= 2 else { continue }
            let state = Array(columns[3])[1]
            guard "itWF".contains(state) else { continue }
            // ${binary:Package} says name:arch for Multi-Arch: same packages.
            installed.append("\(columns[0].split(separator: ":").first.map(String.init) ?? "") \(columns[1])")
        }
        let ours = (byName[good]?.inventory.packages ?? []).map { "\($0.name) \($0.version)" }
        #expect(Set(ours) == Set(installed), "\(Set(ours).symmetricDifference(Set(installed)).sorted().prefix(10))")
        #expect(ours.count == installed.count)
        #expect(byName[good]?.parsed.system is AptSystem)
        #expect(byName[good]?.inventory.repositories.first?.suite == "bookworm")
        // apt's configuration but no database: the family is known, the packages are not.
        #expect(byName[noStatus]?.parsed.packageFormat == .deb)
        #expect(byName[noStatus]?.parsed.error?.code == .dpkgStatusMissing)
        #expect(byName[noStatus]?.parsed.error?.subject.file == "/var/lib/dpkg/status")
    }

    @Test func aMachineWithoutAPackageDatabaseIsNotRegisteredAndTheOthersAre() async throws {
        let dir = NSTemporaryDirectory() + "imgsec-pipeline-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try Self.makeRoot(dir, "good", status: true)
        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty + "/etc", withIntermediateDirectories: true)
        let store = try SQLiteUpdateStore(path: dir + "/store.sqlite")
        let checker = Checker(store: store, fetcher: FileFetcher(), logger: Self.logger)
        let (outcomes, failures) = await MachinePipeline(logger: Self.logger).register([.root(empty), .root(good)], with: checker)
        #expect(failures.isEmpty)
        #expect(outcomes.count == 2)
        #expect(outcomes[0].record == nil)
        #expect(outcomes[0].failure?.code == .machineNoPackageDatabase)
        #expect(outcomes[0].failure?.subject.machine == empty)
        #expect(outcomes[1].record?.name == good)
        #expect(try await store.machines().map(\.machine.name) == [good])
    }
}
