import Foundation
import Synchronization

/// Time limits for blocking appliance calls: when a call overruns, the appliance's qemu is killed,
/// which makes the blocked libguestfs call return with an error that is then reported as a timeout.
enum Watchdog {
    static func run<T>(seconds: Double, image: String, what: String,
                       kill: @escaping @Sendable () -> Void, _ body: () throws -> T) throws -> T {
        let fired = Atomic<Bool>(false)
        let item = DispatchWorkItem {
            fired.store(true, ordering: .sequentiallyConsistent)
            kill()
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
        defer { item.cancel() }
        do {
            let value = try body()
            if fired.load(ordering: .sequentiallyConsistent) { throw timeout(seconds, image, what) }
            return value
        } catch {
            if fired.load(ordering: .sequentiallyConsistent) { throw timeout(seconds, image, what) }
            throw error
        }
    }

    private static func timeout(_ seconds: Double, _ image: String, _ what: String) -> ImageInspectError {
        ImageInspectError(.timeout, image: image, "\(what) did not finish within \(Int(seconds)) s; the appliance was stopped.")
    }

    /// Kills every process whose command line contains `marker` (the handle's socket directory names
    /// its qemu before `guestfs_get_pid` can).
    static func killProcesses(mentioning marker: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let cmdline = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if cmdline.contains(marker) { Foundation.kill(pid, SIGKILL) }
        }
    }
}
