import ArgumentParser
import Foundation
import ImageInspect
import Pipeline
import UpdateEngine

/// What `inspect`, `register` and `scan` read: disk images (read-only through libguestfs, batched) and
/// machine root directories.
struct MachineSources: ParsableArguments {
    @Argument(help: "Disk images (qcow2, raw, monolithic vmdk).")
    var images: [String] = []

    @Option(name: .long, help: "A machine's root directory (a debootstrap tree, a mounted filesystem). Repeatable.")
    var root: [String] = []

    @OptionGroup var inspection: InspectionOptions

    func validate() throws {
        if images.isEmpty && root.isEmpty { throw ValidationError("Name at least one image or --root directory.") }
    }

    var sources: [MachineSource] { root.map(MachineSource.root) + images.map(MachineSource.image) }

    func pipelineOptions(fullInspection: Bool = false, verbose: Bool) -> PipelineOptions {
        inspection.pipelineOptions(fullInspection: fullInspection, verbose: verbose)
    }
}

/// How images are opened: every command that opens images takes these.
struct InspectionOptions: ParsableArguments {
    @Flag(name: .long, help: "Follow a qcow2 backing file, if the whole chain stays inside the image's directory.")
    var allowBackingFile = false

    @Option(name: .long, help: "Most drives per appliance launch (1–255).")
    var maxDrives: Int = 40

    @Option(name: .long, help: ArgumentHelp("Seconds an appliance may take to start before it is stopped (default: 60 + 2 per drive under KVM, 300 + 6 per drive under TCG).", valueName: "seconds"))
    var launchTimeout: Double?

    @Option(name: .long, help: ArgumentHelp("Seconds one image may take once its appliance runs (mounting, reading its files).", valueName: "seconds"))
    var imageTimeout: Double = InspectOptions().imageTimeLimit

    @Option(name: .long, help: ArgumentHelp("Largest configuration file read from a guest (os-release, apt and yum/dnf files): bytes, or with K, M, G.", valueName: "size"))
    var maxGuestFileSize: String = "\(Collector.Limits().config >> 20)M"

    func validate() throws {
        if maxDrives < 1 || maxDrives > 255 { throw ValidationError("--max-drives must be between 1 and 255.") }
        if let t = launchTimeout { try Limits.checkSeconds(t, "--launch-timeout") }
        try Limits.checkSeconds(imageTimeout, "--image-timeout")
        _ = try Limits.bytes(maxGuestFileSize, "--max-guest-file-size")
    }

    func pipelineOptions(fullInspection: Bool = false, verbose: Bool) -> PipelineOptions {
        var options = PipelineOptions()
        options.inspect.allowBackingFile = allowBackingFile
        options.inspect.fullInspection = fullInspection
        options.inspect.maxDrivesPerAppliance = maxDrives
        options.inspect.launchTimeLimit = launchTimeout
        options.inspect.imageTimeLimit = imageTimeout
        // Validated in validate().
        options.inspect.collector.limits.config = (try? Limits.bytes(maxGuestFileSize, "--max-guest-file-size")) ?? options.inspect.collector.limits.config
        options.inspect.applianceCacheDirectory = Paths.applianceCacheDirectory
        options.inspect.stateDirectory = Paths.cacheDirectory
        options.inspect.verbose = verbose
        return options
    }
}

/// Diagnostics on stderr: `error: …` and `warning: …` lines, one each, guest text escaped and cut (``TerminalText``).
enum DiagnosticOutput {
    static func write(_ diagnostics: [Diagnostic], minimum: Diagnostic.Severity = .error) {
        for d in diagnostics where d.severity >= minimum {
            FileHandle.standardError.write(Data("\(d.severity.rawValue): \(TerminalText.cut(TerminalText.escaped("\(d)")))\n".utf8))
        }
    }
}

/// The command-line forms of imgsec's limits.
enum Limits {
    /// A time limit: more than 0 and at most a day.
    static func checkSeconds(_ value: Double, _ option: String) throws {
        guard value > 0 && value <= 86_400 else { throw ValidationError("\(option) must be more than 0 and at most 86400 seconds.") }
    }

    /// A size: bytes, or a number with K, M or G (powers of 1024); at least 1 KiB, at most 64 GiB.
    static func bytes(_ text: String, _ option: String) throws -> Int {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(text)
        var factor = 1
        if let last = digits.last?.uppercased().first, let unit = units[last] { factor = unit; digits = digits.dropLast() }
        guard let n = Int(digits), n > 0, n <= (64 << 30) / factor, n * factor >= 1024 else {
            throw ValidationError("\(option) takes a size from 1K to 64G (bytes, or with K, M, G), not \(text).")
        }
        return n * factor
    }
}
