import ArgumentParser
import Foundation
import Pipeline
import UpdateEngine

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

    @Option(name: .long, help: ArgumentHelp("Seconds an appliance may take to start before it is stopped (default: 60 + 2 per drive under KVM, 300 + 6 per drive under TCG).", valueName: "seconds"))
    var launchTimeout: Double?

    func validate() throws {
        if images.isEmpty && root.isEmpty { throw ValidationError("Name at least one image or --root directory.") }
        if maxDrives < 1 || maxDrives > 255 { throw ValidationError("--max-drives must be between 1 and 255.") }
        if let t = launchTimeout, !(t > 0 && t <= 86_400) { throw ValidationError("--launch-timeout must be more than 0 and at most 86400 seconds.") }
    }

    var sources: [MachineSource] { root.map(MachineSource.root) + images.map(MachineSource.image) }

    func pipelineOptions(fullInspection: Bool = false, verbose: Bool) -> PipelineOptions {
        var options = PipelineOptions()
        options.inspect.allowBackingFile = allowBackingFile
        options.inspect.fullInspection = fullInspection
        options.inspect.maxDrivesPerAppliance = maxDrives
        options.inspect.launchTimeLimit = launchTimeout
        options.inspect.applianceCacheDirectory = Paths.applianceCacheDirectory
        options.inspect.stateDirectory = Paths.cacheDirectory
        options.inspect.verbose = verbose
        return options
    }
}

/// Diagnostics on stderr: `error: …` and `warning: …` lines, one each. (Escaping control characters that come
/// from a guest or a server is still to do: issue 12.)
enum DiagnosticOutput {
    static func write(_ diagnostics: [Diagnostic], minimum: Diagnostic.Severity = .error) {
        for d in diagnostics where d.severity >= minimum {
            FileHandle.standardError.write(Data("\(d.severity.rawValue): \(TerminalText.cut(TerminalText.escaped("\(d)")))\n".utf8))
        }
    }
}
