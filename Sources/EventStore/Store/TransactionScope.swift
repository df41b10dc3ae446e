/// Which store's transaction the current task is inside, so that backends can refuse nesting the
/// same way (a nested transaction would deadlock on a single-writer database, or silently escape it).
package enum TransactionScope {
    @TaskLocal private static var current: ObjectIdentifier?

    /// `true` when the current task runs inside a transaction's closure.
    package static var isInTransaction: Bool { current != nil }

    /// Throws `nestedTransaction` when the current task is already inside a transaction.
    package static func checkCanBegin() throws(EventStoreError) {
        if current != nil {
            throw EventStoreError(code: .nestedTransaction, reason: "a transaction cannot be started inside another one")
        }
    }

    /// Throws `nestedTransaction` when the current task is inside a transaction of `store`: its writes
    /// must go through the transaction's store.
    package static func checkOutsideTransaction(of store: ObjectIdentifier) throws(EventStoreError) {
        if current == store {
            throw EventStoreError(
                code: .nestedTransaction,
                reason: "inside a transaction, write through the store passed to the transaction's closure")
        }
    }

    /// Runs `body` marked as inside a transaction of `store`.
    package static func run<T>(in store: ObjectIdentifier, _ body: () async throws -> T) async throws -> T {
        try await $current.withValue(store) { try await body() }
    }
}
