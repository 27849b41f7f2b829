import ExternalPrograms
import Foundation
import Logging

/// How the libguestfs appliance runs qemu.
public enum Accelerator: String, Sendable, Codable {
    /// Hardware virtualisation through /dev/kvm.
    case kvm
    /// qemu's software emulation: slower, but runs everywhere.
    case tcg
}

/// Decides between KVM and TCG without ever hanging.
///
/// Where `/dev/kvm` exists but cannot run a guest (a nested or restricted host), libguestfs picks KVM
/// and waits forever for an appliance that never boots. A short probe boot of the host kernel under
/// KVM tells the two apart in a few seconds: a working KVM prints the kernel banner at once. The
/// verdict is remembered in the cache directory, per host kernel.
public struct AcceleratorProbe: Sendable {
    public var cacheDirectory: String
    /// How long the probe boot may take to print the kernel banner.
    public var probeTime: Double = 8

    public init(cacheDirectory: String) { self.cacheDirectory = cacheDirectory }

    /// `IMGSEC_ACCEL=kvm|tcg` forces a choice; otherwise the remembered verdict or a new probe.
    public func choose(environment: [String: String], logger: Logger) async -> Accelerator {
        if let forced = environment["IMGSEC_ACCEL"].flatMap(Accelerator.init(rawValue:)) {
            logger.debug("accelerator forced by IMGSEC_ACCEL", metadata: ["accel": "\(forced.rawValue)"])
            return forced
        }
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            logger.info("no usable /dev/kvm: the appliance runs under TCG software emulation")
            return .tcg
        }
        let verdictFile = cacheDirectory + "/imgsec-kvm-verdict-" + hostKernelRelease()
        if let saved = try? String(contentsOfFile: verdictFile, encoding: .utf8),
           let accel = Accelerator(rawValue: saved.trimmingCharacters(in: .whitespacesAndNewlines)) {
            if accel == .tcg { logger.info("KVM cannot run guests on this host (remembered in \(verdictFile)); using TCG") }
            return accel
        }
        let accel = await probe(logger: logger)
        remember(accel)
        return accel
    }

    /// Records a verdict, for instance after a launch under KVM ran into its time limit.
    public func remember(_ accel: Accelerator) {
        try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        try? accel.rawValue.write(toFile: cacheDirectory + "/imgsec-kvm-verdict-" + hostKernelRelease(),
                                  atomically: true, encoding: .utf8)
    }

    /// Boots the newest host kernel under KVM with no disk and watches its serial console (stdout) for the banner.
    func probe(logger: Logger) async -> Accelerator {
        guard let kernel = newestKernel() else {
            logger.info("no kernel in /boot to probe KVM with; using TCG")
            return .tcg
        }
        let qemu = ExternalProgram(
            "/usr/bin/qemu-system-x86_64",
            ["-accel", "kvm", "-display", "none", "-nodefaults", "-no-reboot", "-m", "256", "-serial", "stdio",
             "-kernel", kernel, "-append", "console=ttyS0 panic=-1 earlyprintk=ttyS0 quiet=0"],
            environment: ["LC_ALL": "C"], timeLimit: .milliseconds(Int64(probeTime * 1000)), outputLimit: 4 << 20)
        let started = ContinuousClock.now
        let booted: Bool
        do {
            booted = try await ProgramRunner.watch(qemu) { String(decoding: $0, as: UTF8.self).contains("Linux version") } != nil
        } catch {
            if error.code != .timedOut {
                logger.info("cannot run qemu to probe KVM (\(error)); using TCG")
                return .tcg
            }
            booted = false
        }
        let took = (ContinuousClock.now - started).components
        let seconds = String(format: "%.1f", Double(took.seconds) + Double(took.attoseconds) / 1e18)
        if booted {
            logger.info("KVM works on this host (probe boot printed the kernel banner in \(seconds) s)")
            return .kvm
        }
        logger.notice("/dev/kvm exists but cannot run a guest (a probe boot printed nothing in \(seconds) s); falling back to TCG software emulation")
        return .tcg
    }

    func newestKernel() -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []
        return names.filter { $0.hasPrefix("vmlinuz-") }.sorted().last.map { "/boot/" + $0 }
    }

    func hostKernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
