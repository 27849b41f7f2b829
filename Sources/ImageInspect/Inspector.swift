import Foundation
import Logging
import UpdateEngine

/// How images are inspected.
public struct InspectOptions: Sendable {
    /// Follow a qcow2/vmdk backing chain (only when it stays inside the image's own directory).
    public var allowBackingFile = false
    /// Use libguestfs's full OS inspection (`guestfs_inspect_os`, 10–14 s per image under TCG) instead
    /// of the cheap probe (partitions, filesystem types, the files that identify an OS).
    public var fullInspection = false
    /// Most drives one appliance gets (libguestfs's limit is 255).
    public var maxDrivesPerAppliance = 40
    /// How many appliances run at once; default: one per core.
    public var parallelAppliances = ProcessInfo.processInfo.activeProcessorCount
    /// The time limit for starting one appliance; nil chooses from the accelerator and the drive count.
    public var launchTimeLimit: Double? = nil
    /// The time limit for inspecting one image once its appliance runs.
    public var imageTimeLimit: Double = 600
    /// Where libguestfs keeps its appliance (`guestfs_set_cachedir`).
    public var applianceCacheDirectory = "/var/tmp"
    /// Where each appliance's private temporary directory (its overlays) is made and removed again.
    public var temporaryDirectory = NSTemporaryDirectory()
    /// Where imgsec remembers whether KVM works here.
    public var stateDirectory = NSTemporaryDirectory()
    /// The accelerator to use; nil probes (see ``AcceleratorProbe``).
    public var accelerator: Accelerator? = nil
    /// What is read from each machine (images and root directories), with its size caps.
    public var collector = Collector()
    /// libguestfs debug output on stderr.
    public var verbose = false

    public init() {}
}

/// One operating system found in an image, with its files copied out.
public struct InspectedMachine: Sendable {
    /// The image path.
    public var image: String
    public var format: DiskFormat
    public var facts: OSFacts
    public var collected: Collector.Result
    /// Remarks worth showing (several roots, a filesystem that could not be mounted, …).
    public var notes: [String]
}

/// What became of one image: its machines, or one error naming it.
public struct ImageOutcome: Sendable {
    public var image: String
    public var machines: [InspectedMachine]
    public var error: ImageInspectError?
}

/// Inspects disk images read-only through libguestfs, many drives per appliance launch, several
/// appliances in parallel, with a time limit on every appliance operation.
public struct Inspector: Sendable {
    public var options: InspectOptions
    public var logger: Logger

    public init(options: InspectOptions = InspectOptions(), logger: Logger) {
        self.options = options
        self.logger = logger
    }

    struct Item: Sendable {
        var index: Int
        var path: String
        var header: ImageHeader
    }

    /// Inspects every image; the outcomes come back in the order of `paths`. One bad image is one error
    /// in its outcome; the others are still inspected.
    public func inspect(_ paths: [String]) async -> [ImageOutcome] {
        var outcomes: [ImageOutcome?] = Array(repeating: nil, count: paths.count)
        var accepted: [Item] = []
        for (index, path) in paths.enumerated() {
            do {
                let header = try ImageProbe.header(of: path)
                if let backing = header.backingFile {
                    guard options.allowBackingFile else {
                        throw ImageInspectError(.backingFile, image: path,
                            "has a backing file (\(backing)); pass --allow-backing-file to inspect it (only chains that stay inside the image's directory are followed).")
                    }
                    _ = try ImageProbe.checkBackingChain(of: path, header: header)
                }
                accepted.append(Item(index: index, path: path, header: header))
            } catch let error as ImageInspectError {
                outcomes[index] = ImageOutcome(image: path, machines: [], error: error)
            } catch {
                outcomes[index] = ImageOutcome(image: path, machines: [], error: ImageInspectError(.unreadable, image: path, "\(error)"))
            }
        }
        if !accepted.isEmpty {
            let accel: Accelerator
            if let chosen = options.accelerator {
                accel = chosen
            } else {
                accel = await AcceleratorProbe(cacheDirectory: options.stateDirectory)
                    .choose(environment: ProcessInfo.processInfo.environment, logger: logger)
            }
            let batches = Self.plan(accepted, parallel: options.parallelAppliances, maxDrives: options.maxDrivesPerAppliance)
            logger.info("inspecting images", metadata: ["images": "\(accepted.count)", "appliances": "\(batches.count)", "accel": "\(accel.rawValue)"])
            await withTaskGroup(of: [(Int, ImageOutcome)].self) { group in
                for batch in batches {
                    group.addTask { await runOnOwnThread { self.inspectBatch(batch, accel: accel) } }
                }
                for await results in group {
                    for (index, outcome) in results { outcomes[index] = outcome }
                }
            }
        }
        return outcomes.enumerated().map { index, outcome in
            outcome ?? ImageOutcome(image: paths[index], machines: [],
                                    error: ImageInspectError(.applianceFailed, image: paths[index], "was not inspected (internal error)."))
        }
    }

    /// Splits images into appliance batches: no more appliances than cores, at least 4 images per
    /// appliance before a second one starts (a launch costs as much as ~10 extra drives), and at most
    /// `maxDrives` drives each.
    static func plan(_ items: [Item], parallel: Int, maxDrives: Int) -> [[Item]] {
        guard !items.isEmpty else { return [] }
        let byDrives = (items.count + maxDrives - 1) / max(1, maxDrives)
        let byCores = min(max(1, parallel), (items.count + 3) / 4)
        let count = max(byDrives, byCores)
        var batches = Array(repeating: [Item](), count: count)
        for (i, item) in items.enumerated() { batches[i % count].append(item) }
        return batches
    }

