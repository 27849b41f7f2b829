import ArgumentParser
import Foundation
import ImageInspect
import Logging
import UpdateEngine

/// A machine read from a root directory or found in an image, with its files collected.
struct ReadMachine {
    /// The image path (`path#/dev/sdaN` when the image holds several systems), or the root directory.
    var name: String
    var kind: MachineSourceKind
    var sourcePath: String
    var diskFormat: String?
    var facts: OSFacts
    var collected: Collector.Result
    var notes: [String]
}

/// What `inspect`, `register` and `scan` read: disk images (read-only through libguestfs, batched) and
/// machine root directories.
struct MachineSources: ParsableArguments {
    @Argument(help: "Disk images (qcow2, raw, monolithic vmdk).")
    var images: [String] = []

    @Option(name: .long, help: "A machine's root directory (a debootstrap tree, a mounted filesystem). Repeatable.")
    var root: [String] = []

    @Flag(name: .long, help: "Follow a qcow2 backing file, if the whole chain stays inside the image's directory.")
    var allowBackingFile = false

    @Option(name: .long, help: "Most drives per appliance launch (1–255).")
    var maxDrives: Int = 40

    func validate() throws {
        if images.isEmpty && root.isEmpty { throw ValidationError("Name at least one image or --root directory.") }
        if maxDrives < 1 || maxDrives > 255 { throw ValidationError("--max-drives must be between 1 and 255.") }
    }

    /// Reads every root and inspects every image; one error per source that failed, the others still read.
    func read(fullInspection: Bool = false, verbose: Bool, logger: Logger) async -> ([ReadMachine], [ReportError]) {
        var machines: [ReadMachine] = []
        var errors: [ReportError] = []
        for dir in root {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                errors.append(ReportError(source: dir, code: "missing", message: "\(dir): no such directory."))
                continue
            }
            let machine = DirectoryMachine(root: dir)
            let (collected, arch) = await runOnOwnThread { (Collector().collect(from: machine), ELFArchitecture.ofMachine(machine)) }
            machines.append(ReadMachine(name: machine.root, kind: .root, sourcePath: machine.root, diskFormat: nil,
                                        facts: collected.facts(arch: arch), collected: collected, notes: collected.diagnostics))
        }
        guard !images.isEmpty else { return (machines, errors) }
        var options = InspectOptions()
        options.allowBackingFile = allowBackingFile
        options.fullInspection = fullInspection
        options.maxDrivesPerAppliance = maxDrives
        options.applianceCacheDirectory = Paths.applianceCacheDirectory
        options.stateDirectory = Paths.cacheDirectory
        options.verbose = verbose
        for outcome in await Inspector(options: options, logger: logger).inspect(images) {
            if let error = outcome.error {
                errors.append(ReportError(source: outcome.image, code: error.code.rawValue, message: error.description))
            }
            for m in outcome.machines {
                let name = outcome.machines.count > 1 ? "\(m.image)#\(m.facts.rootDevice ?? "")" : m.image
                machines.append(ReadMachine(name: name, kind: .image, sourcePath: m.image, diskFormat: m.format.rawValue,
                                            facts: m.facts, collected: m.collected, notes: m.notes))
            }
        }
        return (machines, errors)
    }
}
