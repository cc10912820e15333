import Foundation
import KBCore

/// Watches the knowledge folders while the daemon runs and ingests changes in the background.
///
/// Every `interval` seconds it takes a cheap snapshot of the folders (file count, total size, newest
/// modification time, from `stat` only); when the snapshot changes and then stays the same for one more
/// interval (debouncing editors that write in several steps and copies in progress), it runs an incremental
/// ingest on kb's blocking threads. Searches keep working meanwhile (reader connections, WAL); a second ingest
/// never runs concurrently (the ingest lock). An ingest that fails is reported through `onFailure` (logged and
/// counted by the server) and tried again at the next change, or at the next interval when another ingest held
/// the lock.
final class FolderWatcher: @unchecked Sendable {
    let kb: KnowledgeBase
    let interval: Double
    let onIngest: @Sendable (IngestSummary) -> Void
    let onFailure: @Sendable (KBError) -> Void

    init(kb: KnowledgeBase, interval: Double, onIngest: @escaping @Sendable (IngestSummary) -> Void,
         onFailure: @escaping @Sendable (KBError) -> Void) {
        self.kb = kb
        self.interval = interval
        self.onIngest = onIngest
        self.onFailure = onFailure
    }

    struct Snapshot: Equatable, Sendable {
        var files = 0
        var bytes = 0
        var newest = 0.0
    }

    static func snapshot(_ folders: [String]) -> Snapshot {
        var snapshot = Snapshot()
        for folder in folders {
            guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: folder),
                                                              includingPropertiesForKeys: [.contentModificationDateKey, .fileSizeKey, .isRegularFileKey],
                                                              options: [.skipsHiddenFiles]) else { continue }
            for case let url as URL in walker {
                guard let values = try? url.resourceValues(forKeys: [.contentModificationDateKey, .fileSizeKey, .isRegularFileKey]),
                      values.isRegularFile == true else { continue }
                snapshot.files += 1
                snapshot.bytes += values.fileSize ?? 0
                snapshot.newest = max(snapshot.newest, values.contentModificationDate?.timeIntervalSince1970 ?? 0)
            }
        }
        return snapshot
    }

    /// Runs until the task is cancelled.
    func run() async {
        let folders = kb.configuration.knowledgeFolders
        // Walking the folders is blocking I/O: kb's own threads, not the cooperative pool.
        var settled = await BlockingPool.shared.run { Self.snapshot(folders) }
        var pending: Snapshot?
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
            if Task.isCancelled { break }
            let now = await BlockingPool.shared.run { Self.snapshot(folders) }
            if now == settled { pending = nil; continue }
            if now != pending { pending = now; continue }   // still changing: wait one more interval
            do {
                onIngest(try await kb.ingest())
            } catch where error.code == .ingestInProgress {
                onFailure(error)
                continue   // another ingest holds the lock: look again next interval
            } catch {
                onFailure(error)
            }
            settled = now
            pending = nil
        }
    }
}
