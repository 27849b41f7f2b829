import ArgumentParser
import Foundation
import Logging
import Pipeline
import UpdateEngine

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Shows the OS, the installed packages, the repositories and the package files of images or root directories.",
        discussion: """
        Images (qcow2, raw, monolithic vmdk) are opened read-only through libguestfs, many per appliance. \
        A root directory (--root) is read directly. Nothing is ever written to an image.
        """)

    @OptionGroup var sources: MachineSources

    @Option(name: .long, help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Flag(name: .long, help: "Use libguestfs's full OS inspection (guestfs_inspect_os; slower) instead of the quick probe.")
    var inspectOS = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = global.bootstrapLogging()
        let pipeline = MachinePipeline(options: sources.pipelineOptions(fullInspection: inspectOS, verbose: global.verbose >= 3), logger: logger)
        let read = await pipeline.read(sources.sources)
        DiagnosticOutput.write(read.failures)
        let summaries = read.machines.map(MachineSummary.init)
        let output = InspectOutput(machines: summaries, errors: read.failures)
        switch format {
        case .json: print(try output.json())
        case .table: printTable(output.table(), terminator: "")
        }
        if !read.failures.isEmpty || summaries.contains(where: { !$0.errors.isEmpty }) { throw ExitCode.failure }
    }
}
