import ArgumentParser
import Foundation

/// The entry point. `imgsec check` answering from the result cache is meant to cost milliseconds as a whole
/// process (a sweep's, a gate's or a hook's question), and ArgumentParser's reflection over the command tree
/// cost more than a third of that: ~5 ms of runtime type lookups before the first option is read. So a plain
/// `check` command line is read by ``QuickStart`` into the same ``CheckRequest`` that ``CheckCommand`` builds;
/// every other command line, and any `check` line with a word the scanner does not know exactly (help, a typo,
/// `--opt=value`, combined short flags, a repeated flag, `--`), goes to ArgumentParser, which gives its usual
/// answer or diagnostic.
@main
enum Entry {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            if let request = QuickStart.checkRequest(arguments) {
                try await request.run(note: "command line read by the quick scanner, not ArgumentParser")
            } else {
                // What ArgumentParser's own `main` does, but for the exit status below.
                var command = try await IMGSec.asyncParseAsRoot(arguments)
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            }
        } catch let code as ExitCode {
            // A bare exit status (100: updates pending) carries no message; ArgumentParser's `exit(withError:)`
            // would lay out the command's whole help before finding that out (~3 ms of every such process).
            // C's exit flushes stdout as ArgumentParser's does.
            exit(code.rawValue)
        } catch {
            IMGSec.exit(withError: error)
        }
        IMGSec.exit()
    }
}

/// Reads `imgsec check …` command lines made only of words it knows exactly. Returns nil for anything else.
enum QuickStart {
    static func checkRequest(_ arguments: [String]) -> CheckRequest? {
        guard arguments.first == "check" else { return nil }
        var request = CheckRequest()
        var seen: Set<String> = []
        var words = arguments.dropFirst().makeIterator()
        /// A flag or single-value option given twice is left to ArgumentParser.
        func once(_ word: String) -> Bool { seen.insert(word).inserted }
        func value() -> String? {
            guard let v = words.next(), !v.hasPrefix("-") else { return nil }
            return v
        }
        while let word = words.next() {
            switch word {
            case "--all": guard once(word) else { return nil }; request.all = true
            case "--details": guard once(word) else { return nil }; request.details = true
            case "--refresh": guard once(word) else { return nil }; request.refresh = true
            case "--ignore-valid-until": guard once(word) else { return nil }; request.checker.ignoreValidUntil = true
            case "--offline": guard once(word) else { return nil }; request.checker.offline = true
            case "-q", "--quiet": guard once("--quiet") else { return nil }; request.log.quiet = true
            case "-v", "--verbose": request.log.verbose += 1
            case "--store": guard once(word), let v = value() else { return nil }; request.checker.store = v
            case "--repo-max-age": guard once(word), let v = value() else { return nil }; request.checker.repoMaxAge = v
            case "--mirror-file": guard once(word), let v = value() else { return nil }; request.checker.mirrorFile = v
            case "--mirror": guard let v = value() else { return nil }; request.checker.mirror.append(v)
            case "--format": guard once(word), let v = value(), let f = OutputFormat(rawValue: v) else { return nil }; request.format = f
            default:
                guard !word.hasPrefix("-") else { return nil }
                request.machines.append(word)
            }
        }
        // A line ArgumentParser would refuse is left to it, for its usage message.
        guard (try? request.validate()) != nil else { return nil }
        return request
    }
}
