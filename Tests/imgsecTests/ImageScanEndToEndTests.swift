import Foundation
import Testing

/// `imgsec scan` of the real Debian 12 and 11 test images and of a root directory, against a frozen copy of the
/// indexes their sources name (scripts/freeze-debian-indexes.sh) served on 127.0.0.1 — compared with real apt
/// run on the same root filesystems against the same server.
@Suite(.enabled(if: CLI.imagesAvailable || CLI.imagesRequired, "test images are built by scripts/build-test-images.sh"))
struct ImageScanEndToEndTests {
    static let frozen = CLI.images + "/frozen-mirror"

    /// The mirror URLs the images' sources name (recorded when the copy was frozen).
    static func origins() throws -> (mirror: String, security: String) {
        let lines = try String(contentsOfFile: frozen + "/origins", encoding: .utf8).split(separator: "\n").map(String.init)
        return (lines[0], lines.count > 1 ? lines[1] : "")
    }

    /// An apt root made from a test rootfs: its status, its keyring, its sources with the mirrors rewritten.
    static func aptRoot(from rootfs: String, into dir: String, base: String) throws -> String {
        let (mirror, security) = try origins()
        let root = dir + "/" + URL(fileURLWithPath: rootfs).lastPathComponent
        let fm = FileManager.default
        for sub in ["var/lib/dpkg", "etc/apt/sources.list.d", "usr/share/keyrings", "var/lib/apt/lists/partial",
                    "var/cache/apt/archives/partial", "etc/apt/preferences.d", "etc/apt/apt.conf.d"] {
            try fm.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: rootfs + "/var/lib/dpkg/status", toPath: root + "/var/lib/dpkg/status")
        try fm.copyItem(atPath: rootfs + "/usr/share/keyrings/debian-archive-keyring.gpg", toPath: root + "/usr/share/keyrings/debian-archive-keyring.gpg")
        // One-line sources without Signed-By trust /etc/apt/trusted.gpg.d, as imgsec does (from the machine's files).
        try fm.copyItem(atPath: rootfs + "/etc/apt/trusted.gpg.d", toPath: root + "/etc/apt/trusted.gpg.d")
        func rewrite(_ text: String) -> String {
            text.replacingOccurrences(of: security, with: base + "/debian-security")
                .replacingOccurrences(of: mirror + " ", with: base + "/debian ")
                .replacingOccurrences(of: mirror + "\n", with: base + "/debian\n")
        }
        for path in ["etc/apt/sources.list", "etc/apt/sources.list.d/debian.sources"] where fm.fileExists(atPath: rootfs + "/" + path) {
            try rewrite(try String(contentsOfFile: rootfs + "/" + path, encoding: .utf8)).write(toFile: root + "/" + path, atomically: true, encoding: .utf8)
        }
        try """
            Dir "\(root)/";
            Dir::State::status "\(root)/var/lib/dpkg/status";
            APT::Architecture "amd64";
            Debug::NoLocking "true";
            Acquire::Languages "none";
            Acquire::Check-Valid-Until "false";
            APT::Sandbox::User "root";

            """.write(toFile: root + "/apt.conf", atomically: true, encoding: .utf8)
        return root
    }

    static func apt(_ root: String) throws -> Set<String> {
        let env = ["APT_CONFIG": root + "/apt.conf", "LC_ALL": "C", "HOME": root]
        let update = try CLI.run("/usr/bin/apt-get", ["-q", "update"], environment: env)
        #expect(update.status == 0, "apt-get update: \(update.stderr)")
        var out = Set<String>()
        for line in try CLI.run("/usr/bin/apt", ["list", "--upgradable"], environment: env).stdout.split(separator: "\n") where line.contains("[upgradable from") {
            let w = line.split(separator: " ")
            guard w.count >= 3, let name = w[0].split(separator: "/").first else { continue }
            out.insert("\(name):\(w[2] == "all" ? "amd64" : w[2]) \(w[1])")
        }
        return out
    }

    @Test func scanningImagesAndARootGivesAptsAnswerForEach() throws {
        let mirror = try CheckerEndToEndTests.Mirror(root: Self.frozen)
        let (origin, security) = try Self.origins()
        let work = NSTemporaryDirectory() + "imgsec-image-scan-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let scan = try CLI.run(["scan", CLI.images + "/deb12.qcow2", CLI.images + "/deb11.qcow2", "--root", CLI.images + "/rootfs-deb12",
                                "--details", "--format", "json", "--store", work + "/store.sqlite", "--ignore-valid-until",
                                "--mirror", "\(origin)=\(mirror.base)/debian", "--mirror", "\(security)=\(mirror.base)/debian-security"],
                               environment: ["IMGSEC_CACHE_DIR": work + "/cache"])
        #expect(scan.status == 100, "\(scan.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: scan.stdoutBytes) as? [String: Any])
        let machines = try #require(json["machines"] as? [[String: Any]])
        #expect(machines.count == 3)
        var ours: [String: Set<String>] = [:]
        for m in machines {
            #expect((m["failures"] as? [String])?.isEmpty == true, "\(m["failures"] ?? "")")
            ours[m["machine"] as? String ?? ""] = Set(((m["updates"] as? [[String: Any]]) ?? []).map {
                "\($0["name"] as? String ?? ""):\($0["arch"] as? String ?? "") \($0["candidate"] as? String ?? "")"
            })
        }
        let apt12 = try Self.apt(try Self.aptRoot(from: CLI.images + "/rootfs-deb12", into: work, base: mirror.base))
        let apt11 = try Self.apt(try Self.aptRoot(from: CLI.images + "/rootfs-deb11", into: work, base: mirror.base))
        #expect(!apt12.isEmpty && !apt11.isEmpty)
        #expect(ours[CLI.images + "/deb12.qcow2"] == apt12)
        #expect(ours[CLI.images + "/rootfs-deb12"] == apt12)
        #expect(ours[CLI.images + "/deb11.qcow2"] == apt11)
    }
}
