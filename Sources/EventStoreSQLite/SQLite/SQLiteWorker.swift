import EventStoreSQL

/// A SQLite connection with a serial queue of its own: every blocking SQLite call runs there, never on
/// Swift's cooperative thread pool, and one job at a time.
typealias SQLiteWorker = BlockingWorker<SQLiteConnection>
