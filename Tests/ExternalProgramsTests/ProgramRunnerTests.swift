import ExternalPrograms
import Foundation
import Testing

/// Processes whose command line is exactly `words` (read from /proc).
private func processes(withCommandLine words: [String]) -> [Int32] {
    let wanted = Array(words.joined(separator: "\0").utf8) + [0]
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return Array(data) == wanted
    }
}

/// A time limit that only a hung program reaches. Other suites of the same run block threads of the cooperative
/// pool (measured here: for up to 86 s), so a short limit can pass before the runner reads a program's output.
private let generous: Duration = .seconds(600)

/// The error `body` threw, or nil when it returned.
private func failure(_ body: () async throws -> Void) async -> ProgramError? {
    do { try await body(); return nil } catch { return error as? ProgramError }
}

@Suite struct ProgramRunnerTests {
    @Test func aProgramGetsItsArgumentsAsTheyAreAndNoShellInterpretsThem() async throws {
        let out = try await ProgramRunner.run(ExternalProgram("/bin/echo", ["$HOME", "a;b", "*"], timeLimit: generous))
        #expect(out.succeeded)
        #expect(out.standardOutputText == "$HOME a;b *\n")
    }

    @Test func aProgramSeesOnlyTheEnvironmentItIsGiven() async throws {
        let out = try await ProgramRunner.run(ExternalProgram("/usr/bin/env", [], environment: ["LC_ALL": "C", "ONLY": "this"], timeLimit: generous))
        let lines = Set(out.standardOutputText.split(separator: "\n").map(String.init))
        #expect(lines == ["LC_ALL=C", "ONLY=this"])
    }

    @Test func inputIsWrittenToStdinAndStderrIsKeptApart() async throws {
        let out = try await ProgramRunner.run(ExternalProgram("/bin/cat", ["-", "/nonexistent-imgsec-file"], input: Array("from stdin\n".utf8), timeLimit: generous))
        #expect(out.standardOutputText == "from stdin\n")
        #expect(out.status == .exited(1))
        #expect(out.firstErrorLine?.contains("/nonexistent-imgsec-file") == true)
    }

    @Test func aProgramKilledByASignalSaysWhichSignal() async throws {
        let out = try await ProgramRunner.run(ExternalProgram("/usr/bin/python3", ["-c", "import os; os.kill(os.getpid(), 9)"], timeLimit: generous))
        #expect(out.status == .signalled(9))
        #expect(!out.succeeded)
    }

    @Test func aProgramThatRunsPastItsTimeLimitIsStoppedAndGone() async throws {
        let words = ["/bin/sleep", "987.25"]
        let started = ContinuousClock.now
        let error = await failure { _ = try await ProgramRunner.run(ExternalProgram(words[0], [words[1]], timeLimit: .milliseconds(300))) }
        #expect(error?.code == .timedOut)
        #expect(error?.description.contains("sleep did not finish") == true)
        // Far less than the program's 987 s, with room for a test run whose other suites keep every
        // thread of the cooperative pool busy (measured here: up to 67 s).
        #expect(ContinuousClock.now - started < .seconds(240))
        #expect(processes(withCommandLine: words).isEmpty)
    }

    @Test func aProgramThatIgnoresSIGTERMIsStillStopped() async throws {
        let script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"
        let words = ["/usr/bin/python3", "-c", script]
        let error = await failure {
            _ = try await ProgramRunner.run(ExternalProgram(words[0], Array(words.dropFirst()), timeLimit: .milliseconds(500)))
        }
        #expect(error?.code == .timedOut)
        #expect(processes(withCommandLine: words).isEmpty)
    }

    @Test func outputBeyondTheLimitIsAnErrorNotUnboundedMemory() async throws {
        let error = await failure {
            _ = try await ProgramRunner.run(ExternalProgram("/usr/bin/yes", [], timeLimit: generous, outputLimit: 64 << 10))
        }
        #expect(error?.code == .outputLimitExceeded)
        #expect(processes(withCommandLine: ["/usr/bin/yes"]).isEmpty)
    }

    @Test func aMissingProgramOrARelativePathIsNotFound() async throws {
        for path in ["/nonexistent/gpgv", "gpgv"] {
            let error = await failure { _ = try await ProgramRunner.run(ExternalProgram(path, [], timeLimit: generous)) }
            #expect(error?.code == .notFound)
        }
    }

    @Test func aWatchedProgramIsStoppedAsSoonAsWhatItPrintedIsEnough() async throws {
        let script = "import time; print('booting', flush=True); time.sleep(0.2); print('Linux version 6', flush=True); time.sleep(600)"
        let words = ["/usr/bin/python3", "-c", script]
        let started = ContinuousClock.now
        let seen = try await ProgramRunner.watch(ExternalProgram(words[0], Array(words.dropFirst()), timeLimit: generous)) {
            String(decoding: $0, as: UTF8.self).contains("Linux version")
        }
        #expect(seen.map { String(decoding: $0, as: UTF8.self) }?.contains("booting") == true)
        #expect(ContinuousClock.now - started < .seconds(240), "the watched program ran on after it printed the banner")
        #expect(processes(withCommandLine: words).isEmpty)
    }

    @Test func aWatchedProgramThatNeverPrintsWhatIsAwaitedRunsIntoItsTimeLimit() async throws {
        let error = await failure {
            _ = try await ProgramRunner.watch(ExternalProgram("/bin/sleep", ["30"], timeLimit: .milliseconds(300))) { _ in false }
        }
        #expect(error?.code == .timedOut)
        let ended = try await ProgramRunner.watch(ExternalProgram("/bin/echo", ["nothing here"], timeLimit: generous)) {
            String(decoding: $0, as: UTF8.self).contains("Linux version")
        }
        #expect(ended == nil)
    }
}
