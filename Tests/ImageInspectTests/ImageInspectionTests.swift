import Foundation
import Testing
@testable import ImageInspect
import UpdateEngine

/// Real images, real appliance: the answers must be the ones dpkg-query and rpm give for the same roots.
@Suite(.enabled(if: TestImages.enabled, "test images are built by scripts/build-test-images.sh"))
struct ImageInspectionTests {
    @Test(arguments: TestImages.good.keys.sorted())
    func eachImageListsExactlyThePackagesTheRealToolsReport(image: String) async throws {
        let run = await TestImages.quickRun.value
        let outcome = try #require(run.outcomes[image])
        #expect(outcome.error == nil, "\(outcome.error?.description ?? "")")
        let machine = try #require(outcome.machines.first)
        #expect(outcome.machines.count == 1)
        let golden = try #require(TestImages.good[image])
        let expected = try TestImages.expectedPackages(golden)
        #expect(!expected.isEmpty)
        let actual = TestImages.packageLines(machine.collected)
        #expect(actual == expected, "missing: \(Set(expected).subtracting(actual).sorted().prefix(5)) extra: \(Set(actual).subtracting(expected).sorted().prefix(5))")
    }

    @Test(arguments: TestImages.good.keys.sorted())
    func eachImageHasTheOSFactsOfItsRootFilesystem(image: String) async throws {
        let run = await TestImages.quickRun.value
        let machine = try #require(run.outcomes[image]?.machines.first)
        let os = try TestImages.expectedOS(try #require(TestImages.good[image]))
        #expect(machine.facts.distro == os["ID"])
        #expect(machine.facts.version == os["VERSION_ID"])
        #expect(machine.facts.arch == "x86_64")
        #expect(machine.facts.type == "linux")
        let format: PackageFormat = image.hasPrefix("deb") ? .deb : .rpm
        #expect(machine.facts.packageFormat == format)
        if format == .deb { #expect(machine.facts.hostname?.hasSuffix(os["VERSION_ID"] == "12" ? "bookworm" : "bullseye") == true) }
    }

    @Test func theLVMImageIsReadFromItsLogicalVolume() async throws {
        let machine = try #require(await TestImages.quickRun.value.outcomes["deb12-lvm.qcow2"]?.machines.first)
        #expect(machine.facts.rootDevice == "/dev/vgimgsec/root")
    }

    @Test func anImageWithTwoOperatingSystemsGivesOneMachineForEach() async throws {
        let outcome = try #require(await TestImages.quickRun.value.outcomes["two-roots.qcow2"])
        #expect(outcome.error == nil)
        #expect(outcome.machines.map(\.facts.distro) == ["debian", "centos"])
        #expect(outcome.machines.map(\.facts.rootDevice) == ["/dev/sda1", "/dev/sda2"])
        #expect(TestImages.packageLines(try #require(outcome.machines.first).collected) == (try TestImages.expectedPackages("deb11")))
        #expect(TestImages.packageLines(try #require(outcome.machines.last).collected) == (try TestImages.expectedPackages("centos7")))
        #expect(outcome.machines.allSatisfy { $0.notes.contains { $0.contains("2 operating systems") } })
    }

    @Test(arguments: [
        ("luks.qcow2", ImageInspectError.Code.encrypted, "encrypted"),
        ("empty.qcow2", .noOperatingSystem, "no operating system"),
        ("backing.qcow2", .backingFile, "--allow-backing-file"),
        ("notimage.img", .notAnImage, "not a disk image"),
        ("missing.qcow2", .missing, "no such file"),
    ])
    func refusalsAreOneClearErrorAndTheBatchGoesOn(image: String, code: ImageInspectError.Code, words: String) async throws {
        let run = await TestImages.quickRun.value
        let outcome = try #require(run.outcomes[image])
        let error = try #require(outcome.error)
        #expect(error.code == code)
        #expect(error.description.hasPrefix(TestImages.path(image) + ": "))
        #expect(error.description.contains(words))
        #expect(!error.description.contains("\n"))
        #expect(outcome.machines.isEmpty)
        // The rest of the batch was inspected all the same.
        #expect(run.outcomes.values.filter { $0.error == nil }.count == TestImages.good.count + 1)
    }

    @Test func noImageChangesByteForByte() async throws {
        let run = await TestImages.quickRun.value
        #expect(run.before.count >= TestImages.good.count + 4)
        #expect(run.before == run.after)
    }

    @Test(arguments: ["deb12", "mariner", "centos7"])
    func aRootDirectoryGivesTheSamePackagesAsItsImage(name: String) async throws {
        let root = TestImages.path("rootfs-" + name)
        let machine = DirectoryMachine(root: root)
        let collected = Collector().collect(from: machine)
        let image = name == "centos7" ? "centos7.raw" : name + ".qcow2"
        let fromImage = try #require(await TestImages.quickRun.value.outcomes[image]?.machines.first)
        #expect(TestImages.packageLines(collected) == TestImages.packageLines(fromImage.collected))
        #expect(TestImages.packageLines(collected) == (try TestImages.expectedPackages(name)))
        let rootFacts = collected.facts(arch: ELFArchitecture.ofMachine(machine))
        #expect(rootFacts.distro == fromImage.facts.distro)
        #expect(rootFacts.version == fromImage.facts.version)
        #expect(MachineInventory(collected).repositories == MachineInventory(fromImage.collected).repositories)
    }

    @Test func fullInspectionAgreesWithTheQuickProbe() async throws {
        let full = await TestImages.fullRun.value
        let quick = await TestImages.quickRun.value
        for image in ["deb12.qcow2", "centos7.raw"] {
            let f = try #require(full[image]?.machines.first, "\(full[image]?.error?.description ?? "")")
            let q = try #require(quick.outcomes[image]?.machines.first)
            #expect(f.facts.distro == q.facts.distro)
            #expect(f.facts.majorVersion == q.facts.majorVersion)
            #expect(f.facts.arch == q.facts.arch)
            #expect(f.facts.packageFormat == q.facts.packageFormat)
            #expect(TestImages.packageLines(f.collected) == TestImages.packageLines(q.collected))
        }
        let deb = try #require(full["deb12.qcow2"]?.machines.first)
        #expect(deb.facts.packageManager == "apt")
        #expect(deb.facts.productName?.contains("12") == true)
    }

    @Test func aBackingChainInsideTheImageDirectoryIsFollowedWhenAllowed() async throws {
        let full = await TestImages.fullRun.value
        let machine = try #require(full["backing.qcow2"]?.machines.first, "\(full["backing.qcow2"]?.error?.description ?? "")")
        #expect(TestImages.packageLines(machine.collected) == (try TestImages.expectedPackages("deb12")))
    }

    @Test func anApplianceThatOverrunsItsLaunchTimeLimitIsStoppedWithAClearError() async throws {
        _ = await TestImages.fullRun.value
        // Bystanders whose command lines mention /tmp, the shared socket directory libguestfs reports as
        // root: one our own child, one not (a grandchild, through a shell). Neither may be touched.
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("imgsec-bystander-\(UUID().uuidString)").path
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        child.arguments = ["-c", "import time; time.sleep(600)", tmp, "/tmp", "/tmp/libguestfsXXXXXX/guestfsd.sock"]
        // Bystanders must not hold the test runner's output open: `swift test` waits for its end.
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "python3 -c 'import time; time.sleep(600)' /tmp/x & echo $!; wait", "sh"]
        let pidPipe = Pipe()
        shell.standardOutput = pidPipe
        shell.standardError = FileHandle.nullDevice
        try shell.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")), let byte = try pidPipe.fileHandleForReading.read(upToCount: 1), !byte.isEmpty { line += byte }
        let grandchild = try #require(Int32(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        defer {
            kill(child.processIdentifier, SIGKILL)
            kill(grandchild, SIGKILL)
            kill(shell.processIdentifier, SIGKILL)
        }
        var options = InspectOptions()
        options.launchTimeLimit = 1
        options.accelerator = .tcg
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("imgsec-launch-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        options.temporaryDirectory = parent
        let started = Date()
        let outcomes = await Inspector(options: options, logger: TestImages.logger).inspect([TestImages.path("deb12.qcow2")])
        let error = try #require(outcomes.first?.error)
        #expect(error.code == .timeout)
        #expect(error.description.contains("appliance launch did not finish within 1 s"))
        #expect(Date().timeIntervalSince(started) < 120, "the stuck launch was not stopped")
        #expect(child.isRunning, "a bystander child whose command line names /tmp was killed")
        #expect(shell.isRunning, "a bystander shell was killed")
        let state = (try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
        #expect(state != nil && state != "Z", "a bystander grandchild whose command line names /tmp was killed")
        #expect((try FileManager.default.contentsOfDirectory(atPath: parent)).isEmpty, "the handle's temporary directory was left behind")
        let qemus = Watchdog.children(of: getpid()).filter { pid in
            (FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0, as: UTF8.self) } ?? "").contains(parent)
        }
        #expect(qemus.isEmpty, "the appliance's qemu is still running")
    }

    @Test func onlyOwnChildrenAreListedAsChildren() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        defer { child.terminate() }
        let children = Watchdog.children(of: getpid())
        #expect(children.contains(child.processIdentifier))
        #expect(!children.contains(getppid()))
        #expect(!children.contains(1))
    }
}
