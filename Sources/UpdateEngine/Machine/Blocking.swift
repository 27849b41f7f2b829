import Foundation

/// Runs blocking work (file reads through a machine, appliance calls) on a thread of its own, never on the
/// cooperative pool, and returns its result.
public func runOnOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
