import NIOPosix
import Synchronization

/// The storage's single writer thread and its prepared statements.
///
/// `commit` runs only on the writer thread (through `schedule`), so the SQLite handle is never shared.
final class Writer: @unchecked Sendable {
    private let db: SQLiteDatabase
    private let pool: NIOThreadPool
    private let upsert: SQLiteDatabase.Statement
    private let remove: SQLiteDatabase.Statement
    private let append: SQLiteDatabase.Statement
    private let setRevision: SQLiteDatabase.Statement
    private let compact: SQLiteDatabase.Statement

    init(db: SQLiteDatabase) throws(SQLiteError) {
        self.db = db
        upsert = try db.prepare(
            "INSERT INTO objects(key, rv, value) VALUES(?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET rv = ?2, value = ?3")
        remove = try db.prepare("DELETE FROM objects WHERE key = ?1")
        append = try db.prepare("INSERT INTO log(rv, key, type, value) VALUES(?1, ?2, ?3, ?4)")
        setRevision = try db.prepare(
            "INSERT INTO meta(name, value) VALUES('revision', ?1) ON CONFLICT(name) DO UPDATE SET value = ?1")
        compact = try db.prepare("DELETE FROM log WHERE rv <= ?1")
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    /// Runs `work` on the writer thread.
    func schedule(_ work: @escaping @Sendable () -> Void) {
        pool.submit { state in
            if case .active = state { work() }
        }
    }

    /// Writes the events in one transaction (objects table, change log, revision), then trims the log up to
    /// `compactBefore` when given. Runs on the writer thread.
    func commit(_ events: [WatchEvent], compactBefore: Int64?) throws(SQLiteError) {
        try db.execute("BEGIN IMMEDIATE")
        do throws(SQLiteError) {
            for event in events {
                let flat = event.key.description
                if event.kind == .deleted {
                    remove.bind(1, flat)
                    _ = try remove.step()
                    remove.reset()
                } else {
                    upsert.bind(1, flat)
                    upsert.bind(2, event.object.revision)
                    upsert.bind(3, event.object.bytes)
                    _ = try upsert.step()
                    upsert.reset()
                }
                append.bind(1, event.object.revision)
                append.bind(2, flat)
                append.bind(3, event.kind.rawValue)
                append.bind(4, event.object.bytes)
                _ = try append.step()
                append.reset()
            }
            if let last = events.last {
                setRevision.bind(1, last.object.revision)
                _ = try setRevision.step()
                setRevision.reset()
            }
            if let compactBefore {
                compact.bind(1, compactBefore)
                _ = try compact.step()
                compact.reset()
            }
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            upsert.reset()
            remove.reset()
            append.reset()
            throw error
        }
    }

    /// Finishes queued work and stops the thread.
    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
