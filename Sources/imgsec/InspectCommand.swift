import ArgumentParser
import Foundation
import ImageInspect
import Logging
import UpdateEngine

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Shows the OS, the installed packages, the repositories and the package files of images or root directories.",
        discussion: """
        Images (qcow2, raw, monolithic vmdk) are opened read-only through libguestfs, many per appliance. \
        A root directory (--root) is read directly. Nothing is ever written to an image.
        """)

    @Argument(help: "Disk images to inspect.")
    var images: [String] = []

    @Option(name: .long, help: "A machine's root directory (a debootstrap tree, a mounted filesystem). Repeatable.")
    var root: [String] = []

    @Option(name: .long, help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Flag(name: .long, help: "Follow a qcow2 backing file, if the whole chain stays inside the image's directory.")
    var allowBackingFile = false

    @Flag(name: .long, help: "Use libguestfs's full OS inspection (guestfs_inspect_os; slower) instead of the quick probe.")
    var inspectOS = false

    @Option(name: .long, help: "Most drives per appliance launch.")
    var maxDrives: Int = 40

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if images.isEmpty && root.isEmpty { throw ValidationError("Name at least one image or --root directory.") }
        if maxDrives < 1 || maxDrives > 255 { throw ValidationError("--max-drives must be between 1 and 255.") }
    }

    func run() async throws {
        let logger = global.bootstrapLogging()
        var reports: [MachineReport] = []
        var errors: [ReportError] = []

        for dir in root {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                errors.append(ReportError(source: dir, code: "missing", message: "\(dir): no such directory."))
                continue
            }
            let machine = DirectoryMachine(root: dir)
            let collected = await onThread { Collector().collect(from: machine) }
            let facts = collected.facts(arch: ELFArchitecture.ofMachine(machine))
            reports.append(MachineReport(source: dir, kind: "root", diskFormat: nil, facts: facts, collected: collected, notes: collected.diagnostics))
        }

        if !images.isEmpty {
            var options = InspectOptions()
            options.allowBackingFile = allowBackingFile
            options.fullInspection = inspectOS
            options.maxDrivesPerAppliance = maxDrives
            options.applianceCacheDirectory = Paths.applianceCacheDirectory
            options.stateDirectory = Paths.cacheDirectory
            options.verbose = global.verbose >= 3
            let outcomes = await Inspector(options: options, logger: logger).inspect(images)
            for outcome in outcomes {
                if let error = outcome.error {
                    errors.append(ReportError(source: outcome.image, code: error.code.rawValue, message: error.description))
                }
                for m in outcome.machines {
                    reports.append(MachineReport(source: m.image, kind: "image", diskFormat: m.format.rawValue, facts: m.facts,
                                                 collected: m.collected, notes: m.notes))
                }
            }
        }

        for error in errors { FileHandle.standardError.write(Data("error: \(error.message)\n".utf8)) }
        let output = InspectOutput(machines: reports.map(\.summary), errors: errors)
        switch format {
        case .json: print(try output.json())
        case .table: print(output.table(), terminator: "")
        }
        if !errors.isEmpty || reports.contains(where: { !$0.summary.errors.isEmpty }) { throw ExitCode.failure }
    }
}

/// Runs blocking file reads off the cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
