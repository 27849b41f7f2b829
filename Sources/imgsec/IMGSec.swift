import ArgumentParser
import Foundation
import Logging

struct IMGSec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgsec",
        abstract: "Finds outdated and vulnerable packages in dormant Linux VM disk images, without booting them.",
        discussion: """
        Exit codes: 0 success; 1 something failed (each failing image or repository is one line on stderr, \
        the others are still reported); 64 usage error.
        """,
        subcommands: [InspectCommand.self, RegisterCommand.self, CheckCommand.self, ScanCommand.self, SweepCommand.self, GateCommand.self, LibvirtHookCommand.self, WhyCommand.self, MachinesCommand.self, VersionCommand.self])
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "More log output on stderr (repeat for debug).")
    var verbose: Int

    @Flag(name: .shortAndLong, help: "Only errors on stderr.")
    var quiet = false

    var settings: LogSettings { LogSettings(verbose: verbose, quiet: quiet) }

    func bootstrapLogging() -> Logger { settings.bootstrapLogging() }
}

/// How much is logged on stderr: the values of ``GlobalOptions``.
struct LogSettings: Equatable {
    var verbose = 0
    var quiet = false

    /// Sets up swift-log once: logs go to stderr, results to stdout.
    func bootstrapLogging() -> Logger {
        let level: Logger.Level = quiet ? .error : verbose >= 2 ? .trace : verbose == 1 ? .debug : .notice
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "imgsec")
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// Where imgsec keeps state: `$XDG_CACHE_HOME/imgsec` (or `~/.cache/imgsec`), `IMGSEC_CACHE_DIR` to override.
enum Paths {
    static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["IMGSEC_CACHE_DIR"], !dir.isEmpty { return dir }
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (homeDirectory + "/.cache")
        return base + "/imgsec"
    }

    /// `$HOME`, else the password database's entry (which costs a read of nsswitch.conf and /etc/passwd).
    static var homeDirectory: String {
        ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    }

    /// libguestfs's appliance cache: `LIBGUESTFS_CACHEDIR`, else `/var/tmp` (libguestfs's own default, where
    /// `scripts/setup.sh` prepares it).
    static var applianceCacheDirectory: String {
        ProcessInfo.processInfo.environment["LIBGUESTFS_CACHEDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/tmp"
    }
}
