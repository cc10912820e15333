import Foundation

/// Threads of kb's own for blocking work (SQLite, BLAS, file parsing, external tools), so that it never
/// occupies Swift's cooperative thread pool, where it would stall every other task of the process.
///
/// `run` hands a synchronous body to one of the pool's threads and suspends the caller until it returns.
/// `executor` is the same pool as a `TaskExecutor`: `withTaskExecutorPreference(pool.executor) { … }` runs a
/// whole asynchronous job (an ingest) on these threads.
public final class BlockingPool: @unchecked Sendable {
    /// The pool the library uses: one thread per core, at least two (one slow call never starves the rest).
    public static let shared = BlockingPool(threads: max(2, ProcessInfo.processInfo.activeProcessorCount))

    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var head = 0
    private var idle = 0
    private var threadCount = 0
    private let minimumThreads: Int
    /// Threads are added while every thread is busy, up to this many (a job may block on another job's result).
    private let maximumThreads: Int

    /// A pool that keeps `threads` threads and grows (up to 4 × `threads`, at least 16) while all are busy.
    public init(threads: Int) {
        minimumThreads = max(1, threads)
        maximumThreads = max(16, 4 * minimumThreads)
    }

    /// Runs `body` on a pool thread and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws(KBError) -> T) async throws(KBError) -> T {
        let result: Result<T, KBError> = await withCheckedContinuation { continuation in
            submit {
                do throws(KBError) { continuation.resume(returning: .success(try body())) } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Runs a body that cannot fail on a pool thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in submit { continuation.resume(returning: body()) } }
    }

    /// Queues `job` for a pool thread.
    func submit(_ job: @escaping () -> Void) {
        condition.lock()
        jobs.append(job)
        let start = idle == 0 && threadCount < maximumThreads
        if start { threadCount += 1 }
        condition.signal()
        condition.unlock()
        if start {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "kb.blocking"
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    private func work() {
        condition.lock()
        while true {
            while head == jobs.count {
                idle += 1
                let timedOut = !condition.wait(until: Date(timeIntervalSinceNow: 30))
                idle -= 1
                // Extra threads leave after 30 idle seconds; the minimum stays.
                if timedOut && head == jobs.count && threadCount > minimumThreads {
                    threadCount -= 1
                    condition.unlock()
                    return
                }
            }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count { jobs.removeFirst(head); head = 0 }
            condition.unlock()
            job()
            condition.lock()
        }
    }

    /// This pool as a task executor.
    public var executor: BlockingTaskExecutor { BlockingTaskExecutor(pool: self) }
}

/// Runs the jobs of tasks that prefer it on a ``BlockingPool``.
public final class BlockingTaskExecutor: TaskExecutor, @unchecked Sendable {
    let pool: BlockingPool

    init(pool: BlockingPool) { self.pool = pool }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        pool.submit { job.runSynchronously(on: executor) }
    }
}
