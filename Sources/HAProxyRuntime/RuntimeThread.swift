import Basics
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One OS thread that runs, in order, the closures and Swift jobs given to it: a lane's socket work, and, as a
/// serial executor, the actor that hands it batches (the reconciler uses it as its executor).
///
/// When the reconciler runs on its lane's thread, a batch is planned, sent and its answers taken on the thread that
/// decided it, with no hand-off to wait for: a hand-off is a thread wake-up, and on a busy machine a wake-up can wait
/// milliseconds for a core. Work given from the thread itself runs inline (`isCurrent`).
///
/// The thread sleeps on a semaphore while there is nothing to run, and is only signalled when it sleeps. It exits
/// once its owner is gone and everything given to it has run.
public final class RuntimeThread: Sendable {
    private let core: Core
    /// The thread as a task executor: a separate object from the serial executor, so an actor's jobs run isolated to
    /// the thread only, and a task that merely visited the actor does not stay on the thread afterwards.
    private let tasks: TaskLane

    /// Starts the thread, named `name` (the first 15 bytes show in `top -H`).
    public init(name: String) {
        core = Core()
        tasks = TaskLane(core: core)
        let core = self.core
        if !DetachedThread.start(name: name, { core.loop() }) {
            // No thread to be had: a serial dispatch queue takes its place, which keeps order and never loses work.
            core.fallBack(to: DispatchQueue(label: name))
        }
    }

    deinit { core.stop() }

    /// True on this thread.
    public var isCurrent: Bool { core.isCurrent }

    /// Runs `work` on the thread after what is already queued.
    public func async(_ work: @escaping @Sendable () -> Void) { core.submit(.work(work)) }

    /// This thread as an actor's executor: `nonisolated var unownedExecutor` returns it.
    public var executor: UnownedSerialExecutor { core.asUnownedSerialExecutor() }

    /// This thread as a task executor (`Task(executorPreference:)`): nonisolated code of such a task runs here, so
    /// it meets an actor that uses `executor` without a thread hand-off.
    public var taskExecutor: any TaskExecutor { tasks }

    /// The state the thread shares with whoever gives it work; it outlives the `RuntimeThread` until the loop ends.
    final class Core: SerialExecutor, @unchecked Sendable {
        // @unchecked: `state` is behind its mutex, `wake` is a semaphore, `thread` an atomic.
        enum Item {
            case work(@Sendable () -> Void)
            case job(UnownedJob)
            case taskJob(UnownedJob, TaskLane)
        }
        struct State {
            var items: [Item] = []
            var sleeping = false
            var stopped = false
            var fallback: DispatchQueue?
        }
        private let state = Mutex(State())
        private let wake = DispatchSemaphore(value: 0)
        private let thread = Atomic<UInt>(0)

        var isCurrent: Bool { thread.load(ordering: .relaxed) == UInt(pthread_self()) }

        func enqueue(_ job: consuming ExecutorJob) { submit(.job(UnownedJob(job))) }

        func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

        func isSameExclusiveExecutionContext(other: Core) -> Bool { other === self }

        func checkIsolated() {
            if !isCurrent && state.withLock({ $0.fallback == nil }) {
                preconditionFailure("not on the runtime thread that owns this executor")
            }
        }

        func submit(_ item: Item) {
            let (signal, fallback) = state.withLock { s -> (Bool, DispatchQueue?) in
                if let q = s.fallback { return (false, q) }
                s.items.append(item)
                defer { s.sleeping = false }
                return (s.sleeping, nil)
            }
            if let fallback {
                fallback.async { self.run(item) }
            } else if signal {
                wake.signal()
            }
        }

        func fallBack(to queue: DispatchQueue) {
            state.withLock { $0.fallback = queue }
        }

        func stop() {
            let signal = state.withLock { s -> Bool in
                s.stopped = true
                defer { s.sleeping = false }
                return s.sleeping
            }
            if signal { wake.signal() }
        }

        private func run(_ item: Item) {
            switch item {
            case .work(let work): work()
            case .job(let job): job.runSynchronously(on: asUnownedSerialExecutor())
            case .taskJob(let job, let lane): job.runSynchronously(on: lane.asUnownedTaskExecutor())
            }
        }

        /// The thread's body: everything queued, in order, then sleep; ends when stopped with nothing left.
        func loop() {
            thread.store(UInt(pthread_self()), ordering: .relaxed)
            var batch: [Item] = []
            while true {
                let next = state.withLock { s -> Bool in
                    if s.items.isEmpty {
                        if s.stopped {
                            // Anything given after this runs on a serial queue, in order.
                            s.fallback = DispatchQueue(label: "discovery-bridge.runtime-thread.after-stop")
                            return false
                        }
                        s.sleeping = true
                        return true
                    }
                    swap(&batch, &s.items)
                    return true
                }
                if !next { break }
                if batch.isEmpty {
                    wake.wait()
                    continue
                }
                for item in batch { run(item) }
                batch.removeAll(keepingCapacity: true)
            }
            thread.store(0, ordering: .relaxed)
        }
    }
}

/// `RuntimeThread.taskExecutor`: jobs of tasks that prefer the thread, queued with the actor's jobs, in order.
final class TaskLane: TaskExecutor, @unchecked Sendable {
    // @unchecked: `core` is itself thread-safe and never changes.
    let core: RuntimeThread.Core

    init(core: RuntimeThread.Core) { self.core = core }

    func enqueue(_ job: consuming ExecutorJob) { core.submit(.taskJob(UnownedJob(job), self)) }
}
