import Foundation
import Testing

private let libvirtInstalled = FileManager.default.isExecutableFile(atPath: "/usr/sbin/libvirtd")

/// A real libvirtd (scripts/private-libvirtd.sh: qemu:///system with a configuration of its own, no network)
/// with imgsec's qemu hook installed by scripts/install-libvirt-hook.sh, and a storage pool holding two images:
/// deb12 ("outdated": its sources name the security archive, which offers updates for it) and deb12-nosec
/// ("current": its sources name no security archive). Repositories are the frozen indexes served on 127.0.0.1.
@Suite(.enabled(if: (CLI.imagesAvailable && libvirtInstalled) || CLI.imagesRequired,
                "needs the test images and libvirtd (scripts/setup.sh, scripts/build-test-images.sh)"))
struct LibvirtCLITests {
    typealias JSON = [String: Any]

    static func virsh(_ arguments: [String], stdin: Data? = nil) async throws -> CLI.Result {
        try await CLI.run("/usr/bin/virsh", ["-c", "qemu:///system"] + arguments, stdin: stdin)
    }

    static func domainXML(_ name: String, disk: String) -> String {
        // Read-only disk: the started domain cannot write to the test image it links to.
        """
        <domain type='qemu'>
          <name>\(name)</name>
          <memory unit='MiB'>128</memory>
          <os><type arch='x86_64'>hvm</type></os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='\(disk)'/>
              <target dev='vda' bus='virtio'/>
              <readonly/>
            </disk>
          </devices>
        </domain>
        """
    }

    static func sha256(_ paths: [String]) async throws -> String {
        let run = try await CLI.run("/usr/bin/sha256sum", paths)
        try #require(run.status == 0, "\(run.stderr)")
        return run.stdout
    }

