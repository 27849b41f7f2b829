import Foundation
import Testing

/// `imgsec version compare` against the published vectors and against the real tools' own answers.
struct VersionCompareCLITests {
    /// python3-apt is installed, whatever the Python version its module was built for.
    static var hasAptPkg: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/python3/dist-packages")) ?? [])
            .contains { $0.hasPrefix("apt_pkg") && $0.hasSuffix(".so") }
    }

    static func vectors(_ relative: String) throws -> [(String, String, String)] {
        try String(contentsOfFile: CLI.fixture(relative), encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }
            .compactMap { line in
                let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                return f.count >= 3 ? (f[0], f[1], f[2]) : nil
            }
    }

    @Test(arguments: ["deb/dpkg_t-version.c.tsv", "deb/apt_compareversion_test.cc.tsv", "rpm/rpm_rpmvercmp.at.tsv"])
    func batchModeAnswersEveryPublishedVector(file: String) async throws {
        let rows = try Self.vectors("version-vectors/" + file)
        #expect(rows.count > 10)
        let scheme = file.hasPrefix("deb") ? "deb" : "rpm"
        let input = rows.map { "\($0.0)\t\($0.1)" }.joined(separator: "\n") + "\n"
        let result = try await CLI.run(["version", "compare", "--scheme", scheme, "--batch"], stdin: Data(input.utf8))
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(lines == rows.map(\.2))
    }

    @Test func singleComparisonsPrintTheRelation() async throws {
        #expect(try await CLI.run(["version", "compare", "--scheme", "deb", "1.0~rc1", "1.0"]).stdout == "<\n")
        #expect(try await CLI.run(["version", "compare", "--scheme", "deb", "1:0.9", "2.0"]).stdout == ">\n")
        #expect(try await CLI.run(["version", "compare", "--scheme", "rpm", "1.0^git1-1", "1.0-1"]).stdout == ">\n")
        #expect(try await CLI.run(["version", "compare", "--scheme", "rpm", "0:1.0-1", "1.0-1"]).stdout == "=\n")
    }

    @Test func anInvalidLineIsAnErrorAndTheBatchGoesOn() async throws {
        let result = try await CLI.run(["version", "compare", "--scheme", "deb", "--batch"], stdin: Data("1\t2\n1 0\t1\nno-tab\n3\t2\n".utf8))
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "-1")
        #expect(lines[1].hasPrefix("error: ") && lines[1].contains("embedded spaces"))
        #expect(lines[2].hasPrefix("error: "))
        #expect(lines[3] == "1")
        let single = try await CLI.run(["version", "compare", "--scheme", "deb", ":1", "1"])
        #expect(single.status == 1)
        #expect(single.stderr.contains("bad syntax"))
    }

    /// Real version strings from real Packages files, compared by imgsec and by apt's own implementation of
    /// dpkg's algorithm (python3-apt) — the expected answers come from the real tool, in one process.
    @Test(.enabled(if: Requirement.tool(Self.hasAptPkg), "needs python3-apt"))
    func batchModeAgreesWithAptPkgOnRealVersions() async throws {
        let pairs = try await realDebianPairs()
        #expect(pairs.count > 5000)
        let input = Data((pairs.map { "\($0.0)\t\($0.1)" }.joined(separator: "\n") + "\n").utf8)
        let ours = try await CLI.run(["version", "compare", "--scheme", "deb", "--batch"], stdin: input)
        let script = """
        import sys, apt_pkg
        apt_pkg.init_system()
        out = []
        for line in sys.stdin.read().split("\\n"):
            if not line: continue
            a, b = line.split("\\t")
            c = apt_pkg.version_compare(a, b)
            out.append("-1" if c < 0 else "1" if c > 0 else "0")
        print("\\n".join(out))
        """
        let oracle = try await CLI.run("/usr/bin/python3", ["-c", script], stdin: input)
        #expect(oracle.status == 0, "\(oracle.stderr)")
        #expect(ours.stdout == oracle.stdout)
    }

    /// The same with rpm's own `rpm.labelCompare` (python3-rpm) on real EVRs from rpm databases.
    @Test(.enabled(if: Requirement.tool(FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/rpm")), "needs python3-rpm"))
    func batchModeAgreesWithRpmLabelCompareOnRealVersions() async throws {
        var evrs: [String] = []
        let fm = FileManager.default
        let root = CLI.fixture("rpmdb")
        for case let path as String in fm.enumerator(atPath: root) ?? NSEnumerator() where path.hasSuffix("listed.rpm418.tsv") {
            for line in try String(contentsOfFile: root + "/" + path, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
                let f = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard f.count >= 4, f[0] != "gpg-pubkey" else { continue }
                evrs.append((f[1].isEmpty ? "" : f[1] + ":") + f[2] + "-" + f[3])
            }
        }
        evrs = Array(Set(evrs)).sorted()
        #expect(evrs.count > 500)
        var pairs: [(String, String)] = []
        for i in 0..<evrs.count { pairs.append((evrs[i], evrs[(i * 7919 + 13) % evrs.count])); if i + 1 < evrs.count { pairs.append((evrs[i], evrs[i + 1])) } }
        let input = Data((pairs.map { "\($0.0)\t\($0.1)" }.joined(separator: "\n") + "\n").utf8)
        let ours = try await CLI.run(["version", "compare", "--scheme", "rpm", "--batch"], stdin: input)
        let script = """
        import sys, rpm
        def evr(s):
            e, _, vr = s.rpartition(":") if ":" in s else ("", "", s)
            v, _, r = vr.rpartition("-")
            return (e or "0", v, r)
        out = []
        for line in sys.stdin.read().split("\\n"):
            if not line: continue
            a, b = line.split("\\t")
            c = rpm.labelCompare(evr(a), evr(b))
            out.append("-1" if c < 0 else "1" if c > 0 else "0")
        print("\\n".join(out))
        """
        let oracle = try await CLI.run("/usr/bin/python3", ["-c", script], stdin: input)
        #expect(oracle.status == 0, "\(oracle.stderr)")
        #expect(ours.stdout == oracle.stdout)
    }

    func realDebianPairs() async throws -> [(String, String)] {
        var versions: [String] = []
        let dir = CLI.fixture("version-vectors/deb/packages")
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where !name.hasSuffix(".md") {
            let path = dir + "/" + name
            let text: String
            if name.hasSuffix(".xz") {
                text = try await CLI.run("/usr/bin/xz", ["-dc", path]).stdout
            } else {
                text = try String(contentsOfFile: path, encoding: .utf8)
            }
            for line in text.split(separator: "\n") where line.hasPrefix("Version: ") {
                versions.append(String(line.dropFirst("Version: ".count)))
            }
        }
        let status = try String(contentsOfFile: CLI.fixture("dpkg-status/this-machine_debian-12.status"), encoding: .utf8)
        for line in status.split(separator: "\n") where line.hasPrefix("Version: ") { versions.append(String(line.dropFirst(9))) }
        versions = Array(Set(versions)).sorted()
        var pairs: [(String, String)] = []
        for i in 0..<versions.count {
            if i + 1 < versions.count { pairs.append((versions[i], versions[i + 1])) }
            for stride in [2, 3, 17, 101, 104_729, 7919] { pairs.append((versions[i], versions[(i * stride + 7) % versions.count])) }
            pairs.append((versions[(i * 31 + 3) % versions.count], versions[i]))
        }
        return pairs
    }
}
