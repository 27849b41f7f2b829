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

    static func apt(_ root: String) async throws -> Set<String> {
        let env = ["APT_CONFIG": root + "/apt.conf", "LC_ALL": "C", "HOME": root]
        let update = try await CLI.run("/usr/bin/apt-get", ["-q", "update"], environment: env)
        #expect(update.status == 0, "apt-get update: \(update.stderr)")
        var out = Set<String>()
        for line in try await CLI.run("/usr/bin/apt", ["list", "--upgradable"], environment: env).stdout.split(separator: "\n") where line.contains("[upgradable from") {
            let w = line.split(separator: " ")
            guard w.count >= 3, let name = w[0].split(separator: "/").first else { continue }
            out.insert("\(name):\(w[2]) \(w[1])")
        }
        return out
    }

    @Test func scanningImagesAndARootGivesAptsAnswerForEach() async throws {
        let mirror = try await CheckerEndToEndTests.Mirror(root: Self.frozen)
        let (origin, security) = try Self.origins()
        let work = NSTemporaryDirectory() + "imgsec-image-scan-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let scan = try await CLI.run(["scan", CLI.images + "/deb12.qcow2", CLI.images + "/deb11.qcow2", "--root", CLI.images + "/rootfs-deb12",
                                "--details", "--format", "json", "--store", work + "/store.sqlite", "--ignore-valid-until",
                                "--mirror", "\(origin)=\(mirror.base)/debian", "--mirror", "\(security)=\(mirror.base)/debian-security"],
                               environment: ["IMGSEC_CACHE_DIR": work + "/cache"])
        #expect(scan.status == 100, "\(scan.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: scan.stdoutBytes) as? [String: Any])
        let machines = try #require(json["machines"] as? [[String: Any]])
        #expect(machines.count == 3)
        var ours: [String: Set<String>] = [:]
        for m in machines {
            #expect((m["errors"] as? [[String: Any]])?.isEmpty == true, "\(m["errors"] ?? "")")
            ours[m["machine"] as? String ?? ""] = Set(((m["updates"] as? [[String: Any]]) ?? []).map {
                "\($0["name"] as? String ?? ""):\($0["arch"] as? String ?? "") \($0["candidate"] as? String ?? "")"
            })
        }
        let apt12 = try await Self.apt(try Self.aptRoot(from: CLI.images + "/rootfs-deb12", into: work, base: mirror.base))
        let apt11 = try await Self.apt(try Self.aptRoot(from: CLI.images + "/rootfs-deb11", into: work, base: mirror.base))
        #expect(!apt12.isEmpty && !apt11.isEmpty)
        #expect(ours[CLI.images + "/deb12.qcow2"] == apt12)
        #expect(ours[CLI.images + "/rootfs-deb12"] == apt12)
        #expect(ours[CLI.images + "/deb11.qcow2"] == apt11)
    }

    /// The CentOS Stream 9 image (its rpmdb written by rpm 4.18) against the real CS9 AppStream repodata served on
    /// 127.0.0.1, compared with real `dnf check-update` on its root filesystem: module streams, an exclude, an
    /// installonly kernel, epochs.
    @Test(.enabled(if: Requirement.tool(FileManager.default.isExecutableFile(atPath: "/usr/bin/dnf")), "needs Debian's dnf"))
    func scanningTheRpmImageGivesDnfsAnswer() async throws {
        let repodata = CLI.fixture("repo-metadata/centos-stream-9-appstream")
        let mirror = try await CheckerEndToEndTests.Mirror(root: repodata)
        let work = NSTemporaryDirectory() + "imgsec-cs9-scan-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let origin = "http://cs9-mirror.imgsec.invalid/9-stream/AppStream/x86_64/os/"
        let scan = try await CLI.run(["scan", CLI.images + "/cs9.qcow2", "--details", "--format", "json", "--store", work + "/store.sqlite",
                                "--mirror", "\(origin)=\(mirror.base)/"], environment: ["IMGSEC_CACHE_DIR": work + "/cache"])
        #expect(scan.status == 100, "\(scan.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: scan.stdoutBytes) as? [String: Any])
        let machine = try #require((json["machines"] as? [[String: Any]])?.first)
        let updates = (machine["updates"] as? [[String: Any]]) ?? []
        let ours = Set(updates.map { "\($0["name"] as? String ?? "").\($0["arch"] as? String ?? "") \($0["candidate"] as? String ?? "")" })

        // Real dnf on a copy of the image's root filesystem, its repository pointed at the same server.
        let root = work + "/root"
        let copy = try await CLI.run("/bin/cp", ["-a", CLI.images + "/rootfs-cs9", root])
        try #require(copy.status == 0, "\(copy.stderr)")
        let repo = root + "/etc/yum.repos.d/appstream.repo"
        try (try String(contentsOfFile: repo, encoding: .utf8)).replacingOccurrences(of: "http://cs9-mirror.imgsec.invalid/9-stream/AppStream/$basearch/os/", with: mirror.base + "/")
            .write(toFile: repo, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: work + "/home", withIntermediateDirectories: true)
        try "%_dbpath /var/lib/rpm\n".write(toFile: work + "/home/.rpmmacros", atomically: true, encoding: .utf8)
        let dnf = try await CLI.run("/usr/bin/dnf", ["--installroot=\(root)", "--config=\(root)/etc/dnf/dnf.conf", "--releasever=9",
                                               "--setopt=reposdir=\(root)/etc/yum.repos.d", "--setopt=cachedir=\(work)/dnf-cache",
                                               "--nogpgcheck", "-q", "check-update"], environment: ["HOME": work + "/home", "LC_ALL": "C.UTF-8"])
        #expect(dnf.status == 100, "\(dnf.stderr)")
        var theirs = Set<String>()
        for line in dnf.stdout.split(separator: "\n") {
            if line.hasPrefix("Obsoleting") { break }
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count == 3, f[0].contains(".") else { continue }
            theirs.insert("\(f[0]) \(f[1])")
        }
        #expect(theirs.count >= 4)
        #expect(ours == theirs, "only imgsec: \(ours.subtracting(theirs).sorted()) only dnf: \(theirs.subtracting(ours).sorted())")
        #expect(updates.contains { $0["name"] as? String == "kernel-devel" && $0["installOnly"] as? Bool == true })
    }
}
