import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Threads of kb's own for blocking work (SQLite, BLAS, file parsing, external tools), so that it never
/// occupies Swift's cooperative thread pool, where it would stall every other task of the process.
///
/// `run` hands a synchronous body to one of the pool's threads and suspends the caller until it returns.
/// `executor` is the same pool as a `TaskExecutor`: `withTaskExecutorPreference(pool.executor) { … }` runs a
/// whole asynchronous job (an ingest) on these threads.
public final class BlockingPool: @unchecked Sendable {
    /// The pool the library uses: one thread per core, at least two (one slow call never starves the rest).
    public static let shared = BlockingPool(threads: max(2, ProcessInfo.processInfo.activeProcessorCount))

    /// Threads for bulk background work — embedding the passages of an ingest — at a lower scheduling priority
    /// (nice +10): they use every idle cycle, but searches and the user's other programs come first.
    public static let background = BlockingPool(threads: ProcessInfo.processInfo.activeProcessorCount, niceness: 10)

    /// Exactly one thread per core for CPU-bound work that never waits on other jobs (query embeddings): sixteen
    /// concurrent searches embed two at a time instead of sixteen threads thrashing two cores' caches.
    public static let compute = BlockingPool(threads: ProcessInfo.processInfo.activeProcessorCount,
                                             maximumThreads: ProcessInfo.processInfo.activeProcessorCount)

    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var head = 0
    private var idle = 0
    private var threadCount = 0
    private let minimumThreads: Int
    /// Threads are added while every thread is busy, up to this many (a job may block on another job's result).
    private let maximumThreads: Int

    /// Added to each thread's nice value when it starts (0: the process's priority).
    private let niceness: Int32

    /// A pool that keeps `threads` threads and grows while all are busy, up to `maximumThreads` (default 4 ×
    /// `threads`, at least 16: a job may block on another job's result).
    public init(threads: Int, maximumThreads: Int? = nil, niceness: Int32 = 0) {
        minimumThreads = max(1, threads)
        self.maximumThreads = max(minimumThreads, maximumThreads ?? max(16, 4 * minimumThreads))
        self.niceness = niceness
    }

    /// Runs `body(0)` … `body(iterations − 1)` on pool threads and waits for all of them (a blocking call, like
    /// `DispatchQueue.concurrentPerform`, for synchronous callers such as an embedder).
    public func perform(iterations: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard iterations > 0 else { return }
        let group = DispatchGroup()
        for index in 0..<iterations {
            group.enter()
            submit { body(index); group.leave() }
        }
        group.wait()
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
            let thread = Thread { [unowned self] in
                #if canImport(Glibc)
                // On Linux the nice value is per thread: lowering one's own priority needs no privilege.
                // (`who` 0 is the calling thread under NPTL; see setpriority(2), BUGS.)
                if niceness != 0 {
                    let which = __priority_which_t(PRIO_PROCESS.rawValue)
                    _ = setpriority(which, 0, getpriority(which, 0) + niceness)
                }
                #endif
                self.work()
            }
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
