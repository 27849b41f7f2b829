import Foundation
import Testing

/// `imgsec sweep` over a folder of 23 real images (links to the test images, 12 qcow2 clones of deb12.qcow2, a
/// corrupt qcow2, a blank disk, an encrypted disk, a text file named like an image) and one file that is no image.
@Suite(.enabled(if: CLI.imagesAvailable || CLI.imagesRequired, "test images are built by scripts/build-test-images.sh"))
struct SweepCLITests {
    typealias JSON = [String: Any]

    static func sweep(_ store: String, _ work: String, _ extra: [String] = []) async throws -> (CLI.Result, JSON) {
        let run = try await CLI.run(CLI.binary, ["sweep", work + "/store", "--allow-backing-file", "--store", store, "--format", "json", "-v"] + extra,
                                         environment: ["IMGSEC_CACHE_DIR": work + "/cache"])
        let json = try #require(try JSONSerialization.jsonObject(with: run.stdoutBytes) as? JSON, "\(run.stderr)")
        return (run, json)
    }

    static func rows(_ json: JSON) -> [String: JSON] {
        Dictionary(((json["images"] as? [JSON]) ?? []).map { (($0["image"] as? String) ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    static func codes(_ row: JSON?) -> [String] {
        ((row?["errors"] as? [JSON]) ?? []).filter { $0["severity"] as? String == "error" }.compactMap { $0["code"] as? String }
    }

    /// What dpkg-query listed in the image's root filesystem when the test image was built.
    static func dpkgCount(_ golden: String) throws -> Int {
        try String(contentsOfFile: CLI.images + "/" + golden, encoding: .utf8).split(separator: "\n").count
    }

    @Test func aSweepReportsEveryImageAndItsFailuresAndTheSecondOpensNothing() async throws {
        let work = NSTemporaryDirectory() + "imgsec-sweep-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let build = try await CLI.run("/bin/bash", [CLI.repository.path + "/scripts/build-sweep-store.sh", work + "/store", "12"])
        try #require(build.status == 0, "\(build.stderr)")
        let storeDir = work + "/store"
        let store = work + "/imgsec.sqlite"

        let (first, json) = try await Self.sweep(store, work)
        // Failures: exit 1, every image still reported.
        #expect(first.status == 1, "\(first.stderr)")
        let rows = Self.rows(json)
        #expect(rows.count == 23, "\(rows.keys.sorted())")
        #expect(Self.codes(rows[storeDir + "/broken/corrupt.qcow2"]) == ["image.not-an-image"])
        #expect(Self.codes(rows[storeDir + "/broken/empty.qcow2"]) == ["image.no-os"])
        #expect(Self.codes(rows[storeDir + "/broken/luks.qcow2"]) == ["image.encrypted"])
        #expect(Self.codes(rows[storeDir + "/broken/notimage.img"]) == ["image.not-an-image"])
        #expect((json["ignored"] as? [String]) == [storeDir + "/README.txt"])
        for (image, row) in rows { #expect(row["unchanged"] as? Bool == false, "\(image)") }
        // Each failure is one error line on stderr naming the image.
        for broken in ["corrupt.qcow2", "empty.qcow2", "luks.qcow2", "notimage.img"] {
            #expect(first.stderr.contains("error: \(storeDir)/broken/\(broken): "), "\(broken)")
        }

        // The machines: package counts are what dpkg-query listed; the 12 clones get deb12.qcow2's answer.
        func machine(_ image: String) -> JSON? { (rows[storeDir + image]?["machines"] as? [JSON])?.first }
        func packages(_ image: String) -> Int? { (rows[storeDir + image]?["packageCounts"] as? [String: Int])?.values.first }
        #expect(packages("/linux/debian/deb12.qcow2") == (try Self.dpkgCount("deb12.expected.tsv")))
        #expect(packages("/linux/debian/deb11.qcow2") == (try Self.dpkgCount("deb11.expected.tsv")))
        #expect(packages("/linux/debian/deb12-lvm.qcow2") == (try Self.dpkgCount("deb12-lvm.expected.tsv")))
        #expect(packages("/linux/rpm/mariner.qcow2") == (try Self.dpkgCount("mariner.expected.tsv")))
        #expect((rows[storeDir + "/linux/debian/two-roots.qcow2"]?["machines"] as? [JSON])?.count == 2)
        let template = try #require(machine("/linux/debian/deb12.qcow2"))
        #expect(Self.codes(rows[storeDir + "/linux/debian/deb12.qcow2"]).isEmpty)
        for i in 1...12 {
            let clone = machine("/linux/debian/clone-\(i).qcow2")
            #expect(clone?["total"] as? Int == template["total"] as? Int, "clone-\(i)")
            #expect(clone?["counts"] as? [String: Int] == template["counts"] as? [String: Int], "clone-\(i)")
            #expect(packages("/linux/debian/clone-\(i).qcow2") == (try Self.dpkgCount("deb12.expected.tsv")))
        }
        // One computation for the 13 copies of the template (and deb12-lvm, whose files are the same).
        let shared = first.stderr.components(separatedBy: "answer shared with a clone").count - 1
        #expect(shared >= 13, "\(shared) answers shared")

        // Second sweep: nothing changed, nothing opened, the same answer.
        let (second, again) = try await Self.sweep(store, work)
        #expect(second.status == first.status)
        #expect(!second.stderr.contains("appliance running") && !second.stderr.contains("inspecting images"), "\(second.stderr)")
        let rows2 = Self.rows(again)
        #expect(rows2.count == 23)
        for (image, row) in rows2 {
            #expect(row["unchanged"] as? Bool == true, "\(image)")
            #expect(Self.codes(row) == Self.codes(rows[image]), "\(image)")
            #expect((row["machines"] as? [JSON])?.map { $0["total"] as? Int } == (rows[image]?["machines"] as? [JSON])?.map { $0["total"] as? Int }, "\(image)")
        }

        // A changed file is read again, alone.
        try Data("changed".utf8).write(to: URL(fileURLWithPath: storeDir + "/broken/notimage.img.new"))
        try FileManager.default.removeItem(atPath: storeDir + "/broken/notimage.img")
        try FileManager.default.moveItem(atPath: storeDir + "/broken/notimage.img.new", toPath: storeDir + "/broken/notimage.img")
        let (third, json3) = try await Self.sweep(store, work)
        let rows3 = Self.rows(json3)
        #expect(rows3[storeDir + "/broken/notimage.img"]?["unchanged"] as? Bool == false)
        #expect(rows3.values.filter { $0["unchanged"] as? Bool == true }.count == 22, "\(third.stderr)")
        #expect(!third.stderr.contains("appliance running"))
    }
}