    // MARK: One appliance

    func inspectBatch(_ batch: [Item], accel: Accelerator) -> [(Int, ImageOutcome)] {
        let names = batch.map(\.path)
        let started = Date()
        let guestfs: Guestfs
        do {
            guestfs = try launch(batch, accel: accel)
        } catch let error as ImageInspectError where batch.count > 1 && error.code == .applianceFailed {
            // One drive qemu refuses fails the whole launch: split, so the others are still inspected.
            logger.warning("appliance launch failed for a batch; retrying in halves", metadata: ["error": "\(error.detail)"])
            let half = batch.count / 2
            return inspectBatch(Array(batch[..<half]), accel: accel) + inspectBatch(Array(batch[half...]), accel: accel)
        } catch {
            let failure = error as? ImageInspectError
            return batch.map { item in
                (item.index, ImageOutcome(image: item.path, machines: [],
                    error: ImageInspectError(failure?.code ?? .applianceFailed, image: item.path, failure?.detail ?? "\(error)")))
            }
        }
        logger.info("appliance running", metadata: ["drives": "\(batch.count)", "launch.seconds": "\(String(format: "%.1f", Date().timeIntervalSince(started)))"])
        defer { try? guestfs.shutdown() }

        var results: [(Int, ImageOutcome)] = []
        var stopped: String? = nil
        do {
            let devices = try guestfs.listDevices()
            let layout = DiskLayout(guestfs: guestfs)
            let fullRoots: [String]? = options.fullInspection
                ? try Watchdog.run(seconds: options.imageTimeLimit * Double(batch.count), image: names.joined(separator: ", "),
                                   what: "guestfs_inspect_os", kill: killer(guestfs)) { try guestfs.inspectOS() }
                : nil
            for (k, item) in batch.enumerated() {
                if let stopped {
                    results.append((item.index, ImageOutcome(image: item.path, machines: [],
                        error: ImageInspectError(.applianceFailed, image: item.path, "was not inspected: the appliance was stopped after \(stopped) timed out."))))
                    continue
                }
                let device = k < devices.count ? devices[k] : "/dev/sd?"
                let begun = Date()
                do {
                    let machines = try Watchdog.run(seconds: options.imageTimeLimit, image: item.path, what: "inspection",
                                                    kill: killer(guestfs)) {
                        try inspectImage(item, device: device, guestfs: guestfs, layout: layout, fullRoots: fullRoots)
                    }
                    results.append((item.index, ImageOutcome(image: item.path, machines: machines, error: nil)))
                } catch let error as ImageInspectError {
                    if error.code == .timeout { stopped = item.path }
                    results.append((item.index, ImageOutcome(image: item.path, machines: [], error: error)))
                } catch {
                    results.append((item.index, ImageOutcome(image: item.path, machines: [],
                        error: ImageInspectError(.readFailed, image: item.path, "\(error)"))))
                }
                logger.debug("image inspected", metadata: ["image.path": "\(item.path)", "seconds": "\(String(format: "%.1f", Date().timeIntervalSince(begun)))"])
            }
        } catch {
            let done = Set(results.map(\.0))
            for item in batch where !done.contains(item.index) {
                results.append((item.index, ImageOutcome(image: item.path, machines: [],
                    error: (error as? ImageInspectError) ?? ImageInspectError(.applianceFailed, image: item.path, "\(error)"))))
            }
        }
        return results
    }

    private func killer(_ guestfs: Guestfs) -> @Sendable () -> Void {
        { let pid = guestfs.qemuPID.load(ordering: .relaxed); if pid > 0 { kill(pid, SIGKILL) } }
    }

    /// Creates a handle, adds every drive read-only with its format, and launches under a time limit.
    /// A launch under KVM that overruns is remembered, and retried under TCG.
    func launch(_ batch: [Item], accel: Accelerator) throws -> Guestfs {
        let names = batch.map(\.path).joined(separator: ", ")
        let guestfs: Guestfs
        do {
            guestfs = try Guestfs(temporaryParent: options.temporaryDirectory)
            try guestfs.setBackend("direct")
            try guestfs.setCacheDirectory(options.applianceCacheDirectory)
            try guestfs.disableNetwork()
            if options.verbose { try guestfs.setVerbose(true) }
            if accel == .tcg { try guestfs.setBackendSetting("force_tcg", "1") }
            for item in batch { try guestfs.addDriveReadOnly(item.path, format: item.header.format.rawValue) }
        } catch let error as GuestfsError {
            throw ImageInspectError(.applianceFailed, image: names, "cannot be prepared for inspection: \(error.message)")
        }
        let drives = Double(batch.count)
        let defaultLimit: Double = accel == .kvm ? 60 + 2 * drives : 300 + 6 * drives
        let limit: Double = options.launchTimeLimit ?? defaultLimit
        do {
            try Watchdog.run(seconds: limit, image: names, what: "appliance launch",
                             kill: { [directory = guestfs.temporaryDirectory] in Watchdog.killChildren(using: directory) }) { try guestfs.launch() }
            return guestfs
        } catch let error as ImageInspectError where error.code == .timeout && accel == .kvm {
            logger.notice("the appliance did not start under KVM within \(Int(limit)) s; falling back to TCG and remembering it")
            AcceleratorProbe(cacheDirectory: options.stateDirectory).remember(.tcg)
            return try launch(batch, accel: .tcg)
        } catch let error as GuestfsError {
            throw ImageInspectError(.applianceFailed, image: names, "cannot be opened by the libguestfs appliance: \(error.message)")
        }
    }
}