    @Test func aPoolIsSweptAndTheHookRefusesTheOutdatedDomainAndStartsTheCurrentOne() async throws {
        let mirror = try await CheckerEndToEndTests.Mirror(root: ImageScanEndToEndTests.frozen)
        let (origin, security) = try ImageScanEndToEndTests.origins()
        // Beside the test images (one filesystem): the pool's images are hard links to them.
        let id = UUID().uuidString.prefix(8)
        let work = (CLI.images as NSString).deletingLastPathComponent + "/imgsec-libvirt-\(id)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: work + "/pool", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: work + "/etc/hooks", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: work) }
        let outdated = work + "/pool/outdated.qcow2", current = work + "/pool/current.qcow2"
        for (from, to) in [("deb12.qcow2", outdated), ("deb12-nosec.qcow2", current)] {
            if link(CLI.images + "/" + from, to) != 0 { try fm.copyItem(atPath: CLI.images + "/" + from, toPath: to) }
        }
        let before = try await Self.sha256([outdated, current])
        let store = work + "/imgsec.sqlite"
        let options = ["--store", store, "--ignore-valid-until",
                       "--mirror", "\(origin)=\(mirror.base)/debian", "--mirror", "\(security)=\(mirror.base)/debian-security"]
        let env = ["IMGSEC_CACHE_DIR": work + "/cache"]

        // The hook, installed as a user would, with the options it will run with.
        let install = try await CLI.run("/bin/bash", [CLI.repository.path + "/scripts/install-libvirt-hook.sh", "--hooks-dir", work + "/etc/hooks",
                                                      "--imgsec", CLI.binary, "--"] + options)
        try #require(install.status == 0, "\(install.stderr)")
        let hook = try String(contentsOfFile: work + "/etc/hooks/qemu", encoding: .utf8)
        #expect(hook.contains("libvirt-hook") && hook.contains(store), "\(hook)")

        let started = try await CLI.run("/bin/bash", [CLI.repository.path + "/scripts/private-libvirtd.sh", work])
        try #require(started.status == 0, "\(started.stderr)")
        let pids = started.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        try #require(pids.count == 2, "\(started.stdout)")
        defer {
            // libvirtd may take seconds to shut down; then it is killed.
            for pid in pids { kill(pid, SIGTERM) }
            for pid in pids {
                for _ in 0..<100 where Self.alive(pid) { usleep(50_000) }
                if Self.alive(pid) { kill(pid, SIGKILL) }
            }
        }
        let networks = try await Self.virsh(["net-list", "--all", "--name"])
        #expect(networks.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "a libvirt network exists: \(networks.stdout)")

        let pool = "imgsec-test-\(id)"
        let created = try await Self.virsh(["pool-create-as", pool, "dir", "--target", work + "/pool"])
        try #require(created.status == 0, "\(created.stderr)")
        defer { _ = try? Self.blockingVirsh(["pool-destroy", pool]) }

        // The sweep from the pool: both volumes, as libvirt lists them, read in one appliance.
        let sweep = try await CLI.run(["sweep", "--pool", pool, "--connect", "qemu:///system", "--format", "json", "-v"] + options, environment: env)
        #expect(sweep.status == 100, "\(sweep.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: sweep.stdoutBytes) as? JSON, "\(sweep.stderr)")
        let rows = Dictionary(((json["images"] as? [JSON]) ?? []).map { (($0["image"] as? String) ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(Set(rows.keys) == [outdated, current], "\(rows.keys.sorted())")
        func counts(_ image: String) -> [String: Int] { ((rows[image]?["machines"] as? [JSON])?.first?["counts"] as? [String: Int]) ?? [:] }
        let securityUpdates = counts(outdated)["security"] ?? 0
        #expect(securityUpdates > 0, "\(counts(outdated))")
        #expect((counts(current)["security"] ?? 0) == 0, "\(counts(current))")

        // A pool libvirt does not have: one diagnostic naming the pools it has.
        let missing = try await CLI.run(["sweep", "--pool", "no-such-pool", "--store", store, "--format", "json"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no storage pool no-such-pool") && missing.stderr.contains(pool), "\(missing.stderr)")
        #expect(missing.stdout.contains("\"libvirt.failed\""), "\(missing.stdout)")

        // virsh start of the outdated domain is refused with the gate's reason in libvirt's error.
        try Self.domainXML("imgsec-outdated-\(id)", disk: outdated).write(toFile: work + "/outdated.xml", atomically: true, encoding: .utf8)
        try Self.domainXML("imgsec-current-\(id)", disk: current).write(toFile: work + "/current.xml", atomically: true, encoding: .utf8)
        let refused = try await Self.virsh(["create", work + "/outdated.xml"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("imgsec gate refused to start imgsec-outdated-\(id)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("outdated.qcow2: \(securityUpdates) security update"), "\(refused.stderr)")
        let listed = try await Self.virsh(["list", "--all", "--name"])
        #expect(!listed.stdout.contains("imgsec-outdated"), "\(listed.stdout)")

        // The current one starts (and is stopped at once).
        let allowed = try await Self.virsh(["create", work + "/current.xml"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        let running = try await Self.virsh(["domstate", "imgsec-current-\(id)"])
        #expect(running.stdout.contains("running"), "\(running.stdout) \(running.stderr)")
        _ = try await Self.virsh(["destroy", "imgsec-current-\(id)"])

        // gate: the same verdicts from the stored answers (no appliance), one line per image, exit 2.
        let notImage = CLI.images + "/notimage.img"
        let gate = try await CLI.run(["gate", outdated, current, notImage, "-v"] + options, environment: env)
        #expect(gate.status == 2, "\(gate.stdout)\(gate.stderr)")
        let lines = gate.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(gate.stdout)")
        #expect(lines.contains { $0.hasPrefix("FAIL") && $0.contains(outdated) && $0.contains("\(securityUpdates) security update") }, "\(gate.stdout)")
        #expect(lines.contains { $0.hasPrefix("PASS") && $0.contains(current) }, "\(gate.stdout)")
        #expect(lines.contains { $0.hasPrefix("UNDECIDED") && $0.contains(notImage) && $0.contains("image.not-an-image") }, "\(gate.stdout)")
        let cachedGate = try await CLI.run(["gate", outdated, current, "-v"] + options, environment: env)
        #expect(cachedGate.status == 2)
        #expect(!cachedGate.stderr.contains("inspecting images"), "\(cachedGate.stderr)")
        #expect(try await CLI.run(["gate", current] + options).status == 0)
        #expect(try await CLI.run(["gate", notImage] + options).status == 1)
        let currentTotal = ((rows[current]?["machines"] as? [JSON])?.first?["total"] as? Int) ?? -1
        #expect(try await CLI.run(["gate", current, "--fail-on", "updates"] + options).status == (currentTotal > 0 ? 2 : 0))
        // Debian's security archive gives no severity: every severity threshold counts the outdated image's updates.
        #expect(try await CLI.run(["gate", outdated, "--fail-on", "critical"] + options).status == 2)
        let usage = try await CLI.run(["gate", outdated, "--fail-on", "urgent"] + options)
        #expect(usage.status == 64 && usage.stderr.contains("--fail-on"), "\(usage.stderr)")

        // The hook itself: a disk it cannot read is refused, or allowed with --on-undecided allow; a CD-ROM is
        // left alone; any call but prepare begin is allowed without reading anything.
        let volumeDisk = Data("""
            <domain type='qemu'><name>v</name><devices>
            <disk type='volume' device='disk'><source pool='\(pool)' volume='current.qcow2'/><target dev='vdb'/></disk>
            <disk type='file' device='cdrom'><source file='/nonexistent.iso'/><target dev='hdc'/></disk>
            </devices></domain>
            """.utf8)
        let hookBinary = work + "/etc/hooks/qemu"
        let undecided = try await CLI.run(hookBinary, ["v", "prepare", "begin", "-"], stdin: volumeDisk)
        #expect(undecided.status == 1 && undecided.stderr.contains("libvirt.unsupported-disk") && undecided.stderr.contains("vdb"), "\(undecided.stderr)")
        let allowUndecided = try await CLI.run(CLI.binary, ["libvirt-hook", "--on-undecided", "allow"] + options + ["--", "v", "prepare", "begin", "-"], stdin: volumeDisk)
        #expect(allowUndecided.status == 0, "\(allowUndecided.stderr)")
        let cdrom = Data("<domain><name>c</name><devices><disk type='file' device='cdrom'><source file='/x.iso'/></disk></devices></domain>".utf8)
        #expect(try await CLI.run(hookBinary, ["c", "prepare", "begin", "-"], stdin: cdrom).status == 0)
        #expect(try await CLI.run(hookBinary, ["imgsec-outdated-\(id)", "started", "begin", "-"], stdin: Data(Self.domainXML("x", disk: outdated).utf8)).status == 0)

        // Nothing was written to the images.
        #expect(try await Self.sha256([outdated, current]) == before)
    }

    /// Running and not a zombie (a daemon's exit is reaped by whoever adopted it, maybe later).
    static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }

    static func blockingVirsh(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/virsh")
        p.arguments = ["-c", "qemu:///system"] + arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
    }
}
