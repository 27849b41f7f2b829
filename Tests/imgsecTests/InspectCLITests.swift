import Foundation
import Testing

/// `imgsec inspect` end to end: output on stdout, one error line per bad input on stderr, exit codes.
struct InspectCLITests {
    static func expected(_ name: String) throws -> [String] {
        try String(contentsOfFile: CLI.images + "/" + name + ".expected.tsv", encoding: .utf8).split(separator: "\n").map(String.init).sorted()
    }

    static func packageLines(_ machine: [String: Any]) -> [String] {
        ((machine["packages"] as? [[String: Any]]) ?? []).map { p in
            "\(p["name"] as? String ?? "")\t\(p["version"] as? String ?? "")\t\(p["arch"] as? String ?? "")"
        }.sorted()
    }

    static func json(_ result: CLI.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.stdoutBytes) as? [String: Any])
    }

    @Test func controlCharactersAGuestWroteAreShownEscapedInTablesAndErrorLinesAndKeptInJSON() async throws {
        let root = NSTemporaryDirectory() + "imgsec-escapes-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for dir in ["/etc/apt", "/var/lib/dpkg"] {
            try FileManager.default.createDirectory(atPath: root + dir, withIntermediateDirectories: true)
        }
        // A window-title escape sequence, a bell and a right-to-left override in the OS name; a terminal reset
        // (ESC c) in a sources.list URL (listed among the repositories).
        let pretty = "Debian \u{1B}]0;owned\u{07}\u{202E}evil"
        try "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"\(pretty)\"\n".write(toFile: root + "/etc/os-release", atomically: true, encoding: .utf8)
        try "deb http://127.0.0.1:9/\u{1B}c bookworm main\n".write(toFile: root + "/etc/apt/sources.list", atomically: true, encoding: .utf8)
        try "Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n"
            .write(toFile: root + "/var/lib/dpkg/status", atomically: true, encoding: .utf8)

        let table = try await CLI.run(["inspect", "--root", root])
        let shown = table.stdout + table.stderr
        for raw: Unicode.Scalar in ["\u{1B}", "\u{07}", "\u{202E}"] {
            #expect(!shown.unicodeScalars.contains(raw), "U+\(String(raw.value, radix: 16)) reached the terminal: \(shown.debugDescription)")
        }
        #expect(table.stdout.contains("Debian \\x1b]0;owned\\x07\\u{202e}evil"), "\(table.stdout)")
        #expect(shown.contains("http://127.0.0.1:9/\\x1bc"), "\(shown)")

        let json = try Self.json(try await CLI.run(["inspect", "--root", root, "--format", "json"]))
        let os = try #require(((json["machines"] as? [[String: Any]])?.first)?["os"] as? [String: Any])
        #expect(os["productName"] as? String == pretty)
    }

    @Test func aGuestsOverlongLineIsCutInTheTableAndWholeInJSON() async throws {
        let root = NSTemporaryDirectory() + "imgsec-long-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for dir in ["/etc", "/var/lib/dpkg"] {
            try FileManager.default.createDirectory(atPath: root + dir, withIntermediateDirectories: true)
        }
        let long = String(repeating: "x", count: 20_000)
        try "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"\(long)\"\n".write(toFile: root + "/etc/os-release", atomically: true, encoding: .utf8)
        try "Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n"
            .write(toFile: root + "/var/lib/dpkg/status", atomically: true, encoding: .utf8)
        let table = try await CLI.run(["inspect", "--root", root])
        let os = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix("  os ") }, "\(table.stdout.prefix(500))")
        #expect(os.count < 2100)
        #expect(os.hasSuffix("more characters)"))
        let json = try Self.json(try await CLI.run(["inspect", "--root", root, "--format", "json"]))
        let facts = try #require(((json["machines"] as? [[String: Any]])?.first)?["os"] as? [String: Any])
        #expect(facts["productName"] as? String == long)
    }

    /// `--launch-timeout` reaches the watchdog: under TCG an appliance needs ~15 s to start, so 1 s always runs out.
    @Test(.enabled(if: CLI.imagesAvailable || CLI.imagesRequired, "test images are built by scripts/build-test-images.sh"))
    func anApplianceThatDoesNotStartWithinTheLaunchTimeoutIsStoppedWithItsCode() async throws {
        let started = Date()
        let result = try await CLI.run(["inspect", CLI.images + "/deb12.qcow2", "--launch-timeout", "1", "--format", "json"],
                                 environment: ["IMGSEC_CACHE_DIR": CLI.images + "/state"])
        #expect(result.status == 1, "\(result.stderr)")
        let errors = try #require(try Self.json(result)["errors"] as? [[String: Any]], "\(result.stdout)")
        #expect(errors.compactMap { $0["code"] as? String } == ["image.timeout"], "\(result.stdout)")
        #expect(result.stderr.contains("appliance launch did not finish within 1 s"), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 60)
        for bad in ["0", "-3", "nan"] {
            let usage = try await CLI.run(["inspect", CLI.images + "/deb12.qcow2", "--launch-timeout", bad])
            #expect(usage.status == 64, "--launch-timeout \(bad): \(usage.stderr)")
        }
    }

    @Test func noInputIsAUsageError() async throws {
        let result = try await CLI.run(["inspect"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("Name at least one image"))
    }

    @Test(.enabled(if: CLI.imagesAvailable || CLI.imagesRequired, "test images are built by scripts/build-test-images.sh"))
    func aRootDirectoryListsWhatDpkgQueryLists() async throws {
        let result = try await CLI.run(["inspect", "--root", CLI.images + "/rootfs-deb12", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let machines = try #require(try Self.json(result)["machines"] as? [[String: Any]])
        let machine = try #require(machines.first)
        #expect(Self.packageLines(machine) == (try Self.expected("deb12")))
        let first = try #require((machine["packages"] as? [[String: Any]])?.first)
        #expect(Set(first.keys) == ["name", "epoch", "version", "release", "arch", "source", "modularityLabel"])
        let os = try #require(machine["os"] as? [String: Any])
        #expect(os["distro"] as? String == "debian")
        #expect(os["version"] as? String == "12")
    }

    @Test(.enabled(if: CLI.imagesAvailable || CLI.imagesRequired, "test images are built by scripts/build-test-images.sh"))
    func badInputsAreOneErrorLineEachAndTheRestIsStillReported() async throws {
        let missing = "/nonexistent/imgsec.qcow2"
        let notImage = CLI.images + "/notimage.img"
        let result = try await CLI.run(["inspect", missing, notImage, "--root", CLI.images + "/rootfs-mariner", "--format", "json"])
        #expect(result.status == 1)
        let errorLines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(errorLines.count == 2)
        #expect(errorLines.contains { $0.contains(missing) && $0.contains("no such file") })
        #expect(errorLines.contains { $0.contains(notImage) && $0.contains("not a disk image") })
        let json = try Self.json(result)
        let machines = try #require(json["machines"] as? [[String: Any]])
        #expect(machines.count == 1)
        #expect(Self.packageLines(try #require(machines.first)) == (try Self.expected("mariner")))
        #expect((json["errors"] as? [[String: Any]])?.count == 2)
    }

    /// One appliance for a good and a bad image: the JSON lists exactly dpkg-query's packages.
    @Test(.enabled(if: CLI.imagesAvailable || CLI.imagesRequired, "test images are built by scripts/build-test-images.sh"))
    func anImageThroughTheCommandLine() async throws {
        let result = try await CLI.run(["inspect", CLI.images + "/deb11.qcow2", CLI.images + "/empty.qcow2", "--format", "json"],
                                 environment: ["IMGSEC_CACHE_DIR": CLI.images + "/state"])
        #expect(result.status == 1)
        let errorLines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(errorLines.count == 1)
        #expect(errorLines.first?.contains("empty.qcow2: has no operating system") == true)
        let machines = try #require(try Self.json(result)["machines"] as? [[String: Any]])
        #expect(machines.count == 1)
        let machine = try #require(machines.first)
        #expect(Self.packageLines(machine) == (try Self.expected("deb11")))
        #expect((machine["repositories"] as? [[String: Any]])?.first?["suite"] as? String == "bullseye")
        #expect(machine["diskFormat"] as? String == "qcow2")
    }

    @Test(.enabled(if: CLI.imagesAvailable || CLI.imagesRequired, "test images are built by scripts/build-test-images.sh"))
    func theTableNamesTheOSThePackageCountAndTheRepositories() async throws {
        let result = try await CLI.run(["inspect", "--root", CLI.images + "/rootfs-centos7"])
        #expect(result.status == 0)
        let count = try Self.expected("centos7").count
        #expect(result.stdout.contains("centos 7"))
        #expect(result.stdout.contains("\(count) installed (rpm"))
        #expect(result.stdout.contains("[updates]"))
        #expect(result.stdout.contains("/var/lib/rpm/Packages"))
    }
}
