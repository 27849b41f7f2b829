import ArgumentParser
import Foundation
import UpdateEngine

extension VersionScheme: ExpressibleByArgument {}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Version arithmetic exactly as dpkg and rpm do it.",
        subcommands: [Compare.self])

    struct Compare: ParsableCommand {
        // Named here: ArgumentParser would otherwise derive the name from the type's name by reflection at every
        // start-up, ~1 ms of each process (the whole command tree is named before any argument is read).
        static let configuration = CommandConfiguration(
            commandName: "compare",
            abstract: "Compares two versions: prints <, = or >.",
            discussion: """
            With --batch, reads lines `A<TAB>B` from stdin and prints -1, 0 or 1 per line; a line with an invalid \
            version prints `error: …` and the run goes on. deb follows dpkg --compare-versions; rpm follows \
            rpm.labelCompare on [E:]V[-R].
            """)

        @Option(name: .long, help: "deb or rpm.")
        var scheme: VersionScheme

        @Flag(name: .long, help: "Read A<TAB>B lines from stdin.")
        var batch = false

        @Argument(help: "The two versions (without --batch).")
        var versions: [String] = []

        func validate() throws {
            if batch && !versions.isEmpty { throw ValidationError("--batch reads stdin; give no versions.") }
            if !batch && versions.count != 2 { throw ValidationError("Give exactly two versions, or --batch.") }
        }

        func run() throws {
            if batch {
                let stdin = FileHandle.standardInput
                var carry: [UInt8] = []
                var out: [UInt8] = []
                out.reserveCapacity(1 << 20)
                while true {
                    let chunk = stdin.readData(ofLength: 4 << 20)
                    if chunk.isEmpty { break }
                    carry += chunk
                    guard let lastNewline = carry.lastIndex(of: 0x0A) else { continue }
                    scheme.compareLines(Array(carry[...lastNewline]), into: &out)
                    carry.removeSubrange(...lastNewline)
                    FileHandle.standardOutput.write(Data(out))
                    out.removeAll(keepingCapacity: true)
                }
                if !carry.isEmpty { scheme.compareLines(carry, into: &out) }
                FileHandle.standardOutput.write(Data(out))
                return
            }
            let result = try scheme.compare(versions[0], versions[1])
            print(result < 0 ? "<" : result == 0 ? "=" : ">")
        }
    }
}
