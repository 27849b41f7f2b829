import Foundation
import Logging
import Testing
@testable import ImageInspect
import UpdateEngine

/// The images `scripts/build-test-images.sh` builds, with the real tools' answers beside them.
enum TestImages {
    static let directory = ProcessInfo.processInfo.environment["IMGSEC_TEST_IMAGES"] ?? "/var/tmp/imgsec-test-images"
    /// `scripts/test.sh` sets IMGSEC_REQUIRE_IMAGES=1: then missing images fail the tests instead of skipping them.
    static let required = ProcessInfo.processInfo.environment["IMGSEC_REQUIRE_IMAGES"] == "1"
    static let available = FileManager.default.fileExists(atPath: directory + "/deb12.qcow2")
    static let enabled = available || required

    static func path(_ name: String) -> String { directory + "/" + name }

    /// Images with an operating system, and the name of their golden files.
    static let good = ["deb12.qcow2": "deb12", "deb12.raw": "deb12-raw", "deb11.qcow2": "deb11",
                       "deb12-lvm.qcow2": "deb12-lvm", "mariner.qcow2": "mariner", "centos7.raw": "centos7",
                       "cs9.qcow2": "cs9"]
    static let bad = ["luks.qcow2", "empty.qcow2", "backing.qcow2", "notimage.img", "missing.qcow2"]
    static let batch = good.keys.sorted() + ["two-roots.qcow2"] + bad

    /// `name<TAB>version<TAB>arch` lines: dpkg-query -W on the rootfs, or rpm's golden list.
    static func expectedPackages(_ golden: String) throws -> [String] {
        try String(contentsOfFile: path(golden + ".expected.tsv"), encoding: .utf8)
            .split(separator: "\n").map(String.init).sorted()
    }

    static func expectedOS(_ golden: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try String(contentsOfFile: path(golden + ".os"), encoding: .utf8).split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { out[kv[0]] = kv[1] }
        }
        return out
    }

    static func packageLines(_ collected: Collector.Result) -> [String] {
        MachineInventory(collected).packages.map { "\($0.name)\t\($0.version)\t\($0.arch)" }.sorted()
    }

    static func sha256(_ paths: [String]) -> [String: String] {
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = existing
        let pipe = Pipe()
        p.standardOutput = pipe
        guard (try? p.run()) != nil else { return [:] }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        var out: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { out[String(parts[1]).trimmingCharacters(in: .whitespaces)] = String(parts[0]) }
        }
        return out
    }

    static var logger: Logger { Logger(label: "imgsec.tests") }

    struct BatchRun: Sendable {
        var outcomes: [String: ImageOutcome]
        var before: [String: String]
        var after: [String: String]
    }

    /// One inspection of every test image in one batch (two appliances on two cores), shared by all tests.
    static let quickRun = Task<BatchRun, Never> {
        let paths = batch.map(path)
        let before = sha256(paths)
        var options = InspectOptions()
        options.stateDirectory = directory + "/state"  // the KVM verdict, kept with the test images, not in /tmp
        let outcomes = await Inspector(options: options, logger: logger).inspect(paths)
        let after = sha256(paths)
        var byName: [String: ImageOutcome] = [:]
        for (name, outcome) in zip(batch, outcomes) { byName[name] = outcome }
        return BatchRun(outcomes: byName, before: before, after: after)
    }

    /// libguestfs's full inspection (guestfs_inspect_os), with a backing chain allowed; after the quick run.
    static let fullRun = Task<[String: ImageOutcome], Never> {
        _ = await quickRun.value
        let names = ["deb12.qcow2", "centos7.raw", "backing.qcow2"]
        var options = InspectOptions()
        options.fullInspection = true
        options.allowBackingFile = true
        options.stateDirectory = directory + "/state"  // the KVM verdict, kept with the test images, not in /tmp
        let outcomes = await Inspector(options: options, logger: logger).inspect(names.map(path))
        return Dictionary(uniqueKeysWithValues: zip(names, outcomes))
    }
}
