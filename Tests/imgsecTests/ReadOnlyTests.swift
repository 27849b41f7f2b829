import Foundation
import Testing

/// Nothing the user owns is written to: every command that opens images, run over every test image (good ones,
/// an LVM one, two roots, an encrypted one, an empty disk, a qcow2 with a backing file, a file that is no image),
/// leaves each file and the backing file byte for byte and mtime for mtime as it was.
@Suite(.enabled(if: CLI.imagesAvailable || CLI.imagesRequired, "test images are built by scripts/build-test-images.sh"))
struct ReadOnlyTests {
    static let images = ["deb12.qcow2", "deb12.raw", "deb11.qcow2", "deb12-lvm.qcow2", "two-roots.qcow2", "mariner.qcow2",
                         "centos7.raw", "cs9.qcow2", "luks.qcow2", "empty.qcow2", "backing.qcow2", "notimage.img"]

    /// Size, modification time (ns) and SHA-256 of each file, and of the files their qcow2 headers name as backing.
    static func state(_ paths: [String]) async throws -> [String: String] {
        let sums = try await CLI.run("/usr/bin/sha256sum", paths)
        #expect(sums.status == 0, "\(sums.stderr)")
        var out: [String: String] = [:]
        for line in sums.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let path = parts[1].trimmingCharacters(in: .whitespaces)
            var st = stat()
            #expect(stat(path, &st) == 0)
            out[path] = "\(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(parts[0])"
        }
        #expect(out.count == paths.count, "\(sums.stdout)")
        return out
    }

    @Test func everyCommandThatOpensImagesLeavesThemAndTheirBackingFilesUnchanged() async throws {
        var paths = Self.images.map { CLI.images + "/" + $0 }
        // The backing file backing.qcow2 names (qemu-img info reads the header only).
        let info = try await CLI.run("/usr/bin/qemu-img", ["info", "--output=json", "-U", CLI.images + "/backing.qcow2"])
        let header = try #require(try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any], "\(info.stderr)")
        if let backing = header["full-backing-filename"] as? String ?? header["backing-filename"] as? String,
           FileManager.default.fileExists(atPath: backing), !paths.contains(backing) {
            paths.append(backing)
        }
        let work = NSTemporaryDirectory() + "imgsec-read-only-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let before = try await Self.state(paths)
        let images = Self.images.map { CLI.images + "/" + $0 }
        let env = ["IMGSEC_CACHE_DIR": work + "/cache"]
        let commands: [[String]] = [
            ["inspect"] + images + ["--format", "json"],
            ["register"] + images + ["--store", work + "/store.sqlite", "--format", "json"],
            ["scan"] + images + ["--store", work + "/scan.sqlite", "--format", "json", "--offline"],
        ]
        for command in commands {
            let run = try await CLI.run(CLI.binary, command, environment: env)
            // Not vacuous: each command got to every image (a machine, or an error naming it).
            let json = try #require(try JSONSerialization.jsonObject(with: run.stdoutBytes) as? [String: Any], "\(command[0]): \(run.stderr)")
            let reported = (json["machines"] as? [[String: Any]] ?? []).flatMap { m in ["source", "machine", "name"].compactMap { m[$0] as? String } }
                + (json["errors"] as? [[String: Any]] ?? []).compactMap { ($0["subject"] as? [String: Any])?["image"] as? String }
            for image in images {
                #expect(reported.contains { $0 == image || $0.hasPrefix(image) }, "\(command[0]) did not report \(image): \(run.stdout)")
            }
            let after = try await Self.state(paths)
            for path in paths {
                #expect(after[path] == before[path], "\(command[0]) changed \(path): \(before[path] ?? "-") -> \(after[path] ?? "-")")
            }
        }
    }
}
